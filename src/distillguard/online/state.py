"""What the decision reads: the state protocol, the snapshot it returns, and evidence.

A backend (:class:`~distillguard.online.memory.MemoryState`,
:class:`~distillguard.online.redis_state.RedisState`) keeps per-account online state:
the account's online features (the batch feature definitions, updated per exchange),
request windows, distinct counts, the batch verdict and campaign, sticky enforcements,
verification challenges, and an index of indicators (addresses, client fingerprints,
payment instruments, prompt templates) linked to campaigns. For one request it returns
a :class:`StateView`, a plain snapshot; :func:`distillguard.online.decide` reads only
that snapshot, so it stays pure and fast, and a networked backend makes one round trip.

Evidence plugs in through :class:`EvidenceSource`: anything with
``lookup(context, account) -> list[Evidence]`` (intelligence on known actors, links to
banned accounts) is asked while the view is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..contracts import Action, Campaign, Verdict
from .context import RequestContext, parse_timestamp

__all__ = [
    "ANCHOR_EVIDENCE",
    "AccountRecord",
    "Enforcement",
    "EnforcementState",
    "Evidence",
    "EvidenceSource",
    "StateUnavailable",
    "StateView",
    "indicator_keys",
    "ip_key",
    "is_template_indicator",
    "lookup_keys",
]

#: Evidence about the account itself (not only about infrastructure it shares): an
#: account enforced on such evidence lends its indicators to the online index.
ANCHOR_EVIDENCE = frozenset(
    {"banned_account", "known_actor", "banned_link", "campaign_member", "shared_payment"}
)


class StateUnavailable(RuntimeError):
    """The state backend could not be reached; the policy's ``fail_mode`` applies."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of evidence about a request; ``kind`` is a key of ``policy.evidence``.

    ``detail`` says where it came from; ``batch`` marks an indicator of a scan's
    ``campaigns.json``, which the scan already weighed for the accounts it judged.
    """

    kind: str
    value: str
    campaign_id: str = ""
    weight: float = 1.0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """The registry facts online enforcement needs about an account."""

    account_id: str
    account_type: str | None = None
    verification: str | None = None
    status: str | None = None
    payment_fingerprint: str | None = None
    org_id: str | None = None
    #: when the account was created (epoch seconds); ``None`` when the registry lacks it
    created_at: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AccountRecord:
        """Build from an ``accounts.jsonl`` record (unknown keys ignored)."""
        created = d.get("created_at")
        return cls(
            account_id=str(d["account_id"]),
            account_type=d.get("account_type"),
            verification=d.get("verification"),
            status=d.get("status"),
            payment_fingerprint=d.get("payment_fingerprint"),
            org_id=d.get("org_id"),
            created_at=parse_timestamp(created, field_name="created_at")
            if created is not None
            else None,
        )


@dataclass(frozen=True, slots=True)
class Enforcement:
    """A throttle, degrade or block that stays in force until ``until`` (epoch s)."""

    action: Action
    since: float
    until: float
    reasons: tuple[str, ...] = ()


@dataclass(slots=True)
class StateView:
    """Everything :func:`decide` knows about the requesting account, at one instant."""

    account_id: str
    now: float
    account: AccountRecord | None = None
    verdict: Verdict | None = None
    verdict_loaded_at: float = 0.0
    features: dict[str, float] = field(default_factory=dict)
    events: int = 0
    window_requests: int = 0
    window_reset_s: float = 0.0
    distinct: dict[str, int] = field(default_factory=dict)
    enforcement: Enforcement | None = None
    challenge_since: float | None = None
    verified_until: float | None = None
    evidence: list[Evidence] = field(default_factory=list)
    unavailable: bool = False


@runtime_checkable
class EvidenceSource(Protocol):
    """A pluggable source of evidence (intel on known actors, banned-account links)."""

    def lookup(self, context: RequestContext, account: AccountRecord | None) -> list[Evidence]:
        """Evidence about this request; empty when there is none."""
        ...


def ip_key(ip: str) -> str:
    """The network an address is indexed under: its IPv4 /24 or IPv6 /64."""
    if ":" in ip:
        parts = ip.split(":")
        return ":".join((parts + ["0"] * 4)[:4]) + "::/64"
    head, _, _ = ip.rpartition(".")
    return f"{head}.0/24" if head else ip


def indicator_keys(context: RequestContext) -> list[tuple[str, str]]:
    """The ``(evidence kind, value)`` pairs under which a request's indicators are indexed.

    Uses the per-exchange signals when they were computed (``ip_prefix``, ``client_fp``,
    ``template_id``: the batch definitions, as in ``campaigns.json``), and the request's
    own address and client shape otherwise.
    """
    sig = context.signals or {}
    keys: list[tuple[str, str]] = []
    # hosting space is rented in blocks: its /24 is the indicator; elsewhere (homes,
    # mobile, unknown) neighbours are strangers, so only the address itself is
    if sig.get("is_hosting") and sig.get("ip_prefix"):
        keys.append(("campaign_ip", str(sig["ip_prefix"])))
    elif context.client_ip:
        keys.append(("campaign_ip", context.client_ip))
    if sig.get("client_fp"):
        keys.append(("campaign_client", str(sig["client_fp"])))
    elif context.user_agent or context.headers:
        keys.append(("campaign_client", context.client_fingerprint))
    tpl = sig.get("template_id")
    if tpl and is_template_indicator(sig):
        keys.append(("campaign_template", str(tpl)))
    return keys


def is_template_indicator(signals: dict[str, Any]) -> bool:
    """Whether the request's ``template_id`` can point at one campaign.

    A template is a frame with slots: the corpus saw it filled with many items
    (``templated``) or the prompt is long enough to have a frame apart from its head
    (``template_frame != template_head``). A short prompt's id is the whole prompt
    ("hi", "continue"), which ordinary users share with any enforced account, so it is
    never an indicator.
    """
    if signals.get("templated"):
        return True
    frame, head = signals.get("template_frame"), signals.get("template_head")
    return bool(frame) and bool(head) and frame != head


def lookup_keys(context: RequestContext) -> list[tuple[str, str]]:
    """:func:`indicator_keys` plus the address's network, where campaign ranges match."""
    keys = indicator_keys(context)
    if context.client_ip:
        net = ("campaign_ip", ip_key(context.client_ip))
        if net not in keys:
            keys.append(net)
    return keys


