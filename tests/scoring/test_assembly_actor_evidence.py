"""Campaign assembly ties parts by actor-specific evidence, not by shared public content."""

from __future__ import annotations

import duckdb
import igraph as ig
import numpy as np
import pyarrow as pa
from scipy import sparse

from distillguard.campaign_assembly import (
    AddressUse,
    actor_link_weights,
    address_use,
    split_actors,
)
from distillguard.links import LinkGraph


def _graph(
    groups: list[int], cross: list[tuple[int, int, int, float, float]], seed: int = 0
) -> tuple[ig.Graph, list[np.ndarray]]:
    """Payment cliques (weight 0.8, actor weight 0.8) plus ``(ga, gb, links, weight,
    actor_weight)`` random links between groups."""
    rng = np.random.default_rng(seed)
    edges: list[tuple[int, int]] = []
    w: list[float] = []
    wa: list[float] = []
    members: list[np.ndarray] = []
    start = 0
    for size in groups:
        ids = np.arange(start, start + size)
        members.append(ids)
        for i in range(size):
            for j in range(i + 1, size):
                edges.append((int(ids[i]), int(ids[j])))
                w.append(0.8)
                wa.append(0.8)
        start += size
    for ga, gb, links, weight, actor in cross:
        for _ in range(links):
            edges.append((int(rng.choice(members[ga])), int(rng.choice(members[gb]))))
            w.append(weight)
            wa.append(actor)
    g = ig.Graph(n=start, edges=edges)
    g.es["weight"] = w
    g.es["actor"] = wa
    return g, members


def _addresses(members: list[np.ndarray], pools: list[int], n: int, per: int = 20) -> AddressUse:
    """Each account draws ``per`` exit addresses from its group's pool (pools of 200
    addresses, numbered by pool id), all rare in the population (weight 1)."""
    rng = np.random.default_rng(1)
    rows, cols = [], []
    for ids, pool in zip(members, pools, strict=True):
        for i in ids:
            for c in rng.choice(200, size=per, replace=False):
                rows.append(int(i))
                cols.append(pool * 200 + int(c))
    m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, 200 * (max(pools) + 1)))
    m.data[:] = 1.0
    return AddressUse(m, np.ones(m.shape[1]))


def test_two_actors_tied_only_by_shared_benchmark_content_stay_apart() -> None:
    # two graders of different actors, same capability mix, densely linked by shared
    # templates / system prompts only (actor-specific weight 0 across)
    g, _ = _graph([20, 20], [(0, 1, 120, 0.3, 0.0)])
    prof = np.tile([0.6, 0.4, 0.0], (40, 1))
    parts = split_actors(g, np.arange(40), 42, 0.1, prof, tie_attr="actor")
    assert sorted(sorted(p.tolist()) for p in parts) == [list(range(20)), list(range(20, 40))]
    # the old rule (every kind ties) joins them: this is what the actor weight prevents
    assert len(split_actors(g, np.arange(40), 42, 0.1, prof)) == 1


def test_payment_groups_rotating_through_one_address_pool_form_one_actor() -> None:
    # six payment groups, no actor-specific links between them, one shared exit pool
    g, members = _graph([10] * 6, [(i, (i + 1) % 6, 15, 0.15, 0.0) for i in range(6)])
    prof = np.tile([0.4, 0.3, 0.3], (60, 1))
    nodes = np.arange(60)
    apart = split_actors(g, nodes, 42, 0.1, prof, tie_attr="actor")
    assert len(apart) > 1  # without the address evidence nothing ties the groups
    pool = _addresses(members, [0] * 6, 60)
    whole = split_actors(g, nodes, 42, 0.1, prof, tie_attr="actor", addresses=pool)
    assert len(whole) == 1


def test_distinct_exit_pools_do_not_tie_two_actors() -> None:
    g, members = _graph([10, 10, 10, 10], [(0, 2, 40, 0.3, 0.0), (1, 3, 40, 0.3, 0.0)])
    prof = np.tile([0.5, 0.5], (40, 1))
    pool = _addresses(members, [0, 0, 1, 1], 40)  # actor A: groups 0, 1; actor B: 2, 3
    parts = split_actors(g, np.arange(40), 42, 0.1, prof, tie_attr="actor", addresses=pool)
    got = sorted(sorted(p.tolist()) for p in parts)
    assert got == [[*range(10), *range(10, 20)], [*range(20, 30), *range(30, 40)]]


