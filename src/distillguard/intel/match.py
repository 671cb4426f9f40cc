"""Match a campaign against known actors: weighted evidence, confidence, and why.

For each kind of evidence (payment instrument, template fingerprint, IP prefix, ...)
the campaign's values are intersected with the actor's. A kind contributes
``weight(kind) x purity x (0.5 + 0.5 x coverage)`` where purity is how exclusively
the matched value is used by the actor's and the campaign's accounts in this store
(rare values count, values ordinary customers also use do not) and coverage is the share
of the campaign's accounts that used a matched value. Kinds of one evidence family
(prompting: template, system prompt, request shape; network: prefix, ASN, provider)
are combined so that correlated evidence is not counted twice. Profiles (capability shares,
active hours, account types) add a little, but only on top of discrete evidence: a
similar profile alone never attributes. The score maps to a confidence in [0, 1] with
``1 - exp(-score / 2)``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from ..contracts import Campaign
from ..store import Store
from ._evidence import KIND_WEIGHTS, VALUES_TABLE, combine, ensure_account_values, value_stats
from .actors import ActorFingerprint, cosine, fingerprint_campaign, known_bad_accounts

__all__ = ["MIN_CONFIDENCE", "ActorMatch", "Evidence", "confidence", "match_campaign"]

#: Confidence from which a campaign is attributed to an actor.
MIN_CONFIDENCE = 0.6

#: Weight of profile similarity (added only when some discrete evidence matched).
PROFILE_WEIGHTS = {"capability": 0.5, "active_hours": 0.4, "account_type": 0.2}


@dataclass(frozen=True)
class Evidence:
    """One matched piece of evidence and what it contributed."""

    kind: str
    value: str
    purity: float
    coverage: float
    contribution: float

    def describe(self) -> str:
        """Short human-readable form used in reports and ``campaigns.json``."""
        return (
            f"{self.kind}={self.value} (purity {self.purity:.2f}, "
            f"{self.coverage:.0%} of accounts, +{self.contribution:.2f})"
        )


@dataclass
class ActorMatch:
    """The result of matching one campaign against one actor."""

    actor: str
    score: float
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        """Confidence in [0, 1] that the campaign is this actor's."""
        return confidence(self.score)

    @property
    def matched(self) -> bool:
        """True when the confidence reaches :data:`MIN_CONFIDENCE`."""
        return self.confidence >= MIN_CONFIDENCE


def confidence(score: float) -> float:
    """Map an evidence score to a confidence in [0, 1]."""
    return 1.0 - math.exp(-max(score, 0.0) / 2.0)


def _member_sets(store: Store, members: list[str]) -> dict[tuple[str, str], set[str]]:
    import pyarrow as pa

    tbl = pa.table({"account_id": members}, schema=pa.schema([("account_id", pa.string())]))
    store.con.register("_dg_cm", tbl)
    try:
        rows = store.con.execute(
            f"SELECT kind, value, list(DISTINCT account_id) FROM {VALUES_TABLE} "
            f"JOIN _dg_cm USING (account_id) GROUP BY kind, value"
        ).fetchall()
    finally:
        store.con.unregister("_dg_cm")
    return {(k, v): set(a) for k, v, a in rows}


def match_campaign(
    store: Store, campaign: Campaign, actors: list[ActorFingerprint]
) -> list[ActorMatch]:
    """Score ``campaign`` against every actor; best first (empty list when no actor)."""
    if not actors:
        return []
    ensure_account_values(store)
    camp = fingerprint_campaign(store, campaign)
    members = list(camp.members)
    per_value = _member_sets(store, members)
    bad = known_bad_accounts(store)
    results: list[ActorMatch] = []
    for actor in actors:
        shared: list[tuple[str, str]] = [
            (kind, v)
            for kind, vals in camp.values.items()
            if kind in KIND_WEIGHTS
            for v in vals
            if v in actor.values.get(kind, {})
        ]
        linked = dict(bad)
        for a in set(members) | actor.members:
            linked.setdefault(a, None)
        stats = value_stats(store, shared, linked)
        by_kind: dict[str, list[tuple[str, float, set[str]]]] = defaultdict(list)
        for kind, v in shared:
            st = stats.get((kind, v))
            local = st.purity if st else 0.5
            learned = actor.values[kind][v]
            pur = min(local, learned) if actor.source == "local" else local
            by_kind[kind].append((v, pur, per_value.get((kind, v), set())))
        evidence: list[Evidence] = []
        for kind, items in by_kind.items():
            covered: set[str] = set().union(*(s for _, _, s in items))
            cov = len(covered) / len(members) if members else 0.0
            v, pur, _ = max(items, key=lambda t: (t[1], len(t[2])))
            contrib = KIND_WEIGHTS[kind] * pur * (0.5 + 0.5 * cov)
            evidence.append(Evidence(kind, v, round(pur, 3), round(cov, 3), round(contrib, 3)))
        score = combine({e.kind: e.contribution for e in evidence})
        if evidence:
            for kind, w in PROFILE_WEIGHTS.items():
                sim = cosine(camp.profiles.get(kind, {}), actor.profiles.get(kind, {}))
                if sim > 0:
                    c = round(w * sim, 3)
                    evidence.append(Evidence(f"profile:{kind}", "similar", 1.0, sim, c))
                    score += c
        evidence.sort(key=lambda e: -e.contribution)
        results.append(ActorMatch(actor.name, round(score, 3), evidence))
    results.sort(key=lambda m: -m.score)
    return results
