"""How the evidence values an account shares with one target add up to a link.

A *target* is a known actor or a cluster of banned accounts (see
:mod:`distillguard.intel.evasion`). Each ``(kind, value)`` the account used that the
target is known for is worth a weight (``weight(kind) x purity``, discounted for
residential /24s). Per kind, the strongest value counts, except for kinds in
:data:`POOLED_VALUE_KINDS`: there several *distinct* values of the same target add up,
saturating at the kind's full weight (one household /24 an actor's exit pool also
crossed can be coincidence, an account hopping across several of its /24s is not).
Kinds then combine by family (:func:`distillguard.intel._evidence.combine`).

Evidence is accumulated per target, never across targets: pieces an account shares
with *different* banned clusters or actors do not add up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from ._evidence import (
    FAMILIES,
    KIND_WEIGHTS,
    MIN_FAMILY_SCORE,
    SAME_FAMILY_SHARE,
    combine,
    independent_families,
)

__all__ = [
    "FLAG_SCORE",
    "MAX_VALUES_PER_KIND",
    "PAYMENT_FLAG_SCORE",
    "POOLED_VALUE_KINDS",
    "Link",
    "kind_score",
]

#: Evidence score (from two or more families) from which an account is flagged.
FLAG_SCORE = 3.0
#: Payment-family evidence from which an account is flagged on that alone.
PAYMENT_FLAG_SCORE = 2.0

#: Kinds whose distinct values shared with one target add up (saturating, noisy-or):
#: an exit pool is many /24s, a household is one.
POOLED_VALUE_KINDS = frozenset({"ip_prefix"})
#: Most values per kind and target that count (and that the online watch remembers).
MAX_VALUES_PER_KIND = 4

#: per target: per kind: value -> (weight, reason)
Accumulator = dict[str, dict[str, dict[str, tuple[float, str]]]]


@dataclass
class Link:
    """Why an account (or one request) links to a banned account or known actor."""

    target: str
    score: float
    reasons: list[str] = field(default_factory=list)
    #: families that each carry meaningful evidence on their own (``independent_families``)
    families: frozenset[str] = frozenset()
    payment_score: float = 0.0

    @property
    def flagged(self) -> bool:
        """True when the evidence is enough (two independent families reaching
        :data:`FLAG_SCORE`, or payment evidence reaching :data:`PAYMENT_FLAG_SCORE`)."""
        if self.payment_score >= PAYMENT_FLAG_SCORE:
            return True
        return self.score >= FLAG_SCORE and len(self.families) >= 2


@dataclass(frozen=True)
class _Entry:
    target: str
    weight: float
    example: str


def kind_score(kind: str, weights: list[float]) -> float:
    """What the values of one kind shared with one target are worth together.

    The strongest value, or for :data:`POOLED_VALUE_KINDS` the noisy-or of the strongest
    :data:`MAX_VALUES_PER_KIND` values, as a share of the kind's full weight.
    """
    ws = sorted(weights, reverse=True)[:MAX_VALUES_PER_KIND]
    if not ws:
        return 0.0
    if kind not in POOLED_VALUE_KINDS or len(ws) == 1:
        return ws[0]
    full = KIND_WEIGHTS.get(kind, max(ws))
    miss = 1.0
    for w in ws:
        miss *= 1.0 - min(w / full, 0.999)
    return full * (1.0 - miss)


def _reason(kind: str, value: str, example: str, weight: float) -> str:
    return f"{kind}={value} shared with {example} (+{weight:.2f})"


def accumulate(acc: Accumulator, hits: list[tuple[str, str, _Entry]]) -> Accumulator:
    """Add index hits ``(kind, value, entry)`` into ``acc`` (per target, kind, value)."""
    for kind, value, e in hits:
        per_value = acc.setdefault(e.target, {}).setdefault(kind, {})
        if e.weight > per_value.get(value, (0.0, ""))[0]:
            per_value[value] = (e.weight, _reason(kind, value, e.example, e.weight))
            if len(per_value) > MAX_VALUES_PER_KIND:
                del per_value[min(per_value, key=lambda v: per_value[v][0])]
    return acc


def link_of(target: str, kinds: dict[str, dict[str, tuple[float, str]]]) -> Link:
    """The link the accumulated values of one target support."""
    contrib: dict[str, float] = {}
    reasons: list[tuple[float, str]] = []
    for kind, per_value in kinds.items():
        ranked = sorted(per_value.values(), key=lambda t: -t[0])
        score = kind_score(kind, [w for w, _ in ranked])
        contrib[kind] = score
        reason = ranked[0][1]
        if kind in POOLED_VALUE_KINDS and len(ranked) > 1:
            reason += f" and {len(ranked) - 1} more ({kind} +{score:.2f})"
        reasons.append((score, reason))
    pay = max((w for k, w in contrib.items() if FAMILIES.get(k) == "payment"), default=0.0)
    return Link(
        target,
        round(combine(contrib), 4),
        [r for _, r in sorted(reasons, key=lambda t: -t[0])],
        frozenset(independent_families(contrib)),
        pay,
    )


def _rank(link: Link) -> tuple[float, str]:
    """Order of links: higher score first, then (ties) the alphabetically first target."""
    return (link.score, "".join(chr(0x10FFFF - ord(c)) for c in link.target[:64]))


def best(acc: Accumulator) -> Link | None:
    """The strongest per-target link of an accumulator (``None`` when empty)."""
    out: Link | None = None
    for target, kinds in acc.items():
        link = link_of(target, kinds)
        if out is None or _rank(link) > _rank(out):
            out = link
    return out


def kinds_table() -> pa.Table:
    """Per evidence kind: its family, full weight and whether its values pool (for SQL)."""
    kinds = sorted(KIND_WEIGHTS)
    return pa.table(
        {
            "kind": kinds,
            "family": [FAMILIES.get(k, k) for k in kinds],
            "full": [KIND_WEIGHTS[k] for k in kinds],
            "pooled": [k in POOLED_VALUE_KINDS for k in kinds],
        }
    )


def candidate_sql(values_table: str, only_accounts: bool, flaggable_only: bool) -> str:
    """SQL of the per account, target and kind best values (``top``) worth building links for.

    Reads ``_dg_index`` (kind, value, target, weight, example), ``_dg_kinds``
    (:func:`kinds_table`) and, with ``only_accounts``, ``_dg_only``; one parameter: the
    least total. The filter uses an upper bound of :func:`link_of`'s score (a pooled
    kind's weights summed, not noisy-or'ed), so no pair that could pass is dropped.
    """
    where = "WHERE v.account_id IN (SELECT account_id FROM _dg_only)" if only_accounts else ""
    cond = "sum(fs) >= ?"
    if flaggable_only:
        cond += (
            f" AND ((sum(fs) >= {FLAG_SCORE} AND count(*) FILTER (WHERE fs >= "
            f"{MIN_FAMILY_SCORE} AND family <> 'registry') >= 2) OR coalesce(max(fs) FILTER "
            f"(WHERE family = 'payment'), 0) >= {PAYMENT_FLAG_SCORE})"
        )
    return (
        f"WITH h AS MATERIALIZED (SELECT v.account_id, v.kind, v.value, i.target, i.weight, "
        f"i.example FROM {values_table} v JOIN _dg_index i "
        f"ON i.kind = v.kind AND i.value = v.value {where}), "
        f"k AS (SELECT h.account_id, h.target, h.kind, any_value(d.family) AS family, "
        f"CASE WHEN any_value(d.pooled) THEN least(sum(h.weight), any_value(d.full)) "
        f"ELSE max(h.weight) END AS ks FROM h JOIN _dg_kinds d USING (kind) GROUP BY ALL), "
        f"f AS (SELECT account_id, target, family, "
        f"max(ks) + {SAME_FAMILY_SHARE} * (sum(ks) - max(ks)) AS fs FROM k GROUP BY ALL), "
        f"p AS (SELECT account_id, target FROM f GROUP BY ALL HAVING {cond}) "
        f"SELECT h.account_id, h.target, h.kind, "
        f"list(struct_pack(w := h.weight, v := h.value, e := h.example) "
        f"ORDER BY h.weight DESC, h.value)[1:{MAX_VALUES_PER_KIND}] AS top "
        f"FROM h SEMI JOIN p ON h.account_id = p.account_id AND h.target = p.target "
        f"GROUP BY ALL"
    )
