"""Campaign assembly: flagged accounts over firm links, grouped into one campaign per actor.

The connected groups of flagged accounts are split by Leiden into parts (an actor's
payment sub-groups, or two actors that touch through a few shared values), then the
parts are merged back agglomeratively, most alike first. Two parts merge when both hold:

* **tied**: the link weight between them is at least ``merge_ratio`` of what the
  modularity null model expects (``vol_p x vol_q / total``): one hydra whose payment
  sub-groups share its address pool, templates and timing is tied together, two actors
  that meet through one popular benchmark template are not;
* **alike**: their capability mixes (share of coding, reasoning, tool use... over their
  exchanges) differ by at most ``tv_base + tv_noise / sqrt(smaller part)`` in total
  variation. One actor runs one tool chain, so its sub-groups ask for the same mix; a
  reasoning-and-grading operation and a hydra that share benchmark templates do not.
  The allowance grows for small parts, whose mix is a noisy estimate.

After each merge the ratio and the mix of the merged part are recomputed, so small parts
join the part of their own actor (the closest mix) before they could bridge two actors.
"""

from __future__ import annotations

import hashlib

import duckdb
import igraph as ig
import leidenalg
import numpy as np
import pyarrow as pa

from .links import LinkGraph
from .links._facts import table_columns
from .scoring.combine import AccountScores

__all__ = ["account_profiles", "campaign_id", "select_members", "split_actors"]

#: Total-variation allowance between two parts' capability mixes (see module doc).
TV_BASE = 0.12
TV_NOISE = 0.5


def campaign_id(members: list[str]) -> str:
    """Stable campaign id: a hash of the smallest member id."""
    return "camp_" + hashlib.sha1(min(members).encode()).hexdigest()[:10]


def account_profiles(
    con: duckdb.DuckDBPyConnection, accounts: list[str], idx: np.ndarray
) -> np.ndarray | None:
    """Capability mix (shares over the labels in ``exchange_signals``) of the accounts
    ``idx`` (graph order), one row each; ``None`` when the store has no capabilities."""
    if idx.size == 0 or "capability" not in table_columns(con, "exchange_signals"):
        return None
    con.register(
        "_prof_ids",
        pa.table({"account_id": [accounts[i] for i in idx], "row": np.arange(idx.size)}),
    )
    try:
        rows = con.execute(
            """SELECT p.row, s.capability::VARCHAR, count(*)
               FROM exchange_signals s JOIN _prof_ids p USING (account_id)
               WHERE s.capability IS NOT NULL GROUP BY 1, 2"""
        ).fetchall()
    finally:
        con.unregister("_prof_ids")
    if not rows:
        return None
    labels = sorted({r[1] for r in rows})
    col = {c: j for j, c in enumerate(labels)}
    out = np.zeros((idx.size, len(labels)))
    for r, cap, n in rows:
        out[int(r), col[cap]] += float(n)
    tot = out.sum(axis=1, keepdims=True)
    return np.divide(out, tot, out=np.zeros_like(out), where=tot > 0)


