"""In-process state (the default): one gateway replica, nothing to run beside it."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..contracts import Action, Campaign, Verdict
from .context import RequestContext
from .state import (
    AccountRecord,
    Enforcement,
    Evidence,
    EvidenceSource,
    StateView,
    indicator_keys,
    ip_key,
    lookup_keys,
)

__all__ = [
    "DISTINCT_CAP",
    "FeatureStateFactory",
    "MemoryState",
    "campaign_indicators",
    "default_feature_state",
]

#: Distinct values kept exactly per account and dimension; counts stop growing past it.
DISTINCT_CAP = 256

#: Makes an empty per-account online feature state (``distillguard.features``).
FeatureStateFactory = Callable[[], Any]


def default_feature_state() -> Any:
    """An empty :class:`distillguard.features.OnlineAccountState`."""
    from ..features import OnlineAccountState

    return OnlineAccountState()


def campaign_indicators(campaigns: Iterable[Campaign]) -> list[tuple[str, str, str]]:
    """``(kind, value, campaign_id)`` for the indicators in ``campaigns.json``."""
    out: list[tuple[str, str, str]] = []
    for c in campaigns:
        infra = c.infrastructure
        for cidr in infra.ip_ranges:
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                continue
            if net.version == 4 and net.prefixlen >= 16:
                for sub in net.subnets(new_prefix=24) if net.prefixlen < 24 else [net]:
                    out.append(("campaign_ip", ip_key(str(sub.network_address)), c.id))
            elif net.version == 6 and net.prefixlen >= 48:
                out.append(("campaign_ip", ip_key(str(net.network_address)), c.id))
        for fp in infra.client_fingerprints:
            out.append(("campaign_client", fp, c.id))
        for pay in infra.payment_fingerprints:
            out.append(("shared_payment", pay, c.id))
    return out


class _Account:
    __slots__ = (
        "challenge_since",
        "distinct",
        "enforcement",
        "events",
        "feat",
        "features",
        "verified_until",
        "win_bucket",
        "win_count",
    )

    def __init__(self) -> None:
        self.features: Any = None
        self.feat: dict[str, float] = {}
        self.events = 0
        self.win_bucket = -1
        self.win_count = 0
        self.enforcement: Enforcement | None = None
        self.challenge_since: float | None = None
        self.verified_until: float | None = None
        self.distinct: dict[str, set[str]] = {}


class MemoryState:
    """All online state in this process's memory (see :class:`EnforcementState`)."""

    def __init__(
        self,
        *,
        window_s: int = 60,
        feature_state: FeatureStateFactory = default_feature_state,
        evidence_sources: Sequence[EvidenceSource] = (),
    ) -> None:
        self.window_s = window_s
        self._new_features = feature_state
        self._sources = list(evidence_sources)
        self._accounts: dict[str, _Account] = {}
        self._registry: dict[str, AccountRecord] = {}
        self._banned_payments: dict[str, str] = {}
        self._verdicts: dict[str, Verdict] = {}
        self._verdicts_at = 0.0
        self._indicators: dict[tuple[str, str], tuple[str, float]] = {}
        self._batch_indicators: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ reads
    def view(self, context: RequestContext, now: float) -> StateView:
        """Snapshot for one request (never unavailable: it is in-process)."""
        acct_id = context.account_id
        a = self._accounts.get(acct_id)
        rec = self._registry.get(acct_id)
        view = StateView(account_id=acct_id, now=now, account=rec)
        view.verdict = self._verdicts.get(acct_id)
        view.verdict_loaded_at = self._verdicts_at
        if a is not None:
            bucket = int(now // self.window_s)
            view.window_requests = a.win_count if a.win_bucket == bucket else 0
            view.window_reset_s = (bucket + 1) * self.window_s - now
            view.events = a.events
            view.features = a.feat
            view.distinct = {k: len(v) for k, v in a.distinct.items()}
            view.enforcement = a.enforcement
            view.challenge_since = a.challenge_since
            view.verified_until = a.verified_until
        view.evidence = self._evidence(context, rec, now)
        return view

    def _evidence(
        self, context: RequestContext, rec: AccountRecord | None, now: float
    ) -> list[Evidence]:
        ev: list[Evidence] = []
        if rec is not None:
            if rec.status in ("banned", "suspended"):
                ev.append(Evidence("banned_account", rec.status or ""))
            pay = rec.payment_fingerprint
            if pay:
                banned_by = self._banned_payments.get(pay)
                if banned_by is not None and banned_by != rec.account_id:
                    ev.append(
                        Evidence("banned_link", pay, detail=f"payment shared with {banned_by}")
                    )
                found = self._indicator(("shared_payment", pay), now)
                if found is not None:
                    ev.append(
                        Evidence("shared_payment", pay, campaign_id=found[0], detail=found[1])
                    )
        for kind, value in lookup_keys(context):
            found = self._indicator((kind, value), now)
            if found is not None:
                ev.append(Evidence(kind, value, campaign_id=found[0], detail=found[1]))
        for src in self._sources:
            ev.extend(src.lookup(context, rec))
        return ev

    def _indicator(self, key: tuple[str, str], now: float) -> tuple[str, str] | None:
        """``(campaign_id, origin)`` of an indicator; origin is ``batch`` or ``online``."""
        hit = self._indicators.get(key)
        if hit is not None and hit[1] > now:
            return hit[0], "online"
        cid = self._batch_indicators.get(key)
        return (cid, "batch") if cid is not None else None

    # ------------------------------------------------------------------ writes
    def _acct(self, account_id: str) -> _Account:
        a = self._accounts.get(account_id)
        if a is None:
            a = self._accounts[account_id] = _Account()
        return a

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
        """Count the request; keep enforcement / challenge; learn indicators."""
        with self._lock:
            a = self._acct(context.account_id)
            bucket = int(now // self.window_s)
            if a.win_bucket != bucket:
                a.win_bucket, a.win_count = bucket, 0
            a.win_count += 1
            if action in ("degrade", "block") and ttl_s:
                prev = a.enforcement
                since = prev.since if prev is not None and prev.until > now else now
                a.enforcement = Enforcement(action, since, now + ttl_s, tuple(reasons))
            if action == "verify" and a.challenge_since is None:
                a.challenge_since = now
            if learn:
                until = now + indicator_ttl_s
                for kind, value in indicator_keys(context):
                    self._indicators[(kind, value)] = (campaign_id, until)

    def observe(self, context: RequestContext, signals: dict[str, Any], now: float) -> None:
        """Merge one exchange's signals into the account's online features."""
        with self._lock:
            a = self._acct(context.account_id)
            if signals:  # without signals (none computed) only the event is counted
                if a.features is None:
                    a.features = self._new_features()
                a.features.update(signals)
                a.feat = {k: v for k, v in a.features.features().items() if v is not None}
            a.events += 1
            for dim, value in (
                ("ip", context.client_ip),
                ("api_key", context.api_key_id),
                ("user_agent", context.user_agent),
            ):
                if value:
                    s = a.distinct.setdefault(dim, set())
                    if len(s) < DISTINCT_CAP:
                        s.add(value)

    def load_verdicts(
        self, verdicts: Iterable[Verdict], campaigns: Iterable[Campaign], loaded_at: float
    ) -> int:
        """Replace batch verdicts and campaign indicators."""
        vmap = {v.account_id: v for v in verdicts}
        inds = campaign_indicators(campaigns)
        with self._lock:
            self._verdicts = vmap
            self._verdicts_at = loaded_at
            # indicators of the previous load are replaced; those learnt online are kept
            self._batch_indicators = {(kind, value): cid for kind, value, cid in inds}
        return len(vmap)

    def load_accounts(self, accounts: Iterable[AccountRecord]) -> int:
        """Add or replace registry records."""
        n = 0
        with self._lock:
            for rec in accounts:
                self._registry[rec.account_id] = rec
                if rec.status in ("banned", "suspended") and rec.payment_fingerprint:
                    self._banned_payments[rec.payment_fingerprint] = rec.account_id
                n += 1
        return n

    def mark_verified(self, account_id: str, until: float) -> None:
        """Record a passed step-up verification and close the challenge."""
        with self._lock:
            a = self._acct(account_id)
            a.verified_until = until
            a.challenge_since = None

    def healthy(self) -> bool:
        """Always true."""
        return True

    def close(self) -> None:
        """Nothing to release."""

    def tracked_accounts(self) -> int:
        """How many accounts have online state."""
        return len(self._accounts)
