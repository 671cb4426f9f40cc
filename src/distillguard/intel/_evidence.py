"""Per-account evidence values and how much each one is worth.

Every piece of linking evidence is a ``(kind, value)`` pair an account used: an IP
prefix, a client fingerprint, a payment instrument, a prompt-template fingerprint...
This module extracts those pairs from the store (from the ``exchange_signals`` table
when the signals stage has written it, otherwise from the raw ``exchanges`` columns)
and weighs them.

The worth of a value is its *purity*: of all accounts that ever used it, the share
that belong to the known-bad set (banned accounts, members of a known actor, or the
campaign being examined), smoothed so that a value nobody here has used yet is worth
one half and one only a single ordinary customer used a quarter
(``(linked + 0.5) / (users + 1)``). A cloud ASN used by thousands of ordinary
customers is worth almost nothing; a payment instrument only banned accounts ever used
is worth almost its full weight. Purity is explainable and needs no training.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from ..store import Store

__all__ = [
    "DISCRETE_KINDS",
    "FAMILIES",
    "KIND_WEIGHTS",
    "ValueStats",
    "account_values",
    "combine",
    "ensure_account_values",
    "families",
    "family_scores",
    "independent_families",
    "ip_key",
    "purity",
]

#: Weight of each kind of evidence when its value is perfectly pure (used only by the
#: linked accounts). Payment instruments and prompt-template / system-prompt fingerprints
#: are strong; network evidence is moderate; an ASN or hosting provider alone is weak.
KIND_WEIGHTS: dict[str, float] = {
    "payment_fp": 3.0,
    "account_hash": 3.0,
    "template_id": 2.0,
    "system_hash": 2.0,
    "ip_prefix": 1.5,
    "client_fp": 1.0,
    "shape_fp": 1.0,
    "email_domain": 0.5,
    "asn": 0.5,
    "asn_org": 0.25,
}

#: Kinds that measure the same thing are one *family*: the request shape includes the
#: system-prompt hash, an ASN contains the /24. Within a family only the strongest kind
#: counts fully, the others a quarter, so correlated evidence is not counted twice.
FAMILIES: dict[str, str] = {
    "payment_fp": "payment",
    "account_hash": "payment",
    "template_id": "prompting",
    "system_hash": "prompting",
    "shape_fp": "prompting",
    "ip_prefix": "network",
    "asn": "network",
    "asn_org": "network",
    "client_fp": "client",
    "email_domain": "registry",
}

#: Share of a non-strongest kind's contribution that counts within its family.
SAME_FAMILY_SHARE = 0.25


def family_scores(contributions: dict[str, float]) -> dict[str, float]:
    """Per family: the strongest kind's contribution plus a quarter of the others'."""
    by_family: dict[str, list[float]] = {}
    for kind, c in contributions.items():
        by_family.setdefault(FAMILIES.get(kind, kind), []).append(c)
    out = {}
    for fam, cs in by_family.items():
        cs.sort(reverse=True)
        out[fam] = cs[0] + SAME_FAMILY_SHARE * sum(cs[1:])
    return out


def combine(contributions: dict[str, float]) -> float:
    """Score of per-kind contributions: families add up, kinds within a family mostly not."""
    return sum(family_scores(contributions).values())


#: A family counts as independent evidence from this score on (half a pure /24, three
#: quarters of a pure client fingerprint); the registry family (a webmail domain) never.
MIN_FAMILY_SCORE = 0.75


def independent_families(contributions: dict[str, float]) -> set[str]:
    """Families that on their own carry meaningful evidence (see :data:`MIN_FAMILY_SCORE`)."""
    return {
        fam
        for fam, score in family_scores(contributions).items()
        if score >= MIN_FAMILY_SCORE and fam != "registry"
    }


def families(kinds: Iterable[str]) -> set[str]:
    """The evidence families a set of kinds covers."""
    return {FAMILIES.get(k, k) for k in kinds}


#: Kinds compared value by value (as opposed to profiles compared as distributions).
DISCRETE_KINDS: tuple[str, ...] = tuple(KIND_WEIGHTS)

#: Kinds that never leave the store (not exported in STIX or MISP).
PRIVATE_KINDS: frozenset[str] = frozenset({"email_domain"})

_SIGNAL_COLUMNS = (
    "ip_prefix",
    "client_fp",
    "template_id",
    "system_hash",
    "shape_fp",
    "asn",
    "asn_org",
)

_FALLBACK_SQL = {
    "ip_prefix": (
        "CASE WHEN regexp_matches(client_ip, '^\\d+\\.\\d+\\.\\d+\\.\\d+$') "
        "THEN regexp_extract(client_ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1) || '.0/24' END"
    ),
    "client_fp": (
        "CASE WHEN user_agent IS NULL AND client_headers IS NULL THEN NULL ELSE "
        "'ua:' || substr(md5(coalesce(user_agent, '') || '|' || coalesce(client_headers, '')), 1, 16) END"
    ),
    "system_hash": "CASE WHEN system_text IS NULL OR system_text = '' THEN NULL "
    "ELSE 'sys:' || substr(md5(system_text), 1, 16) END",
}

#: Name of the per-operation table of ``(account_id, kind, value, n, first_ts)``.
VALUES_TABLE = "_dg_account_values"


def purity(linked: int, users: int) -> float:
    """Smoothed share of a value's users that are in the linked (known-bad) set."""
    return (linked + 0.5) / (max(users, linked) + 1.0)


