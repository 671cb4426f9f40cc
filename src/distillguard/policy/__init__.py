"""Enforcement policy as data: a YAML document validated into :class:`Policy`."""

from __future__ import annotations

from .load import PolicyError, default_policy, load_policy, parse_policy
from .model import (
    AccountTypeRule,
    Allowlist,
    Condition,
    DegradeSpec,
    EvidenceRule,
    MarkSpec,
    OnlineRule,
    Policy,
    ReasonRule,
    ThrottleSpec,
    Tier,
    Ttls,
    action_rank,
    stronger,
)

__all__ = [
    "AccountTypeRule",
    "Allowlist",
    "Condition",
    "DegradeSpec",
    "EvidenceRule",
    "MarkSpec",
    "OnlineRule",
    "Policy",
    "PolicyError",
    "ReasonRule",
    "ThrottleSpec",
    "Tier",
    "Ttls",
    "action_rank",
    "default_policy",
    "load_policy",
    "parse_policy",
    "stronger",
]
