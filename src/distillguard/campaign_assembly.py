"""Campaign assembly: flagged accounts over firm links, grouped into one campaign per actor.

The connected groups of flagged accounts are split by Leiden into parts (an actor's
payment sub-groups, or two actors that touch through a few shared values), then the
parts are merged back agglomeratively, most alike first. Two parts merge when both hold:

* **tied by actor-specific evidence**: either the links between them that say "same
  operator" (payment, creation burst, addresses, /24s, client fingerprint; not shared
  templates, system prompts or lock-step on them, which two actors asking the same public
  benchmark questions share) weigh at least ``merge_ratio`` of what the modularity null
  model expects (``vol_p x vol_q / total``), or the exit addresses the two parts used
  over the whole span overlap at least ``infra_ratio`` of what chance would give
  (``tot_p x tot_q / total`` over rarity-weighted addresses): one hydra's payment
  sub-groups rotate through one address pool, two actors do not share exits;
* **alike**: their capability mixes (share of coding, reasoning, tool use... over their
  exchanges) differ by at most ``tv_base + tv_noise / sqrt(smaller part)`` in total
  variation. One actor runs one tool chain, so its sub-groups ask for the same mix.
  The allowance grows for small parts, whose mix is a noisy estimate.

After each merge the ties and the mix of the merged part are recomputed, so small parts
join the part of their own actor (the closest mix) before they could bridge two actors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb
import igraph as ig
import leidenalg
import numpy as np
import pyarrow as pa
from scipy import sparse

from .links import BUILDERS, LinkGraph
from .links._facts import table_columns
from .scoring.combine import AccountScores

__all__ = [
    "ACTOR_FAMILIES",
    "AddressUse",
    "account_profiles",
    "actor_link_weights",
    "address_use",
    "campaign_id",
    "select_members",
    "split_actors",
]

#: Total-variation allowance between two parts' capability mixes (see module doc).
TV_BASE = 0.12
TV_NOISE = 0.5
#: Link families that say "same operator" (content and timing say "same tool or task").
ACTOR_FAMILIES: tuple[str, ...] = ("account", "network", "client")
#: Shared exit addresses at least this share of chance tie two parts (see module doc).
INFRA_RATIO = 0.2
#: Share of the full link weight (content and timing included) in the Leiden split when
#: parts are tied by actor-specific evidence (see :func:`split_actors`).
SPLIT_CONTENT = 0.1
#: Resolution of the split (Leiden, constant Potts model): a part holds together where its
#: link weight per pair of members is above it. Modularity's null model would join a
#: small payment group to a big neighbour over a single shared SDK build; a part cut too
#: fine costs nothing, the merge step joins parts back on evidence.
SPLIT_RESOLUTION = 0.2
#: The least link weight (about one firm actor-specific link) and the least rarity-weighted
#: count of shared exit addresses that tie two parts, whatever the null model expects.
MIN_EVIDENCE = 0.9
MIN_ADDRESSES = 2.0
#: What one shared /24 (IPv6 /48) counts for, against one shared exit address.
PREFIX_WEIGHT = 0.5


def campaign_id(members: list[str]) -> str:
    """Stable campaign id: a hash of the smallest member id."""
    return "camp_" + hashlib.sha1(min(members).encode()).hexdigest()[:10]


@dataclass
class AddressUse:
    """Which exit addresses each account used over the whole span.

    ``matrix`` is accounts x addresses (rows aligned with the accounts asked for, 1 where
    the account used the address); ``weight`` the rarity of each address in the whole
    population, ``ln(N / n) / ln(N)`` for an address used by ``n`` of ``N`` accounts, so a
    campus NAT or a cloud egress range many accounts share counts for little.
    """

    matrix: sparse.csr_matrix
    weight: np.ndarray


def address_use(
    con: duckdb.DuckDBPyConnection,
    accounts: list[str],
    idx: np.ndarray,
    *,
    prefix_weight: float = PREFIX_WEIGHT,
) -> AddressUse | None:
    """Exit addresses and their /24s (IPv6 /48s, from the signals stage when it ran) of
    the accounts ``idx`` (graph order) over the span, with rarity; a shared /24 counts
    ``prefix_weight`` of a shared address."""
    if idx.size == 0 or "client_ip" not in table_columns(con, "exchanges"):
        return None
    values = "SELECT account_id, 'a:' || client_ip AS v, 1.0 AS f FROM exchanges"
    if "ip_prefix" in table_columns(con, "exchange_signals"):
        values += (
            f" UNION ALL SELECT account_id, 'p:' || ip_prefix::VARCHAR, {float(prefix_weight)}"
            " FROM exchange_signals"
        )
    con.register(
        "_addr_ids",
        pa.table({"account_id": [accounts[i] for i in idx], "row": np.arange(idx.size)}),
    )
    try:
        n_total = con.execute("SELECT count(DISTINCT account_id) FROM exchanges").fetchone()
        used = con.execute(
            f"""WITH src AS ({values}),
               mine AS (
                   SELECT DISTINCT p.row, s.v, s.f
                   FROM src s JOIN _addr_ids p USING (account_id) WHERE s.v IS NOT NULL),
               pop AS (
                   SELECT v, count(DISTINCT account_id) AS n FROM src
                   WHERE v IN (SELECT v FROM mine) GROUP BY 1)
               SELECT m.row, dense_rank() OVER (ORDER BY m.v) - 1, p.n, m.f
               FROM mine m JOIN pop p USING (v)"""
        ).fetchnumpy()
    finally:
        con.unregister("_addr_ids")
    rows, cols, n, f = (np.asarray(used[k]) for k in used)
    big_n = float(max(n_total[0] if n_total else 0, 2))
    if rows.size == 0:
        return None
    n_cols = int(cols.max()) + 1
    weight = np.zeros(n_cols)
    idf = np.log(big_n / np.maximum(n, 1)) / np.log(big_n)
    weight[cols.astype(np.int64)] = np.clip(idf, 0.0, 1.0) * f.astype(float)
    mat = sparse.csr_matrix(
        (np.ones(rows.size), (rows.astype(np.int64), cols.astype(np.int64))),
        shape=(idx.size, n_cols),
    )
    mat.data[:] = 1.0
    return AddressUse(mat, weight)


def account_profiles(
    con: duckdb.DuckDBPyConnection,
    accounts: list[str],
    idx: np.ndarray,
    column: str = "capability",
) -> np.ndarray | None:
    """Mix of ``column`` (shares over its values in ``exchange_signals``; the capability
    targeted by default, ``client_family`` for the tool chain) of the accounts ``idx``
    (graph order), one row each; ``None`` when the store does not have it."""
    if idx.size == 0 or column not in table_columns(con, "exchange_signals"):
        return None
    con.register(
        "_prof_ids",
        pa.table({"account_id": [accounts[i] for i in idx], "row": np.arange(idx.size)}),
    )
    try:
        rows = con.execute(
            f"""SELECT p.row, s.{column}::VARCHAR, count(*)
               FROM exchange_signals s JOIN _prof_ids p USING (account_id)
               WHERE s.{column} IS NOT NULL GROUP BY 1, 2"""
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


def actor_link_weights(graph: LinkGraph) -> np.ndarray:
    """Per edge, the noisy-OR of its actor-specific kinds only (:data:`ACTOR_FAMILIES`)."""
    keep = np.ones(graph.n_edges)
    for k in graph.kinds:
        if (BUILDERS[k].family or k) in ACTOR_FAMILIES:
            keep *= 1.0 - np.clip(graph.edges.column(f"w_{k}").to_numpy(), 0.0, 0.999)
    return 1.0 - keep


class _Overlap:
    """Rarity-weighted shared addresses between parts, kept current as parts merge."""

    def __init__(self, use: AddressUse, memb: np.ndarray, k: int) -> None:
        ind = sparse.csr_matrix(
            (np.ones(memb.size), (memb, np.arange(memb.size))), shape=(k, memb.size)
        )
        hit = (ind @ use.matrix).tocsc()
        hit.data[:] = 1.0
        w = use.weight
        self.tot = np.asarray(hit @ w).ravel()
        self.total = max(float(w[np.asarray(hit.sum(axis=0)).ravel() > 0].sum()), 1e-9)
        multi = np.flatnonzero(np.asarray(hit.sum(axis=0)).ravel() >= 2)
        self.x = hit[:, multi].toarray() > 0
        self.w = w[multi]
        self.shared = (self.x * self.w) @ self.x.T.astype(float)
        np.fill_diagonal(self.shared, 0.0)

    def ratio(self, ids: np.ndarray) -> np.ndarray:
        """Shared weight over chance (``tot_p x tot_q / total``) among parts ``ids``."""
        expected = np.outer(self.tot[ids], self.tot[ids]) / self.total
        obs = self.shared[np.ix_(ids, ids)]
        return np.divide(obs, expected, out=np.zeros_like(expected), where=expected > 0)

    def merge(self, p: int, q: int) -> None:
        """Part ``q`` joins part ``p``."""
        self.tot[p] += self.tot[q] - self.shared[p, q]
        self.x[p] |= self.x[q]
        self.x[q] = False
        self.tot[q] = 0.0
        row = (self.x[p] * self.w) @ self.x.T.astype(float)
        self.shared[p], self.shared[:, p] = row, row
        self.shared[q], self.shared[:, q] = 0.0, 0.0
        self.shared[p, p] = 0.0


def split_actors(
    g: ig.Graph,
    nodes: np.ndarray,
    seed: int,
    merge_ratio: float,
    profiles: np.ndarray | None = None,
    *,
    tv_base: float = TV_BASE,
    tv_noise: float = TV_NOISE,
    tie_attr: str = "weight",
    addresses: AddressUse | None = None,
    infra_ratio: float = INFRA_RATIO,
    split_content: float = SPLIT_CONTENT,
    resolution: float = SPLIT_RESOLUTION,
    min_evidence: float = MIN_EVIDENCE,
    min_addresses: float = MIN_ADDRESSES,
    orphan_below: int = 3,
) -> list[np.ndarray]:
    """Split one connected group of flagged accounts into actors (see module doc).

    ``profiles`` (rows aligned with ``nodes``) are the accounts' capability mixes; with
    ``None`` only the tie tests apply. ``tie_attr`` names the edge attribute the link tie
    reads (``"weight"``: every kind; :func:`select_members` passes the actor-specific
    weight); with another attribute, Leiden also splits on it plus ``split_content`` x
    the full weight, so two actors that share only benchmark content start in separate
    parts. ``addresses`` (rows aligned with ``nodes``) adds the shared-exit tie.
    ``resolution`` is the resolution of the split (see :data:`SPLIT_RESOLUTION`);
    ``min_evidence`` and ``min_addresses`` the least absolute evidence of either tie.
    Parts left smaller than ``orphan_below`` (no actor evidence tied them to anything)
    may then join each other, and only each other, on the full weight.
    """
    sub = g.induced_subgraph(nodes.tolist())
    split_w = "weight"
    if tie_attr != "weight":  # parts follow actor evidence; shared content only nudges
        own = np.asarray(sub.es[tie_attr], dtype=float)
        sub.es["_split"] = (own + split_content * np.asarray(sub.es["weight"])).tolist()
        split_w = "_split"
    part = leidenalg.find_partition(
        sub,
        leidenalg.CPMVertexPartition,
        weights=split_w,
        seed=seed,
        resolution_parameter=resolution,
    )
    memb = np.asarray(part.membership, dtype=np.int64)
    k = int(memb.max()) + 1
    if k == 1:
        return [nodes]
    ends = np.asarray(sub.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    prof = None
    if profiles is not None and profiles.shape[0] == nodes.size and profiles.shape[1]:
        prof = profiles
    rule = _Rule(merge_ratio, tv_base, tv_noise, infra_ratio, min_evidence, min_addresses)
    overlap = _Overlap(addresses, memb, k) if addresses is not None else None
    root = _agglomerate(
        memb, k, ends, np.asarray(sub.es[tie_attr], dtype=float), prof, rule, overlap
    )
    memb = root[memb]
    if tie_attr != "weight" and orphan_below > 1:
        # parts too small to be campaigns that no actor evidence tied to anything: the
        # accounts of an actor that shares no infrastructure. They may join each other
        # on every kind of evidence (templates, lock-step included), never a part that
        # actor evidence built, so a benchmark template cannot join two operations.
        # Single accounts carry single links, so no absolute floor here.
        sizes = np.bincount(memb, minlength=k)
        orphan = np.flatnonzero(sizes[memb] < orphan_below)
        if orphan.size >= orphan_below:
            sub_ids, o_memb = np.unique(memb[orphan], return_inverse=True)
            local = np.full(nodes.size, -1, dtype=np.int64)
            local[orphan] = np.arange(orphan.size)
            keep = (local[ends[:, 0]] >= 0) & (local[ends[:, 1]] >= 0)
            o_ends = local[ends[keep]]
            o_w = np.asarray(sub.es["weight"], dtype=float)[keep]
            o_prof = None if prof is None else prof[orphan]
            loose = _Rule(merge_ratio, tv_base, tv_noise, infra_ratio, 0.0, min_addresses)
            o_root = _agglomerate(o_memb, sub_ids.size, o_ends, o_w, o_prof, loose, None)
            memb[orphan] = sub_ids[o_root[o_memb]]
    return [nodes[memb == r] for r in np.unique(memb)]


@dataclass(frozen=True)
class _Rule:
    """The merge thresholds of :func:`split_actors`."""

    merge_ratio: float
    tv_base: float
    tv_noise: float
    infra_ratio: float
    min_evidence: float
    min_addresses: float


def _agglomerate(
    memb: np.ndarray,
    k: int,
    ends: np.ndarray,
    w: np.ndarray,
    profiles: np.ndarray | None,
    rule: _Rule,
    overlap: _Overlap | None,
) -> np.ndarray:
    """Merge the ``k`` parts of ``memb`` while tied and alike (see module doc); returns
    the surviving part of each part."""
    pa_, pb = memb[ends[:, 0]], memb[ends[:, 1]]
    vol = np.bincount(pa_, w, minlength=k) + np.bincount(pb, w, minlength=k)
    between = np.zeros((k, k))
    np.add.at(between, (pa_, pb), w)
    between = between + between.T
    np.fill_diagonal(between, 0.0)
    total = max(float(vol.sum()), 1e-9)
    size = np.bincount(memb, minlength=k).astype(float)
    if profiles is not None:
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
        # a tie needs evidence in absolute terms too: for tiny parts the null model
        # expects almost nothing, so one shared SDK build would pass the ratio alone
        tied = (ratio >= rule.merge_ratio) & (between[np.ix_(ids, ids)] >= rule.min_evidence)
        if overlap is not None:
            infra = overlap.ratio(ids)
            tied |= (infra >= rule.infra_ratio) & (
                overlap.shared[np.ix_(ids, ids)] >= rule.min_addresses
            )
            ratio = np.maximum(ratio, infra)
        tv = 0.5 * np.abs(mix[ids][:, None, :] - mix[ids][None, :, :]).sum(axis=2)
        small = np.minimum.outer(size[ids], size[ids])
        allowed = tied & (tv <= rule.tv_base + rule.tv_noise / np.sqrt(small))
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
        if overlap is not None:
            overlap.merge(p, q)
        alive[q] = False
        root[root == q] = p
    return root


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
    infra_ratio: float = INFRA_RATIO,
    split_content: float = SPLIT_CONTENT,
) -> dict[str, list[int]]:
    """Campaigns = groups of flagged accounts over firm links, split into actors.

    Only flagged accounts take part, so an ordinary account that shares a popular
    template with a campaign never joins it, and an actor's accounts stay together
    even when the whole-graph communities put some of them beside ordinary users.
    Accounts known only from the registry (``seen`` false) link others but are not
    listed as members. With ``con``, parts must also ask for a like capability mix and
    may be tied by the exit addresses they shared over the span.
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
    g.es["actor"] = actor_link_weights(graph)[keep].tolist()
    comp = np.asarray(g.connected_components().membership, dtype=np.int64)
    sizes = np.bincount(comp[flagged], minlength=int(comp.max()) + 1)
    big = np.flatnonzero(sizes >= min_members)
    grouped = np.flatnonzero(np.isin(comp, big) & flagged)
    prof_all = account_profiles(con, graph.accounts, grouped) if con is not None else None
    addr_all = address_use(con, graph.accounts, grouped) if con is not None else None
    row = np.full(len(graph.accounts), -1, dtype=np.int64)
    row[grouped] = np.arange(grouped.size)
    for c in big:
        nodes = np.flatnonzero((comp == c) & flagged)
        prof = None if prof_all is None else prof_all[row[nodes]]
        addr = None
        if addr_all is not None:
            addr = AddressUse(addr_all.matrix[row[nodes]], addr_all.weight)
        parts = split_actors(
            g,
            nodes,
            seed,
            merge_ratio,
            prof,
            tie_attr="actor",
            addresses=addr,
            infra_ratio=infra_ratio,
            split_content=split_content,
            orphan_below=min_members,
        )
        for part in parts:
            idx = part[seen[part]] if seen is not None else part
            if idx.size >= min_members:
                out[campaign_id([graph.accounts[i] for i in idx])] = [int(i) for i in idx]
    return out