def test_actor_link_weight_ignores_content_and_timing_kinds() -> None:
    edges = pa.table(
        {
            "a": [0, 1],
            "b": [1, 2],
            "weight": [0.9, 0.6],
            "w_payment": [0.0, 0.5],
            "w_template": [0.8, 0.2],
            "w_sync": [0.5, 0.0],
            "w_client_fp": [0.0, 0.2],
        }
    )
    graph = LinkGraph(
        ["a", "b", "c"], edges, ("payment", "template", "sync", "client_fp"), np.zeros(3, bool)
    )
    w = actor_link_weights(graph)
    assert w[0] == 0.0
    assert abs(w[1] - (1 - 0.5 * 0.8)) < 1e-9


def test_address_rarity_discounts_addresses_many_accounts_share() -> None:
    con = duckdb.connect()
    accts = [f"acct_{i}" for i in range(50)]
    rows = {"account_id": [], "client_ip": []}
    for i, a in enumerate(accts):
        rows["account_id"] += [a, a]
        rows["client_ip"] += ["100.64.0.1", f"203.0.113.{i}"]  # a shared NAT + its own
    rows["account_id"] += ["acct_0", "acct_1"]
    rows["client_ip"] += ["198.51.100.7", "198.51.100.7"]  # a rare pair
    con.register("_x", pa.table(rows))
    con.execute("CREATE TABLE exchanges AS SELECT * FROM _x")
    use = address_use(con, accts, np.array([0, 1, 2]))
    assert use is not None and use.matrix.shape[0] == 3
    m = use.matrix.toarray()
    shared_nat = np.flatnonzero(m.sum(axis=0) == 3)
    rare = np.flatnonzero((m[0] > 0) & (m[1] > 0) & (m[2] == 0))
    assert shared_nat.size == 1 and rare.size == 1
    assert use.weight[shared_nat[0]] < 0.05  # used by every account: no evidence
    assert use.weight[rare[0]] > 0.8


def test_accounts_no_actor_evidence_ties_gather_among_themselves_not_into_an_actor() -> None:
    # 0-11: an operation with one card per account and no shared exits: twelve
    # singletons tied only by shared templates (actor weight 0); 12-31: another actor's
    # payment clique that shares the same benchmark templates with them
    rng = np.random.default_rng(2)
    edges: list[tuple[int, int]] = []
    w: list[float] = []
    wa: list[float] = []
    for i in range(12):
        for j in range(i + 1, 12):
            if rng.random() < 0.6:
                edges.append((i, j))
                w.append(0.3)
                wa.append(0.0)
    for i in range(12, 32):
        for j in range(i + 1, 32):
            edges.append((i, j))
            w.append(0.9)
            wa.append(0.9)
    for _ in range(60):
        edges.append((int(rng.integers(12)), int(rng.integers(12, 32))))
        w.append(0.3)
        wa.append(0.0)
    g = ig.Graph(n=32, edges=edges)
    g.es["weight"] = w
    g.es["actor"] = wa
    prof = np.tile([0.6, 0.4], (32, 1))
    parts = split_actors(g, np.arange(32), 42, 0.1, prof, tie_attr="actor")
    got = sorted(sorted(p.tolist()) for p in parts)
    assert got == [list(range(12)), list(range(12, 32))]
    # without the orphan stage the twelve stay apart and no campaign would list them
    alone = split_actors(g, np.arange(32), 42, 0.1, prof, tie_attr="actor", orphan_below=0)
    assert max(len(p) for p in alone if int(p.min()) < 12) < 3


def test_a_shared_slash24_counts_half_a_shared_address() -> None:
    con = duckdb.connect()
    accts = [f"acct_{i}" for i in range(40)]
    ips = [f"198.51.{i}.9" for i in range(40)]  # every account its own /24 ...
    ips[1] = "198.51.0.77"  # ... except account 1, in account 0's /24
    con.register("_x", pa.table({"account_id": accts, "client_ip": ips}))
    con.execute("CREATE TABLE exchanges AS SELECT * FROM _x")
    con.register(
        "_s", pa.table({"account_id": accts, "ip_prefix": [ip.rsplit(".", 1)[0] for ip in ips]})
    )
    con.execute("CREATE TABLE exchange_signals AS SELECT * FROM _s")
    use = address_use(con, accts, np.array([0, 1]))
    assert use is not None
    m = use.matrix.toarray()
    both = np.flatnonzero((m[0] > 0) & (m[1] > 0))
    assert both.size == 1  # the /24, not an address
    rare = np.log(40 / 2) / np.log(40)
    assert abs(use.weight[both[0]] - 0.5 * rare) < 1e-9
    own = np.flatnonzero((m[0] > 0) & (m[1] == 0))
    assert own.size == 1 and abs(use.weight[own[0]] - 1.0) < 1e-9  # its address, used once
