"""Linkage graph and communities on a hand-made population."""

from __future__ import annotations

import numpy as np

from dg_detect_factory import filled_store
from distillguard.communities import detect_communities
from distillguard.links import LinkConfig, build_links, graph_features


def _names(graph, idx):  # type: ignore[no-untyped-def]
    return {graph.accounts[i] for i in idx}


def test_campaign_accounts_are_linked_and_benign_are_not() -> None:
    store, attack = filled_store()
    g = build_links(store.con)
    a = g.edges.column("a").to_numpy()
    b = g.edges.column("b").to_numpy()
    linked = _names(g, np.concatenate([a, b]))
    assert attack <= linked
    # benign accounts share only a ubiquitous SDK fingerprint: no evidence at all
    assert not {x for x in linked if x.startswith("acct_b")}
    w = g.edges.column("weight").to_numpy()
    assert ((w > 0) & (w <= 1)).all()


def test_rarity_weighting_makes_popular_values_weak() -> None:
    store, attack = filled_store(n_benign=60, n_attack=6)
    g = build_links(store.con, LinkConfig(kinds=("client_fp",), min_idf=0.0))
    ws = g.edges.column("w_client_fp").to_numpy()
    a = g.edges.column("a").to_numpy()
    is_attack = np.array([g.accounts[i] in attack for i in a])
    # 6 accounts share a fingerprint nobody else uses; 60 share the stock SDK one
    assert is_attack.any() and (~is_attack).any()
    assert ws[is_attack].min() > 5 * ws[~is_attack].max()
    assert ws.max() <= 0.6 + 1e-9
    # with the default floor the ubiquitous value is no evidence at all
    g2 = build_links(store.con, LinkConfig(kinds=("client_fp",)))
    a2 = g2.edges.column("a").to_numpy()
    assert all(g2.accounts[i] in attack for i in a2)


def test_large_groups_use_bounded_fanout() -> None:
    store, attack = filled_store(n_attack=60, shared_payment=False)
    cfg = LinkConfig(kinds=("client_fp",), clique_max=10, fanout=3)
    g = build_links(store.con, cfg)
    deg = graph_features(g)["g_degree"]
    idx = [g.accounts.index(x) for x in sorted(attack)]
    assert deg[idx].max() <= 2 * 3  # ring neighbours only, not 59
    assert deg[idx].min() >= 2 * 3


def test_kind_evidence_and_banned_links() -> None:
    store, attack = filled_store()
    g = build_links(store.con)
    f = graph_features(g)
    idx = [g.accounts.index(x) for x in sorted(attack)]
    assert (f["g_max_payment"][idx] > 0.5).all()
    # acct_x000 is banned; its payment partners are linked to a banned account
    partners = [g.accounts.index(f"acct_x{i:03d}") for i in range(1, 6)]
    assert (f["g_banned"][partners] > 0).all()
    others = [g.accounts.index(x) for x in g.accounts if x.startswith("acct_b")]
    assert (f["g_banned"][others] == 0).all()


def test_communities_are_deterministic_and_isolate_the_campaign() -> None:
    store, attack = filled_store()
    g = build_links(store.con)
    c1 = detect_communities(g, seed=1)
    c2 = detect_communities(g, seed=1)
    assert (c1.membership == c2.membership).all()
    # every community holding campaign accounts holds nothing else
    comms = {int(c1.membership[g.accounts.index(x)]) for x in attack}
    held = set().union(*(_names(g, c1.members(c)) for c in comms))
    assert held == attack
    assert c1.internal[[g.accounts.index(x) for x in attack]].min() > 0.2
