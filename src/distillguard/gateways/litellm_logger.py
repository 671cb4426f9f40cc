"""A LiteLLM ``CustomLogger`` that feeds each served call to distillguard's ``observe``.

Register it next to the guardrail in the proxy's ``config.yaml``::

    litellm_settings:
      callbacks: ["distillguard.gateways.litellm_logger.distillguard_logger"]

In-process (sharing the guardrail's state) by default; with ``DISTILLGUARD_URL`` set it
posts to that service's ``/v1/observe``. Observing happens off the request path (in a
worker thread, or over HTTP) and never fails a call.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import orjson
from litellm.integrations.custom_logger import CustomLogger

from ..online.context import RequestContext
from ._litellm_common import MARK, REQUEST_FIELDS, shared_enforcer

__all__ = ["DistillguardLogger", "distillguard_logger"]

log = logging.getLogger(__name__)


def _usage(response_obj: Any) -> dict[str, Any]:
    usage = getattr(response_obj, "usage", None)
    if usage is None and isinstance(response_obj, dict):
        usage = response_obj.get("usage")
    if usage is None:
        return {}
    if hasattr(usage, "model_dump"):
        usage = usage.model_dump()
    return {k: v for k, v in dict(usage).items() if isinstance(v, int | float)}


class DistillguardLogger(CustomLogger):
    """Observes every successful call (usage included) into the account's online state."""

    def __init__(self, api_base: str | None = None, **kwargs: Any) -> None:
        self.api_base = (api_base or os.environ.get("DISTILLGUARD_URL") or "").rstrip("/") or None
        self._client: Any = None
        super().__init__(**kwargs)

    @staticmethod
    def exchange_of(kwargs: dict[str, Any], response_obj: Any) -> dict[str, Any] | None:
        """The native exchange record of a logged call, or ``None`` when not ours."""
        params = kwargs.get("litellm_params") or {}
        md = params.get("metadata") or kwargs.get("metadata") or {}
        mark = md.get(MARK) if isinstance(md, dict) else None
        if not isinstance(mark, dict):
            return None
        body = {k: v for k, v in kwargs.items() if k in REQUEST_FIELDS}
        body.update(
            {k: v for k, v in (kwargs.get("optional_params") or {}).items() if k in REQUEST_FIELDS}
        )
        body.setdefault("model", kwargs.get("model"))
        usage = _usage(response_obj)
        return {
            "id": kwargs.get("litellm_call_id"),
            "account_id": mark["account_id"],
            "org_id": mark.get("org_id"),
            "api_key_id": mark.get("api_key_id"),
            "client": {
                "ip": mark.get("client_ip"),
                "user_agent": mark.get("user_agent"),
                "headers": mark.get("headers") or {},
            },
            "api": mark.get("api") or "openai.chat_completions",
            "request": body,
            "response": {"status": 200, "usage": usage},
        }

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Observe one served call; errors are logged, never raised."""
        try:
            rec = self.exchange_of(kwargs, response_obj)
            if rec is None:
                return
            if self.api_base is not None:
                import httpx

                if self._client is None:
                    self._client = httpx.AsyncClient(
                        timeout=2.0, headers={"content-type": "application/json"}
                    )
                await self._client.post(f"{self.api_base}/v1/observe", content=orjson.dumps(rec))
                return
            ctx = RequestContext.from_native(rec)
            enforcer = shared_enforcer()
            await asyncio.to_thread(enforcer.observe_many, [(ctx, rec["response"])])
        except Exception as exc:  # a logger must never break the proxy
            log.warning("distillguard observe failed: %s", exc)


#: The instance to name in ``litellm_settings.callbacks``.
distillguard_logger = DistillguardLogger()
