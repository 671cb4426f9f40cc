"""The edge-builder protocol and the rarity-weighted pair construction they share.

Every evidence kind is a small class that says, in SQL over the ``link_facts`` and
``link_accounts`` views, which *value* each account shows (an address in an hour, a
payment instrument, a client fingerprint, a template in a five-minute cell...). Two
accounts that show the same value are linked, and the link is weighted by how rare the
value is: ``idf(n) = ln(N / n) / ln(N)`` for a value shared by ``n`` of ``N`` accounts,
so a value everybody shows is worth nothing and one shared by a few accounts and nobody
else is worth almost 1. Values shared by a large group link each member to a fixed
number of neighbours (a circulant ring ordered by a hash of the account id) instead of
to all of them, so a 5,000-account hydra costs 5,000 x ``fanout`` pairs, not 12 million,
and stays one dense block for community detection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import duckdb

__all__ = ["EdgeBuilder", "LinkConfig", "build_pairs"]


@dataclass(frozen=True)
class LinkConfig:
    """Knobs of the linkage stage (defaults are the shipped ones)."""

    #: Bucket for "same address / same /24 at the same time", minutes.
    window_minutes: int = 60
    #: Cell width for lock-step activity (account x template x time), minutes.
    sync_bucket_minutes: int = 10
    #: Accounts created within this many minutes of each other form a burst.
    creation_burst_minutes: int = 30
    #: Groups up to this size are linked as cliques; larger ones as circulant rings.
    clique_max: int = 48
    #: Neighbours on each side in the ring of a large group.
    fanout: int = 6
    #: Values rarer than this (idf below it) are ignored as no evidence at all.
    min_idf: float = 0.08
    #: Evidence kinds to build (None: all registered).
    kinds: tuple[str, ...] | None = None
    #: Factor on a pair linked by one family of weak evidence alone (no corroboration
    #: from an independent family): popular templates or SDK fingerprints link unrelated
    #: users; corroborated by another family they rarely do.
    lone_weak: float = 0.25


class EdgeBuilder:
    """One kind of linking evidence.

    Subclasses set :attr:`kind` (the short code in reasons), :attr:`base_weight` (how
    strong one rare shared value is), :attr:`min_shared` (how many distinct shared
    values a pair needs, e.g. lock-step needs several cells) and implement
    :meth:`memberships_sql`, a query returning ``account_id, value``.
    """

    kind: ClassVar[str] = ""
    base_weight: ClassVar[float] = 0.5
    min_shared: ClassVar[int] = 1
    #: Whether the shared values are indicators worth listing in a campaign.
    indicator: ClassVar[bool] = True
    #: Whether the builder needs facts only the signals stage provides.
    needs: ClassVar[tuple[str, ...]] = ()
    #: Per-kind floor on value rarity (None: the config's ``min_idf``).
    min_idf: ClassVar[float | None] = None
    #: Whether this kind alone is enough to link two accounts at full weight.
    strong: ClassVar[bool] = False
    #: Evidence family (account, network, client, content, timing): kinds of one family
    #: are not independent, so they do not corroborate each other.
    family: ClassVar[str] = ""

    def memberships_sql(self, cfg: LinkConfig) -> str:
        """SQL returning ``account_id, value`` rows (duplicates allowed)."""
        raise NotImplementedError


def _n_accounts(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(DISTINCT account_id) FROM link_accounts").fetchone()
    return max(int(row[0]) if row else 0, 2)


def build_pairs(con: duckdb.DuckDBPyConnection, builder: EdgeBuilder, cfg: LinkConfig) -> int:
    """Append the builder's weighted account pairs to temp table ``link_pairs``.

    Also appends the shared values with their weights to ``link_values`` (for
    indicators and evidence). Returns the number of pairs added.
    """
    n_total = _n_accounts(con)
    log_n = math.log(n_total)
    kind = builder.kind
    min_idf = cfg.min_idf if builder.min_idf is None else builder.min_idf
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _m AS
            SELECT DISTINCT account_id, CAST(value AS VARCHAR) AS value
            FROM ({builder.memberships_sql(cfg)}) WHERE value IS NOT NULL AND account_id IS NOT NULL"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _v AS
            SELECT value, n, ln({n_total} / n) / {log_n} AS w FROM (
              SELECT value, count(*)::DOUBLE AS n FROM _m GROUP BY value HAVING count(*) >= 2)
            WHERE ln({n_total} / n) / {log_n} >= {min_idf}"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _mr AS
           SELECT m.account_id, m.value, v.n::BIGINT AS n, v.w,
                  row_number() OVER (PARTITION BY m.value ORDER BY hash(m.account_id), m.account_id) AS rn
           FROM _m m JOIN _v v USING (value)"""
    )
    if builder.indicator:
        con.execute(f"INSERT INTO link_values SELECT '{kind}', value, account_id, w FROM _mr")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _p AS
            SELECT a.account_id AS a, b.account_id AS b, a.value, a.w
            FROM _mr a JOIN _mr b ON a.value = b.value AND a.account_id < b.account_id
            WHERE a.n <= {cfg.clique_max}
            UNION ALL
            SELECT least(a.account_id, b.account_id), greatest(a.account_id, b.account_id), a.value, a.w
            FROM _mr a CROSS JOIN range(1, {cfg.fanout + 1}) AS d(k)
            JOIN _mr b ON b.value = a.value AND b.rn = ((a.rn - 1 + d.k) % a.n) + 1
            WHERE a.n > {cfg.clique_max}"""
    )
    before = con.execute("SELECT count(*) FROM link_pairs").fetchone()
    scale = float(builder.min_shared)
    con.execute(
        f"""INSERT INTO link_pairs
            SELECT a, b, '{kind}', count(DISTINCT value)::INTEGER,
                   {builder.base_weight} * (1 - exp(-2.0 * sum(w) / {scale})),
                   arg_max(value, w)
            FROM _p GROUP BY a, b HAVING count(DISTINCT value) >= {builder.min_shared}"""
    )
    after = con.execute("SELECT count(*) FROM link_pairs").fetchone()
    for t in ("_m", "_v", "_mr", "_p"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return int(after[0] if after else 0) - int(before[0] if before else 0)