def ip_key(value: str) -> str | None:
    """Normalise an address or CIDR to the /24 key used for IPv4 evidence.

    ``1.2.3.4`` and ``1.2.3.0/24`` and ``1.2.3.128/25`` all give ``1.2.3.0/24``; ranges
    wider than /24 give ``None`` (see :func:`expand_range`); IPv6 gives the /48.
    """
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None
    if net.version == 4:
        if net.prefixlen < 24:
            return None
        return str(net.supernet(new_prefix=24))
    if net.prefixlen < 48:
        return None
    return str(net.supernet(new_prefix=48))


def expand_range(cidr: str, max_keys: int = 4096) -> list[str]:
    """All /24 keys inside an IPv4 range (at most ``max_keys``; wider ranges give [])."""
    try:
        net = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return []
    key = ip_key(cidr)
    if key is not None:
        return [key]
    if net.version != 4 or 2 ** (24 - net.prefixlen) > max_keys:
        return []
    return [str(s) for s in net.subnets(new_prefix=24)]


def _columns(store: Store, table: str) -> set[str]:
    rows = store.con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
    ).fetchall()
    return {r[0] for r in rows}


def account_values(store: Store) -> str:
    """SQL selecting ``(account_id, kind, value, n, first_ts)`` from whatever the store has."""
    parts: list[str] = []
    sig_cols = _columns(store, "exchange_signals")
    from_signals = [c for c in _SIGNAL_COLUMNS if c in sig_cols]
    if from_signals and {"account_id", "timestamp"} <= sig_cols:
        sel = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in from_signals)
        parts.append(
            f"SELECT account_id, kind, value, count(*) AS n, min(timestamp) AS first_ts FROM "
            f"(UNPIVOT (SELECT account_id, timestamp, {sel} FROM exchange_signals) "
            f"ON {', '.join(from_signals)} INTO NAME kind VALUE value) GROUP BY ALL"
        )
    fallback = [c for c in _FALLBACK_SQL if c not in from_signals]
    if fallback:
        sel = ", ".join(f"{_FALLBACK_SQL[c]} AS {c}" for c in fallback)
        parts.append(
            f"SELECT account_id, kind, value, count(*) AS n, min(timestamp) AS first_ts FROM "
            f"(UNPIVOT (SELECT account_id, timestamp, {sel} FROM exchanges) "
            f"ON {', '.join(fallback)} INTO NAME kind VALUE value) GROUP BY ALL"
        )
    # a registry value counts from the account's first exchange: accounts registered
    # early but first active later are not yet users of it, dormant ones never (null)
    parts.append(
        "SELECT account_id, kind, value, 1 AS n, first_ts FROM "
        "(UNPIVOT (SELECT a.account_id, x.first_ts, "
        "a.payment_fingerprint AS payment_fp, lower(a.email_domain) AS email_domain "
        "FROM accounts a LEFT JOIN (SELECT account_id, min(timestamp) AS first_ts "
        "FROM exchanges GROUP BY account_id) x USING (account_id)) "
        "ON payment_fp, email_domain INTO NAME kind VALUE value)"
    )
    return " UNION ALL ".join(parts)


_BUILT: dict[int, tuple[object, ...]] = {}


