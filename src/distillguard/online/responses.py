"""What a gateway returns to the caller for a refused request, in the caller's API dialect.

OpenAI clients expect ``{"error": {"message", "type", "param", "code"}}``; Anthropic
clients expect ``{"type": "error", "error": {"type", "message"}}``. A throttle is a 429
with ``retry-after``; a block a 403; a verification challenge a 403 whose code says that
verification is required (and where to do it, when the operator configured a URL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .decide import Decision

__all__ = ["Refusal", "refusal_for"]

_MESSAGES = {
    "throttle": "Rate limit exceeded for this account. Retry after {retry} seconds.",
    "block": "This account is not permitted to use this API. Contact support to appeal.",
    "verify": "Additional verification of this account is required before further use.",
}
_OPENAI = {
    "throttle": ("rate_limit_exceeded", "rate_limit_exceeded"),
    "block": ("permission_denied", "account_blocked"),
    "verify": ("permission_denied", "verification_required"),
}
_ANTHROPIC = {
    "throttle": "rate_limit_error",
    "block": "permission_error",
    "verify": "permission_error",
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Status, headers and JSON body a gateway sends instead of serving the request."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"status": self.status, "headers": dict(self.headers), "body": self.body}


def refusal_for(decision: Decision, api: str, *, verify_url: str | None = None) -> Refusal | None:
    """The refusal for a throttle, block or verify decision; ``None`` for the rest."""
    action: str = decision.action
    if action not in _MESSAGES:
        return None
    retry = decision.retry_after_s or 1
    msg = _MESSAGES[action].format(retry=retry)
    if action == "verify" and verify_url:
        msg += f" Verify at {verify_url}"
    status = 429 if action == "throttle" else 403
    headers: dict[str, str] = {"x-distillguard-action": action}
    if action == "throttle":
        headers["retry-after"] = str(retry)
    if api == "anthropic.messages":
        body: dict[str, Any] = {
            "type": "error",
            "error": {"type": _ANTHROPIC[action], "message": msg},
        }
    else:
        etype, code = _OPENAI[action]
        body = {"error": {"message": msg, "type": etype, "param": None, "code": code}}
    return Refusal(status=status, body=body, headers=headers)
