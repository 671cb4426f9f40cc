"""A LiteLLM proxy guardrail that enforces distillguard decisions before each call.

Three lines in the proxy's ``config.yaml`` (``mode: pre_call``, ``default_on: true``)::

    guardrails:
      - guardrail_name: distillguard
        litellm_params: {guardrail: distillguard.gateways.litellm_guardrail.DistillguardGuardrail, mode: pre_call, default_on: true}

In-process by default (policy, state, verdicts from the ``DISTILLGUARD_*`` environment,
see :mod:`distillguard.online.setup`); with ``api_base: http://host:8787`` it asks a
running ``distillguard serve`` instead. Effects on the call:

* throttle -> 429 with ``retry-after``; block -> 403; verify -> 403 with code
  ``verification_required`` (OpenAI-style error bodies, as the proxy speaks them);
* degrade -> the request is rewritten before it reaches the model (max tokens capped,
  thinking / reasoning effort dropped, ``n`` = 1, no logprobs, smaller model);
* allow / monitor -> unchanged;
* a decision with ``mark`` (policy section ``mark``) -> the answer is watermarked on the
  way back (lexical mark, :mod:`distillguard.watermark.serving`); this needs the
  post-call hooks, so name both modes: ``mode: [pre_call, post_call]``. The secret comes
  from the policy's ``mark.key_env`` / ``mark.key_file`` in-process, or from the
  guardrail's ``mark_key_env`` / ``mark_key_file`` with ``api_base``. Streamed answers to
  marked accounts are held back and sent marked when the stream ends.

When the decision service cannot be reached, ``fail_open`` (default true) lets the call
through; set it false to refuse with 503.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.proxy._types import ProxyException

from ..online.degrade import Rewrite, apply_rewrite
from ..online.responses import refusal_for
from ._litellm_common import MARK, context_from_litellm, metadata_of, shared_enforcer

__all__ = ["DistillguardGuardrail"]

log = logging.getLogger(__name__)

_CALL_TYPES = ("completion", "acompletion", "anthropic_messages", "text_completion")


class DistillguardGuardrail(CustomGuardrail):
    """``CustomGuardrail`` running distillguard's ``decide`` in the pre-call hook."""

    def __init__(
        self,
        api_base: str | None = None,
        trust_account_header: bool = True,
        fail_open: bool = True,
        timeout_s: float = 0.5,
        mark_key_env: str | None = "DISTILLGUARD_WATERMARK_KEY",
        mark_key_file: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.api_base = api_base.rstrip("/") if api_base else None
        self.trust_account_header = trust_account_header
        self.fail_open = fail_open
        self.timeout_s = timeout_s
        self._client: Any = None
        self.mark_key_env = mark_key_env
        self.mark_key_file = mark_key_file
        super().__init__(**kwargs)

    async def _decide_http(self, payload: dict[str, Any]) -> dict[str, Any]:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout_s, headers={"content-type": "application/json"}
            )
        r = await self._client.post(f"{self.api_base}/v1/decide", content=orjson.dumps(payload))
        r.raise_for_status()
        return dict(r.json())

    async def async_pre_call_hook(
        self,
        user_api_key_dict: Any,
        cache: Any,
        data: dict[str, Any],
        call_type: Any,
    ) -> dict[str, Any] | None:
        """Decide; refuse with a 429/403 or return the (possibly rewritten) request."""
        if str(call_type) not in _CALL_TYPES:
            return data
        ctx = context_from_litellm(
            data, user_api_key_dict, str(call_type), trust_header=self.trust_account_header
        )
        metadata_of(data)[MARK] = {
            "account_id": ctx.account_id,
            "api": ctx.api,
            "client_ip": ctx.client_ip,
            "user_agent": ctx.user_agent,
            "headers": ctx.headers,
            "api_key_id": ctx.api_key_id,
            "org_id": ctx.org_id,
        }
        if self.api_base is None:
            decision = shared_enforcer().decide(ctx)
            action, rewrite, mark = decision.action, decision.rewrite, decision.mark
            refusal = refusal_for(decision, ctx.api)
            refusal_d = refusal.to_dict() if refusal is not None else None
        else:
            try:
                out = await self._decide_http(ctx.to_native())
            except Exception as exc:
                log.warning("distillguard service unreachable: %s", exc)
                if self.fail_open:
                    return data
                raise ProxyException(
                    message="Request screening is unavailable; retry shortly.",
                    type="service_unavailable",
                    param=None,
                    code=503,
                    headers={"retry-after": "1"},
                ) from None
            action, mark = out["action"], out.get("mark")
            rewrite = Rewrite(**out["rewrite"]) if out.get("rewrite") else None
            refusal_d = out.get("refusal")
        if refusal_d is not None:
            body = refusal_d["body"]
            err = body.get("error", {})
            raise ProxyException(
                message=str(err.get("message", action)),
                type=str(err.get("type", "permission_denied")),
                param=None,
                code=int(refusal_d["status"]),
                headers=dict(refusal_d.get("headers") or {}),
                openai_code=err.get("code") or err.get("type"),
                # the proxy always reports the HTTP status as `code`; ours travels here
                provider_specific_fields={
                    "distillguard": {"action": action, "code": err.get("code") or err.get("type")}
                },
            )
        if mark:
            metadata_of(data)[MARK]["mark"] = mark
        if action == "degrade" and rewrite is not None:
            new = apply_rewrite(data, ctx.api, rewrite)
            for key in [k for k in data if k not in new]:
                del data[key]
            data.update(new)
        return data

    def _mark_secret(self, data: dict[str, Any]) -> str | None:
        """The secret when this call's decision asked for the lexical mark, else None."""
        info = metadata_of(data).get(MARK)
        if not isinstance(info, dict) or info.get("mark") != "lexical":
            return None
        from ..watermark.serving import resolve_key

        try:
            if self.api_base is None:
                spec = shared_enforcer().policy.mark
                return resolve_key(spec.key_env, spec.key_file)
            return resolve_key(self.mark_key_env, self.mark_key_file)
        except Exception as exc:  # a missing key must not fail the call: say so loudly
            log.error("distillguard: answer left unmarked: %s", exc)
            return None

    async def async_post_call_success_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, response: Any
    ) -> Any:
        """Watermark the answer when the decision said ``mark``; otherwise leave it as is."""
        secret = self._mark_secret(data)
        if secret is None:
            return response
        from ..watermark.serving import mark_response

        return mark_response(response, secret)

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any]
    ) -> AsyncGenerator[Any, None]:
        """Pass streams through; a stream to be marked is held and sent marked at its end."""
        secret = self._mark_secret(request_data)
        if secret is None:
            async for chunk in response:
                yield chunk
            return
        from ..watermark.serving import StreamMarker

        marker, held = StreamMarker(secret), []
        async for chunk in response:
            marker.push(chunk)
            held.append(chunk)
        marker.finish()
        for chunk in held:
            yield chunk
