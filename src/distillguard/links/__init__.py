"""The account linkage graph: accounts joined by rare shared evidence.

``build_links(con)`` runs every registered evidence kind (:data:`BUILDERS`) over the
store's exchanges and account registry and returns a :class:`LinkGraph`: one weighted
edge per linked pair of accounts, carrying the weight each kind contributed. Kinds
combine as a noisy-OR (``1 - prod(1 - w_kind)``), so one strong kind or several weak
ones make a strong edge. Links to accounts banned earlier are kept as edge facts and as
the per-account ``g_banned`` feature.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from ._base import EdgeBuilder, LinkConfig, build_pairs
from ._facts import prepare_facts
from .kinds import BUILDERS

__all__ = ["BUILDERS", "EdgeBuilder", "LinkConfig", "LinkGraph", "build_links", "graph_features"]


@dataclass
class LinkGraph:
    """The weighted account graph.

    ``accounts`` is the node order; ``edges`` has ``a, b`` (node indices), ``weight``
    and one ``w_<kind>`` column per evidence kind (0 when that kind did not link the
    pair). The DuckDB temp tables ``link_edges`` and ``link_values`` (kind, value,
    account_id, w) stay on the connection for campaigns to read indicators from.
    """

    accounts: list[str]
    edges: pa.Table
    kinds: tuple[str, ...]
    banned: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    facts: dict[str, bool] = field(default_factory=dict)
    config: LinkConfig = field(default_factory=LinkConfig)

    @property
    def n_edges(self) -> int:
        """Number of linked pairs."""
        return self.edges.num_rows


def build_links(con: duckdb.DuckDBPyConnection, cfg: LinkConfig | None = None) -> LinkGraph:
    """Build the linkage graph from the ``exchanges`` / ``accounts`` tables on ``con``."""
    cfg = cfg or LinkConfig()
    facts = prepare_facts(con)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE link_pairs (a VARCHAR, b VARCHAR, kind VARCHAR, "
        "n_shared INTEGER, w DOUBLE, top_value VARCHAR)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE link_values (kind VARCHAR, value VARCHAR, account_id VARCHAR, w DOUBLE)"
    )
    timings: dict[str, float] = {}
    kinds = [k for k in BUILDERS if cfg.kinds is None or k in cfg.kinds]
    used: list[str] = []
    for k in kinds:
        b = BUILDERS[k]
        if any(not facts.get(n, False) for n in b.needs):
            continue
        t0 = time.perf_counter()
        build_pairs(con, b, cfg)
        timings[k] = time.perf_counter() - t0
        used.append(k)
    accounts = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT account_id FROM link_accounts ORDER BY account_id"
        ).fetchall()
    ]
    con.execute("CREATE OR REPLACE TEMP TABLE link_nodes (account_id VARCHAR, idx INTEGER)")
    con.register(
        "_nodes",
        pa.table({"account_id": accounts, "idx": np.arange(len(accounts), dtype=np.int32)}),
    )
    con.execute("INSERT INTO link_nodes SELECT * FROM _nodes")
    con.unregister("_nodes")
    per_kind = ", ".join(
        f"coalesce(max(CASE WHEN kind = '{k}' THEN w END), 0.0) AS w_{k}" for k in used
    )
    sep = ", " if per_kind else ""
    strong = [k for k in used if BUILDERS[k].strong]
    family = " ".join(f"WHEN '{k}' THEN '{BUILDERS[k].family or k}'" for k in used)
    fam_sql = f"CASE p.kind {family} ELSE p.kind END" if used else "p.kind"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE link_edges AS
            SELECT na.idx AS a, nb.idx AS b,
                   (1 - exp(sum(ln(1 - least(p.w, 0.999)))))
                   * CASE WHEN count(DISTINCT {fam_sql}) = 1
                               AND NOT bool_or(p.kind IN {(*strong, "-", "--")!r})
                          THEN {cfg.lone_weak} ELSE 1.0 END AS weight{sep}{per_kind}
            FROM link_pairs p JOIN link_nodes na ON na.account_id = p.a
            JOIN link_nodes nb ON nb.account_id = p.b
            GROUP BY na.idx, nb.idx"""
    )
    edges = con.execute("SELECT * FROM link_edges ORDER BY a, b").to_arrow_table()
    banned_rows = con.execute(
        "SELECT n.idx FROM link_accounts a JOIN link_nodes n USING (account_id) WHERE a.status = 'banned'"
    ).fetchall()
    banned = np.zeros(len(accounts), dtype=bool)
    banned[[r[0] for r in banned_rows]] = True
    return LinkGraph(accounts, edges, tuple(used), banned, timings, facts, cfg)


def _top_k_sum(node: np.ndarray, w: np.ndarray, n: int, k: int) -> np.ndarray:
    """Per node, the sum of its ``k`` strongest edge weights (``node`` holds both ends)."""
    if node.size == 0:
        return np.zeros(n)
    order = np.lexsort((-w, node))
    node_s, w_s = node[order], w[order]
    starts = np.searchsorted(node_s, np.arange(n))
    rank = np.arange(node_s.size) - starts[node_s]
    keep = rank < k
    return np.bincount(node_s[keep], w_s[keep], minlength=n)


def graph_features(graph: LinkGraph, cfg: LinkConfig | None = None) -> dict[str, np.ndarray]:
    """Per-account graph features, aligned with ``graph.accounts``.

    Counted so that they do not move with the size of the population: a group of up to
    ``clique_max`` accounts is a clique and a larger one a ring of ``2 x fanout``
    neighbours, so raw degree would jump when the same campaign is seen in a bigger log.
    ``g_degree`` counts linked accounts up to ``2 x fanout``; ``g_strength`` sums the
    ``2 x fanout`` strongest links; ``g_max_<kind>`` is the strongest link of each kind;
    ``g_banned`` the strongest link to an account banned earlier.
    """
    cfg = cfg or graph.config
    k = 2 * cfg.fanout
    n = len(graph.accounts)
    a = graph.edges.column("a").to_numpy().astype(np.int64) if n else np.zeros(0, np.int64)
    b = graph.edges.column("b").to_numpy().astype(np.int64) if n else np.zeros(0, np.int64)
    w = graph.edges.column("weight").to_numpy() if graph.n_edges else np.zeros(0)
    ends = np.concatenate([a, b])
    both = np.concatenate([w, w])
    degree = np.bincount(ends, minlength=n).astype(float)
    out: dict[str, np.ndarray] = {
        "g_degree": np.minimum(degree, float(k)),
        "g_strength": _top_k_sum(ends, both, n, k),
    }
    for kind in BUILDERS:  # every kind, so the feature set does not depend on the data
        m = np.zeros(n)
        if kind in graph.kinds and graph.n_edges:
            wk = graph.edges.column(f"w_{kind}").to_numpy()
            np.maximum.at(m, a, wk)
            np.maximum.at(m, b, wk)
        out[f"g_max_{kind}"] = m
    ban = np.zeros(n)
    if graph.n_edges:
        np.maximum.at(ban, a, np.where(graph.banned[b], w, 0.0))
        np.maximum.at(ban, b, np.where(graph.banned[a], w, 0.0))
    out["g_banned"] = ban
    return out