def _data_version(store: Store) -> tuple[object, ...]:
    """A cheap fingerprint of what the value table is built from."""
    sig = (
        store.con.execute("SELECT count(*) FROM exchange_signals").fetchone()
        if "exchange_signals"
        in {r[0] for r in store.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        else None
    )
    ex = store.con.execute("SELECT count(*), max(timestamp) FROM exchanges").fetchone()
    acc = store.con.execute(
        "SELECT count(*), sum(hash(account_id, payment_fingerprint, email_domain)) FROM accounts"
    ).fetchone()
    return (sig, ex, acc)


def ensure_account_values(store: Store, *, refresh: bool = False) -> str:
    """Build the temporary per-account value table unless it is current; returns its name.

    Rebuilt when exchanges, signals or the registry changed since the last build on this
    connection (or when ``refresh``).
    """
    version = _data_version(store)
    exists = store.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary", [VALUES_TABLE]
    ).fetchone()
    if not refresh and exists and exists[0] and _BUILT.get(id(store.con)) == version:
        return VALUES_TABLE
    ipv4 = "'^(\\d+\\.\\d+\\.\\d+)\\.\\d+(/(2[4-9]|3[0-2]))?$'"
    norm = (
        f"CASE WHEN kind = 'ip_prefix' AND regexp_matches(value, {ipv4}) "
        f"THEN regexp_extract(value, {ipv4}, 1) || '.0/24' ELSE value END"
    )
    store.con.execute(
        f"CREATE OR REPLACE TEMP TABLE {VALUES_TABLE} AS "
        f"SELECT account_id, kind, {norm} AS value, sum(n)::BIGINT AS n, "
        f"min(first_ts) AS first_ts FROM ({account_values(store)}) "
        f"WHERE value IS NOT NULL AND value <> '' GROUP BY ALL"
    )
    _BUILT[id(store.con)] = version
    return VALUES_TABLE


@dataclass(frozen=True)
class ValueStats:
    """How many accounts used a value, and how many of them are in the linked set."""

    users: int
    linked: int

    @property
    def purity(self) -> float:
        """Smoothed share of users in the linked set (see :func:`purity`)."""
        return purity(self.linked, self.users)


def value_stats(
    store: Store,
    pairs: Iterable[tuple[str, str]],
    linked: Mapping[str, datetime | None] | Iterable[str],
    *,
    cuts: Mapping[tuple[str, str], datetime | None] | None = None,
) -> dict[tuple[str, str], ValueStats]:
    """Users and linked users of each ``(kind, value)``; needs :func:`ensure_account_values`.

    ``linked`` maps each known-bad account to when it became known (its ban, or the data
    its actor was learned from; ``None``: no cut). Linked accounts always count. A value
    is judged as it stood when it was last confirmed known-bad: of the other accounts,
    only those that had used it by the *latest* such time count, so accounts that
    appeared after it (the evaders being looked for among them) cannot dilute it, while
    every ordinary customer who used it while the linked accounts did, does (judging by
    the earliest ban instead made a popular template or a webmail domain look pure in a
    long scan with an early ban); accounts that never made an exchange (registered,
    dormant) are not users. Values no linked account used count
    every active user, unless ``cuts`` gives the value its own time (a partner's report:
    only the local accounts that used it before then count).
    """
    pair_list = sorted(set(pairs))
    if not pair_list:
        return {}
    known = dict(linked) if isinstance(linked, Mapping) else dict.fromkeys(linked)
    con = store.con
    cut_of = cuts or {}
    pairs_tbl = pa.table(
        {
            "kind": [k for k, _ in pair_list],
            "value": [v for _, v in pair_list],
            "cut": [cut_of.get(p) for p in pair_list],
        },
        schema=pa.schema(
            [("kind", pa.string()), ("value", pa.string()), ("cut", pa.timestamp("ms", "UTC"))]
        ),
    )
    ids = sorted(known)
    linked_tbl = pa.table(
        {"account_id": ids, "known_at": [known[a] for a in ids]},
        schema=pa.schema([("account_id", pa.string()), ("known_at", pa.timestamp("ms", "UTC"))]),
    )
    con.register("_dg_pairs", pairs_tbl)
    con.register("_dg_linked", linked_tbl)
    try:
        rows = con.execute(
            f"WITH j AS (SELECT p.kind, p.value, p.cut AS given_cut, v.account_id, v.first_ts, "
            f"l.account_id IS NOT NULL AS is_linked, l.known_at FROM _dg_pairs p "
            f"LEFT JOIN {VALUES_TABLE} v ON v.kind = p.kind AND v.value = p.value "
            f"LEFT JOIN _dg_linked l ON l.account_id = v.account_id), "
            f"k AS (SELECT kind, value, least(max(known_at) FILTER (WHERE is_linked), "
            f"min(given_cut)) AS cut FROM j GROUP BY kind, value) "
            f"SELECT j.kind, j.value, "
            f"count(DISTINCT j.account_id) FILTER (WHERE j.is_linked OR "
            f"(j.first_ts IS NOT NULL AND (k.cut IS NULL OR j.first_ts <= k.cut))), "
            f"count(DISTINCT j.account_id) FILTER (WHERE j.is_linked) "
            f"FROM j JOIN k ON j.kind = k.kind AND j.value = k.value GROUP BY j.kind, j.value"
        ).fetchall()
    finally:
        con.unregister("_dg_pairs")
        con.unregister("_dg_linked")
    return {(k, v): ValueStats(int(u), int(n)) for k, v, u, n in rows}