def split_actors(
    g: ig.Graph,
    nodes: np.ndarray,
    seed: int,
    merge_ratio: float,
    profiles: np.ndarray | None = None,
    *,
    tv_base: float = TV_BASE,
    tv_noise: float = TV_NOISE,
) -> list[np.ndarray]:
    """Split one connected group of flagged accounts into actors (see module doc).

    ``profiles`` (rows aligned with ``nodes``) are the accounts' capability mixes; with
    ``None`` only the link test applies.
    """
    sub = g.induced_subgraph(nodes.tolist())
    part = leidenalg.find_partition(
        sub, leidenalg.ModularityVertexPartition, weights="weight", seed=seed
    )
    memb = np.asarray(part.membership, dtype=np.int64)
    k = int(memb.max()) + 1
    if k == 1:
        return [nodes]
    ends = np.asarray(sub.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    w = np.asarray(sub.es["weight"], dtype=float)
    pa_, pb = memb[ends[:, 0]], memb[ends[:, 1]]
    vol = np.bincount(pa_, w, minlength=k) + np.bincount(pb, w, minlength=k)
    between = np.zeros((k, k))
    np.add.at(between, (pa_, pb), w)
    between = between + between.T
    np.fill_diagonal(between, 0.0)
    total = max(float(vol.sum()), 1e-9)
    size = np.bincount(memb, minlength=k).astype(float)
    if profiles is not None and profiles.shape[0] == nodes.size and profiles.shape[1]:
        mix = np.vstack([profiles[memb == p].mean(axis=0) for p in range(k)])
    else:
        mix = np.zeros((k, 1))
    alive = np.ones(k, dtype=bool)
    root = np.arange(k)
    while alive.sum() > 1:
        ids = np.flatnonzero(alive)
        expected = np.outer(vol[ids], vol[ids]) / total
        ratio = np.divide(
            between[np.ix_(ids, ids)], expected, out=np.zeros_like(expected), where=expected > 0
        )
        tv = 0.5 * np.abs(mix[ids][:, None, :] - mix[ids][None, :, :]).sum(axis=2)
        small = np.minimum.outer(size[ids], size[ids])
        allowed = (ratio >= merge_ratio) & (tv <= tv_base + tv_noise / np.sqrt(small))
        np.fill_diagonal(allowed, False)
        if not allowed.any():
            break
        cost = np.where(allowed, tv - 1e-3 * np.minimum(ratio, 10.0), np.inf)
        i, j = np.unravel_index(int(np.argmin(cost)), cost.shape)
        p, q = int(ids[i]), int(ids[j])
        mix[p] = (mix[p] * size[p] + mix[q] * size[q]) / (size[p] + size[q])
        size[p] += size[q]
        vol[p] += vol[q]
        between[p] += between[q]
        between[:, p] += between[:, q]
        between[p, p] = 0.0
        between[q] = 0.0
        between[:, q] = 0.0
        alive[q] = False
        root[root == q] = p
    groups = root[memb]
    return [nodes[groups == r] for r in np.unique(groups)]


def select_members(
    graph: LinkGraph,
    scores: AccountScores,
    flag: float,
    min_members: int,
    firm: float,
    *,
    seed: int = 42,
    merge_ratio: float = 0.2,
    seen: np.ndarray | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> dict[str, list[int]]:
    """Campaigns = groups of flagged accounts over firm links, split into actors.

    Only flagged accounts take part, so an ordinary account that shares a popular
    template with a campaign never joins it, and an actor's accounts stay together
    even when the whole-graph communities put some of them beside ordinary users.
    Accounts known only from the registry (``seen`` false) link others but are not
    listed as members. With ``con``, parts must also ask for a like capability mix.
    """
    out: dict[str, list[int]] = {}
    flagged = scores.risk >= flag
    if graph.n_edges == 0 or not flagged.any():
        return out
    a = graph.edges.column("a").to_numpy().astype(np.int64)
    b = graph.edges.column("b").to_numpy().astype(np.int64)
    w = graph.edges.column("weight").to_numpy()
    keep = flagged[a] & flagged[b] & (w >= firm)
    g = ig.Graph(n=len(graph.accounts), edges=np.column_stack([a[keep], b[keep]]).tolist())
    g.es["weight"] = w[keep].tolist()
    comp = np.asarray(g.connected_components().membership, dtype=np.int64)
    sizes = np.bincount(comp[flagged], minlength=int(comp.max()) + 1)
    big = np.flatnonzero(sizes >= min_members)
    grouped = np.flatnonzero(np.isin(comp, big) & flagged)
    prof_all = account_profiles(con, graph.accounts, grouped) if con is not None else None
    row = np.full(len(graph.accounts), -1, dtype=np.int64)
    row[grouped] = np.arange(grouped.size)
    for c in big:
        nodes = np.flatnonzero((comp == c) & flagged)
        prof = None if prof_all is None else prof_all[row[nodes]]
        for part in split_actors(g, nodes, seed, merge_ratio, prof):
            idx = part[seen[part]] if seen is not None else part
            if idx.size >= min_members:
                out[campaign_id([graph.accounts[i] for i in idx])] = [int(i) for i in idx]
    return out
