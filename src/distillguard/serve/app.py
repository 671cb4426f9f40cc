"""The decision service: FastAPI in front of an :class:`~distillguard.online.Enforcer`.

Endpoints (OpenAPI at ``/openapi.json``, docs at ``/docs``):

* ``POST /v1/decide``: a request (the native exchange record without ``response``) ->
  the decision, plus what the gateway should do: the refusal (status, headers, OpenAI- or
  Anthropic-shaped error body) for throttle / block / verify, the rewritten request body
  for degrade. With ``?enforce=true`` the service answers with that refusal itself.
* ``POST /v1/observe``: the exchange with its ``response`` (usage), after it was served.
* ``POST /v1/reload``: reload the scan's verdicts now (they are also reloaded when the
  files change); ``POST /v1/verify``: an account passed step-up verification.
* ``GET /healthz``, ``GET /metrics`` (Prometheus).
* ``/envoy/authz/...``: Envoy ``ext_authz`` HTTP mode (see :mod:`.envoy`).

Handlers only parse, call and serialise; the decision itself is
:func:`distillguard.online.decide`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from .. import __version__
from ..contracts import Action
from ..errors import InputError
from ..online.context import RequestContext, clean_headers, parse_timestamp
from ..online.decide import Decision
from ..online.degrade import apply_rewrite
from ..online.engine import Enforcer, VerdictWatcher
from ..online.responses import refusal_for
from .metrics import ServiceMetrics

log = logging.getLogger(__name__)

__all__ = [
    "ClientInfo",
    "DecideRequest",
    "DecideResponse",
    "ObserveRequest",
    "app_from_env",
    "create_app",
]


class ClientInfo(BaseModel):
    """The calling client as the gateway saw it."""

    model_config = ConfigDict(extra="ignore")
    ip: str | None = None
    user_agent: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class DecideRequest(BaseModel):
    """A request to decide: the native exchange record, ``response`` not needed."""

    model_config = ConfigDict(extra="ignore")
    id: str | None = Field(default=None, max_length=256)
    timestamp: datetime | StrictFloat | StrictInt | None = Field(
        default=None, description="RFC 3339 or epoch seconds; the server's clock when absent"
    )
    account_id: str = Field(min_length=1, max_length=256)
    org_id: str | None = None
    api_key_id: str | None = None
    access_path: str | None = None
    client: ClientInfo = Field(default_factory=ClientInfo)
    api: Literal["anthropic.messages", "openai.chat_completions"] = "openai.chat_completions"
    request: dict[str, Any] = Field(default_factory=dict)


class ObserveRequest(DecideRequest):
    """A served exchange: the native record with its ``response`` (status, usage)."""

    response: dict[str, Any] = Field(default_factory=dict)


class VerifyRequest(BaseModel):
    """An account that passed step-up verification."""

    account_id: str = Field(min_length=1, max_length=256)


class RefusalOut(BaseModel):
    """What the gateway returns to its caller instead of serving."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any]


class DecideResponse(BaseModel):
    """The decision and what the gateway should do with it."""

    action: Action
    risk: float
    tier: str
    reasons: list[str]
    contributions: list[dict[str, Any]]
    retry_after_s: int | None
    rewrite: dict[str, Any] | None
    alert: bool
    ttl_s: int | None
    campaign_id: str | None
    refusal: RefusalOut | None = None
    rewritten_request: dict[str, Any] | None = None


def _context(req: DecideRequest, now: float) -> RequestContext:
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


def _request_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI ``requestBody`` of a route that validates its raw body itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


_ENFORCE_PARAM = {
    "name": "enforce",
    "in": "query",
    "required": False,
    "description": "answer with the refusal",
    "schema": {"type": "boolean", "default": False},
}
_SYNC_PARAM = {
    "name": "sync",
    "in": "query",
    "required": False,
    "description": "observe before answering",
    "schema": {"type": "boolean", "default": False},
}


_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _flag(request: Request, name: str) -> bool:
    """A boolean query parameter as FastAPI reads one; false when absent.

    Raises :class:`InputError` (a 422 naming the parameter) for anything else.
    """
    value = request.query_params.get(name)
    if value is None:
        return False
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InputError("bad_query", f"{name} must be a boolean, not {value!r}", field=name)


_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "invalid request: the field and why, as FastAPI reports it"}
}


