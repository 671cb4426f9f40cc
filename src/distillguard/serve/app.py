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

``/v1/decide`` and ``/v1/observe`` are answered by a lean ASGI path (:mod:`.fast`);
handlers only parse, call and serialise; the decision itself is
:func:`distillguard.online.decide`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel

from .. import __version__
from ..online.engine import Enforcer, VerdictWatcher
from .fast import Answer, DecisionApp, ServiceCore, decision_payload
from .metrics import ServiceMetrics
from .models import (
    ClientInfo,
    DecideRequest,
    DecideResponse,
    ObserveRequest,
    RefusalOut,
    VerifyRequest,
)

__all__ = [
    "ClientInfo",
    "DecideRequest",
    "DecideResponse",
    "ObserveRequest",
    "RefusalOut",
    "app_from_env",
    "create_app",
    "decision_payload",
]


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
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "invalid request: the field and why, as FastAPI reports it"}
}


def _response(answer: Answer) -> Response:
    """A lean-path answer as a Starlette response (the FastAPI routes' fallback)."""
    status, headers, body = answer
    out = Response(body, status_code=status)
    out.raw_headers = [(b"content-length", str(len(body)).encode()), *headers]
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
    core = ServiceCore(enforcer, metrics, verify_url=verify_url, observe_batch=observe_batch)

    async def drain_loop() -> None:
        while True:
            await asyncio.sleep(observe_every_s)
            core.drain()

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
        core.drain()
        enforcer.state.close()

    app = DecisionApp(
        title="distillguard decision service",
        version=__version__,
        description="Online enforcement against distillation campaigns.",
        lifespan=lifespan,
    )
    app.state.enforcer = enforcer
    app.state.metrics = metrics
    app.state.core = core
    app.lean_routes.update({"/v1/decide": core.decide, "/v1/observe": core.observe})

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

    # These two routes describe the lean path in the spec and answer what it does not
    # match exactly; both call the same ServiceCore, so the answers are identical.
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
        return _response(core.decide(request.scope["query_string"], await request.body()))

    @app.post(
        "/v1/observe",
        status_code=202,
        responses={**_INVALID, 202: {"description": "queued (or observed, with sync=true)"}},
        openapi_extra={**_request_body(ObserveRequest), "parameters": [_SYNC_PARAM]},
        summary="Record a served exchange (usage after the response); batched",
    )
    async def post_observe(request: Request) -> Response:
        return _response(core.observe(request.scope["query_string"], await request.body()))

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

    add_envoy_routes(app, enforcer, run_decide=core.run_decide, verify_url=verify_url)
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
