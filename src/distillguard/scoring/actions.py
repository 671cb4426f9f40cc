"""From risk to the action of the verdict contract, aware of the account's type.

The ladder is allow < monitor < throttle < verify < degrade < block. Programmes that
abusers sign up through (education, research, startup) are asked to verify before
anything stronger: a real class or lab passes verification, a throwaway account does
not. Enterprise accounts (contracted, KYB-verified) are monitored and escalated to a
human rather than cut off by a batch job.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..contracts import Action

__all__ = ["ActionPolicy", "choose_action"]

_VERIFY_FIRST = frozenset({"education", "research", "startup"})


@dataclass(frozen=True)
class ActionPolicy:
    """Risk thresholds for each action and for flagging."""

    flag: float = 0.5
    monitor: float = 0.3
    throttle: float = 0.5
    verify: float = 0.65
    degrade: float = 0.8
    block: float = 0.92


def choose_action(
    risk: float,
    account_type: str | None,
    *,
    verification: str | None = None,
    policy: ActionPolicy | None = None,
) -> Action:
    """The action for an account with ``risk`` and registry ``account_type``."""
    p = policy or ActionPolicy()
    action: Action = "allow"
    for name, thr in (
        ("monitor", p.monitor),
        ("throttle", p.throttle),
        ("verify", p.verify),
        ("degrade", p.degrade),
        ("block", p.block),
    ):
        if risk >= thr:
            action = name  # type: ignore[assignment]
    if account_type == "enterprise" and action != "allow":
        return "monitor"
    if (
        account_type in _VERIFY_FIRST
        and action in ("degrade", "block")
        and verification not in ("id", "kyb")
    ):
        return "verify"
    return action
