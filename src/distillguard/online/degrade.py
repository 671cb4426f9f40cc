"""Degrade: the concrete rewrite that makes an answer less useful for training.

A degraded request is still served, but capped: fewer output tokens, no extended
thinking or reasoning effort, one completion instead of ``n``, no log-probabilities,
and optionally a smaller model. :func:`plan_rewrite` says what would change for this
request (nothing is listed that the request did not ask for); :func:`apply_rewrite`
returns the rewritten body in the caller's API dialect.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..policy.model import DegradeSpec
from .context import RequestContext

__all__ = ["Rewrite", "apply_rewrite", "plan_rewrite"]

_OPENAI = "openai.chat_completions"


@dataclass(frozen=True, slots=True)
class Rewrite:
    """What a degrade changes in one request; ``None`` / ``False`` means unchanged."""

    max_tokens: int | None = None
    drop_thinking: bool = False
    drop_reasoning_effort: bool = False
    force_single_choice: bool = False
    drop_logprobs: bool = False
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Only the fields that change something."""
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}

    @property
    def empty(self) -> bool:
        """True when the rewrite changes nothing."""
        return not self.to_dict()


def plan_rewrite(context: RequestContext, spec: DegradeSpec) -> Rewrite:
    """The rewrite ``spec`` calls for on this request."""
    body = context.body
    asked = context.max_tokens
    cap = spec.max_tokens if asked is None or asked > spec.max_tokens else None
    thinking = body.get("thinking")
    has_thinking = isinstance(thinking, dict) and thinking.get("type") not in (None, "disabled")
    n = body.get("n")
    model = context.model
    routed = spec.route_models.get(model) if model else None
    return Rewrite(
        max_tokens=cap,
        drop_thinking=spec.drop_thinking and has_thinking,
        drop_reasoning_effort=spec.drop_reasoning_effort and "reasoning_effort" in body,
        force_single_choice=spec.force_single_choice and isinstance(n, int) and n > 1,
        drop_logprobs=spec.drop_logprobs and bool(body.get("logprobs") or body.get("top_logprobs")),
        model=routed if routed and routed != model else None,
    )


def apply_rewrite(body: dict[str, Any], api: str, rewrite: Rewrite) -> dict[str, Any]:
    """A copy of ``body`` with ``rewrite`` applied for ``api`` (the input is not changed)."""
    out = dict(body)
    if rewrite.max_tokens is not None:
        if api == _OPENAI:
            if "max_tokens" in out and "max_completion_tokens" not in out:
                out["max_tokens"] = rewrite.max_tokens
            else:
                out["max_completion_tokens"] = rewrite.max_tokens
                out.pop("max_tokens", None)
        else:
            out["max_tokens"] = rewrite.max_tokens
    if rewrite.drop_thinking:
        out.pop("thinking", None)
    if rewrite.drop_reasoning_effort:
        out.pop("reasoning_effort", None)
    if rewrite.force_single_choice:
        out["n"] = 1
    if rewrite.drop_logprobs:
        out.pop("logprobs", None)
        out.pop("top_logprobs", None)
    if rewrite.model:
        out["model"] = rewrite.model
    return out
