"""What the LiteLLM guardrail and logger share: the account, the context, the enforcer."""

from __future__ import annotations

import threading
from typing import Any

from ..online.context import RequestContext
from ..online.engine import Enforcer

__all__ = [
    "ACCOUNT_HEADER",
    "MARK",
    "REQUEST_FIELDS",
    "account_of",
    "context_from_litellm",
    "metadata_of",
    "shared_enforcer",
]

#: Header naming the billing account, trusted only when the operator enables it.
ACCOUNT_HEADER = "x-distillguard-account"
#: Key under the request metadata where the guardrail leaves the context for the logger.
MARK = "distillguard"
#: Request body fields forwarded to the decision (LiteLLM adds its own keys to ``data``).
REQUEST_FIELDS = frozenset(
    {
        "model", "messages", "system", "tools", "tool_choice", "max_tokens",
        "max_completion_tokens", "thinking", "reasoning_effort", "n", "temperature",
        "top_p", "top_k", "seed", "logprobs", "top_logprobs", "stream", "response_format",
        "stop", "stop_sequences", "user", "safety_identifier",
    }
)  # fmt: skip

_lock = threading.Lock()
_enforcer: Enforcer | None = None


def shared_enforcer() -> Enforcer:
    """One in-process enforcer per LiteLLM process (guardrail and logger share it)."""
    global _enforcer
    with _lock:
        if _enforcer is None:
            from ..online.setup import enforcer_from_env

            _enforcer, _ = enforcer_from_env()
        return _enforcer


def metadata_of(data: dict[str, Any]) -> dict[str, Any]:
    """The request's metadata dict (``metadata`` or ``litellm_metadata``), created if absent."""
    for key in ("litellm_metadata", "metadata"):
        md = data.get(key)
        if isinstance(md, dict):
            return md
    md = data["metadata"] = {}
    return md


def _headers(data: dict[str, Any]) -> dict[str, str]:
    psr = data.get("proxy_server_request") or {}
    hdrs = psr.get("headers") if isinstance(psr, dict) else None
    if not isinstance(hdrs, dict):
        hdrs = metadata_of(data).get("headers") or {}
    return {str(k).lower(): str(v) for k, v in hdrs.items()}


def account_of(user_api_key_dict: Any, headers: dict[str, str], trust_header: bool) -> str:
    """The billing account: the trusted header, else LiteLLM's user, team or key."""
    if trust_header and headers.get(ACCOUNT_HEADER):
        return headers[ACCOUNT_HEADER]
    for attr, prefix in (("user_id", ""), ("team_id", "team:"), ("api_key", "key:")):
        value = getattr(user_api_key_dict, attr, None)
        if value:
            return f"{prefix}{value}"
    return "anonymous"


def context_from_litellm(
    data: dict[str, Any], user_api_key_dict: Any, call_type: str, *, trust_header: bool
) -> RequestContext:
    """The :class:`RequestContext` of a request as LiteLLM's pre-call hook sees it."""
    headers = _headers(data)
    api = "anthropic.messages" if "anthropic" in str(call_type) else "openai.chat_completions"
    body = {k: v for k, v in data.items() if k in REQUEST_FIELDS}
    md = metadata_of(data)
    ip = md.get("requester_ip_address") or None
    return RequestContext(
        account_id=account_of(user_api_key_dict, headers, trust_header),
        api=api,
        body=body,
        request_id=data.get("litellm_call_id"),
        org_id=getattr(user_api_key_dict, "org_id", None),
        api_key_id=getattr(user_api_key_dict, "token", None),
        client_ip=str(ip).split(",")[0].strip() if ip else None,
        user_agent=headers.get("user-agent"),
        headers={k: v for k, v in headers.items() if k.startswith(("x-stainless-", "anthropic-"))},
    )
