"""The lean request path of ``/v1/decide`` and ``/v1/observe``.

Both routes carry every request a gateway sends, so they are answered by a few lines of
plain ASGI instead of FastAPI's routing, middleware stack, dependency solving and
response classes (which cost more CPU than the decision itself). The rest of the
service (``/docs``, ``/openapi.json``, ``/healthz``, ``/metrics``, ``/v1/verify``,
``/v1/reload``, Envoy) stays on FastAPI, and FastAPI keeps the two routes too: they are
described in the OpenAPI spec with their request and response models, and serve any
request the lean path does not match exactly (a ``root_path`` prefix, another method).

:class:`ServiceCore` holds the work shared by both paths (validation straight from the
body bytes with pydantic-core, the decision, the answer as ``orjson`` bytes); the
answers are the same either way, 422s included (``loc`` names the field as FastAPI
does: ``["body", "client", "ip"]``, ``["query", "enforce"]``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI
from pydantic import ValidationError

from ..errors import InputError
from ..online.context import RequestContext, clean_headers, parse_timestamp
from ..online.decide import Decision
from ..online.degrade import apply_rewrite
from ..online.engine import Enforcer
from ..online.responses import refusal_for
from .metrics import ServiceMetrics
from .models import DecideRequest, ObserveRequest

__all__ = ["DecisionApp", "ServiceCore", "decision_payload"]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
#: status, headers (ASGI byte pairs, content-type included), body
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
Handler = Callable[[bytes, bytes], Answer]

_JSON = (b"content-type", b"application/json")
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
#: Largest request body the lean path reads (a long conversation with images fits).
MAX_BODY_BYTES = 32 * 1024 * 1024


def query_flag(query: bytes, name: str) -> bool:
    """A boolean query parameter read as FastAPI reads one; false when absent.

    Raises :class:`InputError` (a 422 naming the parameter) for anything else.
    """
    if not query:
        return False
    value = None
    for key, val in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if key == name:
            value = val  # the last one wins, as in Starlette's QueryParams
    if value is None:
        return False
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InputError("bad_query", f"{name} must be a boolean, not {value!r}", field=name)


def json_answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> Answer:
    """An answer with a JSON body."""
    out = [_JSON]
    if headers:
        out.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    return status, out, orjson.dumps(payload)


def bad_request(exc: ValidationError | InputError | ValueError) -> Answer:
    """A 422 whose ``detail`` names the field, in FastAPI's shape."""
    if isinstance(exc, ValidationError):
        detail: Any = orjson.loads(exc.json(include_url=False, include_input=False))
        for err in detail:  # locations as FastAPI reports them: under "body"
            err["loc"] = ["body", *err.get("loc", [])]
    else:
        field = getattr(exc, "field", None)
        where = "query" if getattr(exc, "reason", "") == "bad_query" else "body"
        loc = [where, field] if field else [where]
        detail = [{"loc": loc, "msg": str(exc), "type": "value_error"}]
    return json_answer(422, {"detail": detail})


def request_context(req: DecideRequest, now: float) -> RequestContext:
    """The validated request as a context (no second validation pass, no copies)."""
    client = req.client
    return RequestContext(
        account_id=req.account_id,
        api=req.api,
        body=req.request,
        ts=parse_timestamp(req.timestamp) if req.timestamp is not None else now,
        request_id=req.id,
        org_id=req.org_id,
        api_key_id=req.api_key_id,
        access_path=req.access_path,
        client_ip=client.ip,
        user_agent=client.user_agent,
        headers=clean_headers(client.headers) if client.headers else {},
    )


def decision_payload(
    ctx: RequestContext, decision: Decision, verify_url: str | None
) -> dict[str, Any]:
    """The ``DecideResponse`` body for a decision."""
    out = decision.to_dict()
    refusal = refusal_for(decision, ctx.api, verify_url=verify_url)
    out["refusal"] = refusal.to_dict() if refusal is not None else None
    out["rewritten_request"] = (
        apply_rewrite(ctx.body, ctx.api, decision.rewrite) if decision.rewrite is not None else None
    )
    return out


