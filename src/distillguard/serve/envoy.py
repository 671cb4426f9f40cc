"""Envoy ``ext_authz`` in HTTP mode: Envoy asks us before it forwards a request.

Configure Envoy's ``envoy.filters.http.ext_authz`` with ``http_service`` pointing at this
service and ``path_prefix: /envoy/authz`` (and ``with_request_body`` so the body is
sent along). Envoy forwards the original method, path and headers under that prefix:

* allow / monitor / degrade -> ``200`` (Envoy forwards the request); the decision is in
  ``x-distillguard-action`` / ``x-distillguard-risk`` and, for degrade, the rewrite in
  ``x-distillguard-rewrite`` (JSON), for a later filter to apply: ext_authz itself
  cannot change the body. List these in ``allowed_upstream_headers``.
* throttle / block / verify -> ``429`` / ``403`` with the OpenAI- or Anthropic-shaped
  error body and ``retry-after``: Envoy returns them to the caller as they are.

The account is the ``x-distillguard-account`` header (set by the auth filter in front),
else a keyed hash of the API key (``DISTILLGUARD_HASH_KEY``), never the key itself.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ..errors import InputError
from ..online.context import RequestContext
from ..online.decide import Decision
from ..online.engine import Enforcer
from ..online.responses import refusal_for

__all__ = ["ACCOUNT_HEADER", "account_from_headers", "add_envoy_routes"]

#: Header an upstream auth filter sets to the billing account id.
ACCOUNT_HEADER = "x-distillguard-account"


def account_from_headers(headers: dict[str, str]) -> str | None:
    """The account id: the account header, else a keyed hash of the API key."""
    acct = headers.get(ACCOUNT_HEADER)
    if acct:
        return acct
    key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
    if not key:
        return None
    secret = os.environ.get("DISTILLGUARD_HASH_KEY", "distillguard").encode()
    return "key_" + hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()[:20]


def add_envoy_routes(
    app: FastAPI,
    enforcer: Enforcer,
    *,
    run_decide: Callable[[Any], tuple[RequestContext, Decision]],
    verify_url: str | None,
) -> None:
    """Mount ``/envoy/authz/{path}`` on ``app``."""

    @app.api_route(
        "/envoy/authz/{path:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        include_in_schema=False,
    )
    async def envoy_authz(path: str, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        account = account_from_headers(headers)
        if account is None:
            return Response(
                orjson.dumps({"error": {"message": "no account", "code": "unauthenticated"}}),
                status_code=401,
                media_type="application/json",
            )
        api = (
            "anthropic.messages"
            if path.rstrip("/").endswith("messages")
            else ("openai.chat_completions")
        )
        raw = await request.body()
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        from .app import DecideRequest

        try:
            req = DecideRequest.model_validate(
                {
                    "timestamp": time.time(),
                    "account_id": account,
                    "client": {
                        "ip": headers.get("x-forwarded-for", "").split(",")[0].strip() or None,
                        "user_agent": headers.get("user-agent"),
                        "headers": headers,
                    },
                    "api": api,
                    "request": body,
                }
            )
            ctx, decision = run_decide(req)
        except (ValidationError, InputError, ValueError) as exc:
            return Response(
                orjson.dumps({"error": {"message": str(exc), "code": "bad_request"}}),
                status_code=400,
                media_type="application/json",
            )
        refusal = refusal_for(decision, ctx.api, verify_url=verify_url)
        if refusal is not None:
            return Response(
                orjson.dumps(refusal.body),
                status_code=refusal.status,
                headers={**refusal.headers, "x-distillguard-risk": f"{decision.risk:.4f}"},
                media_type="application/json",
            )
        out = {
            "x-distillguard-action": decision.action,
            "x-distillguard-risk": f"{decision.risk:.4f}",
        }
        if decision.rewrite is not None:
            out["x-distillguard-rewrite"] = orjson.dumps(decision.rewrite.to_dict()).decode()
        return Response(status_code=200, headers=out)