class EnforcementState(Protocol):
    """A backend of online state (memory or Redis); see the module docstring."""

    def view(self, context: RequestContext, now: float) -> StateView:
        """Snapshot for one request; raises :class:`StateUnavailable` when unreachable."""
        ...

    def record_decision(
        self,
        context: RequestContext,
        action: Action,
        reasons: Sequence[str],
        now: float,
        *,
        ttl_s: int | None,
        learn: bool,
        campaign_id: str,
        indicator_ttl_s: int,
    ) -> None:
        """Count the request in its window; keep a sticky enforcement or open challenge.

        With ``learn``, the request's indicators join the index under ``campaign_id``.
        """
        ...

    def observe(self, context: RequestContext, signals: dict[str, Any], now: float) -> None:
        """Merge one completed exchange's signals into the account's online features."""
        ...

    def load_verdicts(
        self, verdicts: Iterable[Verdict], campaigns: Iterable[Campaign], loaded_at: float
    ) -> int:
        """Replace the batch verdicts and campaign indicators; returns verdicts loaded."""
        ...

    def load_accounts(self, accounts: Iterable[AccountRecord]) -> int:
        """Add or replace registry records; returns how many."""
        ...

    def mark_verified(self, account_id: str, until: float) -> None:
        """Record that the account passed step-up verification."""
        ...

    def healthy(self) -> bool:
        """True when the backend answers."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