class ServiceCore:
    """Decide and observe from raw bodies; what both request paths call."""

    def __init__(
        self,
        enforcer: Enforcer,
        metrics: ServiceMetrics,
        *,
        verify_url: str | None = None,
        observe_batch: int = 512,
    ) -> None:
        self.enforcer = enforcer
        self.metrics = metrics
        self.verify_url = verify_url
        self.observe_batch = observe_batch
        #: served exchanges waiting to be observed (one Arrow batch per drain)
        self.pending: list[tuple[RequestContext, dict[str, Any]]] = []

    # ------------------------------------------------------------------ decide
    def run_decide(self, req: DecideRequest) -> tuple[RequestContext, Decision]:
        """Decide a validated request; counts it in the metrics."""
        t0 = time.perf_counter()
        enforcer = self.enforcer
        ctx = request_context(req, time.time())
        errors_before = enforcer.state_errors
        decision = enforcer.decide(ctx)
        self.metrics.observe_decision(decision, time.perf_counter() - t0)
        if enforcer.state_errors != errors_before:
            self.metrics.state_errors.inc(enforcer.state_errors - errors_before)
        return ctx, decision

    def decide(self, query: bytes, body: bytes) -> Answer:
        """``POST /v1/decide``: the decision, or with ``enforce=true`` the refusal itself."""
        try:
            enforce = query_flag(query, "enforce")
            req = DecideRequest.model_validate_json(body)
            ctx, decision = self.run_decide(req)
        except (ValidationError, InputError, ValueError) as exc:
            return bad_request(exc)
        payload = decision_payload(ctx, decision, self.verify_url)
        refusal = payload["refusal"]
        if refusal is not None and enforce:
            return json_answer(refusal["status"], refusal["body"], refusal["headers"])
        return 200, [_JSON], orjson.dumps(payload)

    # ------------------------------------------------------------------ observe
    def observe(self, query: bytes, body: bytes) -> Answer:
        """``POST /v1/observe``: queue the served exchange (observe now with ``sync=true``)."""
        try:
            sync = query_flag(query, "sync")
            req = ObserveRequest.model_validate_json(body)
            ctx = request_context(req, time.time())
        except (ValidationError, InputError, ValueError) as exc:
            return bad_request(exc)
        self.pending.append((ctx, req.response))
        if sync or len(self.pending) >= self.observe_batch:
            self.drain()
        return 202, [_JSON], orjson.dumps({"ok": True, "queued": len(self.pending)})

    def drain(self) -> int:
        """Observe what is pending, signals computed as one batch."""
        if not self.pending:
            return 0
        items = self.pending[:]
        del self.pending[:]
        enforcer, metrics = self.enforcer, self.metrics
        errors_before = enforcer.state_errors
        try:
            n = enforcer.observe_many(items)
        except Exception:  # one bad batch must not fail callers or stop observing
            log.exception("observe batch of %d failed", len(items))
            metrics.observe_errors.inc()
            return 0
        metrics.observed.inc(n)
        if enforcer.state_errors != errors_before:
            metrics.state_errors.inc(enforcer.state_errors - errors_before)
        return n


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass


async def _read_body(receive: Receive) -> bytes:
    msg = await receive()
    if msg["type"] != "http.request":
        raise _Gone
    body: bytes = msg.get("body", b"")
    if len(body) > MAX_BODY_BYTES:
        raise _TooLarge
    if not msg.get("more_body"):
        return body
    chunks, size = [body], len(body)
    while True:
        msg = await receive()
        if msg["type"] != "http.request":
            raise _Gone
        part = msg.get("body", b"")
        size += len(part)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(part)
        if not msg.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class DecisionApp(FastAPI):
    """FastAPI whose hot routes (``POST`` to an exact path) are served by plain ASGI."""

    #: exact path -> handler(query string, body) for ``POST`` requests
    lean_routes: dict[str, Handler]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lean_routes = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Lean path for the hot routes; FastAPI for everything else."""
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.lean_routes.get(scope["path"])
            if handler is not None:
                await self._lean(handler, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    @staticmethod
    async def _lean(handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read_body(receive)
        except _Gone:
            return
        except _TooLarge:
            await _answer(send, *json_answer(413, {"detail": "request body too large"}))
            return
        try:
            status, headers, content = handler(scope.get("query_string", b""), body)
        except Exception:  # as Starlette's error middleware: logged, a plain 500
            log.exception("%s failed", scope["path"])
            status, headers, content = (
                500,
                [(b"content-type", b"text/plain")],
                b"Internal Server Error",
            )
        await _answer(send, status, headers, content)
