"""Online enforcement: a pure ``decide(context, state)`` and the state it reads.

The public pieces: :class:`RequestContext` (one request), :func:`decide` and
:class:`Decision`, the state backends :class:`MemoryState` and
:class:`~distillguard.online.redis_state.RedisState`, and :class:`Enforcer`, which wires
signals, state and the decision together for the service, gateways and replay.
"""

from __future__ import annotations

from .context import RequestContext
from .decide import Decision, decide
from .degrade import Rewrite, apply_rewrite, plan_rewrite
from .engine import Enforcer, VerdictWatcher, default_signals, read_accounts
from .memory import MemoryState
from .state import (
    AccountRecord,
    Enforcement,
    EnforcementState,
    Evidence,
    EvidenceSource,
    StateUnavailable,
    StateView,
)

__all__ = [
    "AccountRecord",
    "Decision",
    "Enforcement",
    "EnforcementState",
    "Enforcer",
    "Evidence",
    "EvidenceSource",
    "MemoryState",
    "RequestContext",
    "Rewrite",
    "StateUnavailable",
    "StateView",
    "VerdictWatcher",
    "apply_rewrite",
    "decide",
    "default_signals",
    "plan_rewrite",
    "read_accounts",
]