def _bad_request(exc: ValidationError | InputError | ValueError) -> JSONResponse:
    if isinstance(exc, ValidationError):
        detail: Any = orjson.loads(exc.json(include_url=False, include_input=False))
        for err in detail:  # locations as FastAPI reports them: under "body"
            err["loc"] = ["body", *err.get("loc", [])]
    else:
        field = getattr(exc, "field", None)
        where = "query" if getattr(exc, "reason", "") == "bad_query" else "body"
        loc = [where, field] if field else [where]
        detail = [{"loc": loc, "msg": str(exc), "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


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


def create_app(
    enforcer: Enforcer,
    *,
    watcher: VerdictWatcher | None = None,
    reload_every_s: float = 5.0,
    verify_url: str | None = None,
    observe_every_s: float = 0.2,
    observe_batch: int = 512,
) -> FastAPI:
    """Build the service around ``enforcer``; ``watcher`` reloads verdicts when they change."""
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry)

    pending: list[tuple[RequestContext, dict[str, Any]]] = []

    def drain() -> int:
        """Observe what is pending, signals computed as one batch."""
        if not pending:
            return 0
        items = pending[:]
        del pending[:]
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

    async def drain_loop() -> None:
        while True:
            await asyncio.sleep(observe_every_s)
            drain()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = None
        drainer = asyncio.create_task(drain_loop())
        if watcher is not None:
            watcher.reload()
            metrics.reloads.inc()

            async def poll() -> None:
                while True:
                    await asyncio.sleep(reload_every_s)
                    try:
                        if watcher.maybe_reload():
                            metrics.reloads.inc()
                    except Exception:  # a half-written file: keep the last good load
                        metrics.reload_errors.inc()

            task = asyncio.create_task(poll())
        yield
        if task is not None:
            task.cancel()
        drainer.cancel()
        drain()
        enforcer.state.close()

    app = FastAPI(
        title="distillguard decision service",
        version=__version__,
        description="Online enforcement against distillation campaigns.",
        lifespan=lifespan,
    )
    app.state.enforcer = enforcer
    app.state.metrics = metrics

    def openapi() -> dict[str, Any]:
        """The generated spec plus the request models the raw-body routes validate."""
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            for model in (DecideRequest, ObserveRequest):
                js = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in js.pop("$defs", {}).items():
                    schemas.setdefault(name, sub)
                schemas[model.__name__] = js
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    def run_decide(req: DecideRequest) -> tuple[RequestContext, Decision]:
        t0 = time.perf_counter()
        ctx = _context(req, time.time())
        errors_before = enforcer.state_errors
        decision = enforcer.decide(ctx)
        metrics.observe_decision(decision, time.perf_counter() - t0)
        if enforcer.state_errors != errors_before:
            metrics.state_errors.inc(enforcer.state_errors - errors_before)
        return ctx, decision

    @app.post(
        "/v1/decide",
        response_model=DecideResponse,
        responses={
            **_INVALID,
            403: {"description": "refused (enforce=true): block or verify"},
            429: {"description": "throttled (enforce=true), with retry-after"},
        },
        openapi_extra={
            **_request_body(DecideRequest),
            "parameters": [_ENFORCE_PARAM],
        },
        summary="Decide one request",
    )
    async def post_decide(request: Request) -> Response:
        # the body is validated by pydantic-core straight from bytes: FastAPI's
        # dependency solving and JSON decoding cost more than the decision itself
        try:
            enforce = _flag(request, "enforce")
            req = DecideRequest.model_validate_json(await request.body())
            ctx, decision = run_decide(req)
        except (ValidationError, InputError, ValueError) as exc:
            return _bad_request(exc)
        payload = decision_payload(ctx, decision, verify_url)
        refusal = payload["refusal"]
        if refusal is not None and enforce:
            return Response(
                orjson.dumps(refusal["body"]),
                status_code=refusal["status"],
                headers=refusal["headers"],
                media_type="application/json",
            )
        return Response(orjson.dumps(payload), media_type="application/json")

    @app.post(
        "/v1/observe",
        status_code=202,
        responses={**_INVALID, 202: {"description": "queued (or observed, with sync=true)"}},
        openapi_extra={**_request_body(ObserveRequest), "parameters": [_SYNC_PARAM]},
        summary="Record a served exchange (usage after the response); batched",
    )
    async def post_observe(request: Request) -> Response:
        try:
            sync = _flag(request, "sync")
            req = ObserveRequest.model_validate_json(await request.body())
            ctx = _context(req, time.time())
        except (ValidationError, InputError, ValueError) as exc:
            return _bad_request(exc)
        pending.append((ctx, req.response))
        if len(pending) >= observe_batch or sync:
            drain()
        return Response(
            orjson.dumps({"ok": True, "queued": len(pending)}),
            status_code=202,
            media_type="application/json",
        )

    @app.post(
        "/v1/verify",
        responses={400: {"description": "the body is not JSON"}},
        summary="An account passed step-up verification",
    )
    async def post_verify(body: VerifyRequest) -> dict[str, Any]:
        until = time.time() + enforcer.policy.ttl.verified_s
        enforcer.state.mark_verified(body.account_id, until)
        return {"ok": True, "verified_until": until}

    @app.post("/v1/reload", summary="Reload the scan's verdicts now")
    async def post_reload() -> dict[str, Any]:
        if watcher is None:
            return {"ok": False, "verdicts": 0, "detail": "no verdict folder configured"}
        n = watcher.reload()
        metrics.reloads.inc()
        return {"ok": True, "verdicts": n}

    @app.get("/healthz", summary="Liveness and state backend health")
    async def healthz() -> Response:
        ok = enforcer.state.healthy()
        body = {
            "status": "ok" if ok else "degraded",
            "state": "up" if ok else "down",
            "fail_mode": enforcer.policy.fail_mode,
            "policy": enforcer.policy.name,
            "verdicts": watcher.loaded if watcher is not None else 0,
        }
        return Response(
            orjson.dumps(body), status_code=200 if ok else 503, media_type="application/json"
        )

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    async def prom() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    from .envoy import add_envoy_routes

    add_envoy_routes(app, enforcer, run_decide=run_decide, verify_url=verify_url)
    return app


def app_from_env() -> FastAPI:
    """The service configured by the ``DISTILLGUARD_*`` environment (uvicorn ``--factory``).

    Used by ``distillguard serve --workers N``: every worker process builds its own app,
    so the state must be shared (Redis).
    """
    import os

    from ..online.setup import enforcer_from_env

    enforcer, watcher = enforcer_from_env()
    return create_app(
        enforcer, watcher=watcher, verify_url=os.environ.get("DISTILLGUARD_VERIFY_URL")
    )
