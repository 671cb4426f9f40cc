"""Campaign details: the model-release pivot and the actor split of flagged accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from distillguard.campaign_assembly import split_actors as _split
from distillguard.campaigns import _pivots


def test_pivot_found_when_traffic_moves_to_a_new_model() -> None:
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    rows = []
    for h in range(24 * 6):
        t = t0 + timedelta(hours=h)
        if h < 72:
            rows.append(("c1", t, "frontier-1", 10))
        else:  # new model first used at hour 72, half the traffic 5 hours later
            new = 2 if h < 77 else 8
            rows.append(("c1", t, "frontier-1", 10 - new))
            rows.append(("c1", t, "frontier-2", new))
        rows.append(("c2", t, "frontier-1", 10))
    piv = _pivots(rows)
    assert set(piv) == {"c1"}
    assert piv["c1"]["model"] == "frontier-2"
    assert piv["c1"]["hours_to_half"] == 5.0
    assert 0.6 < piv["c1"]["share_after"] < 0.8


def test_split_separates_actors_but_keeps_an_actor_whole() -> None:
    import igraph as ig

    rng = np.random.default_rng(0)
    edges, weights = [], []
    # actor A: 4 payment cliques of 10, tied by sparse shared-pool links
    for g in range(4):
        for i in range(10):
            for j in range(i + 1, 10):
                edges.append((g * 10 + i, g * 10 + j))
                weights.append(0.8)
    for _ in range(40):
        a, b = rng.integers(0, 40, size=2)
        if a // 10 != b // 10:
            edges.append((int(a), int(b)))
            weights.append(0.3)
    # actor B: one dense group of 12, touching A through a single shared value
    for i in range(40, 52):
        for j in range(i + 1, 52):
            edges.append((i, j))
            weights.append(0.9)
    edges.append((5, 45))
    weights.append(0.3)
    g = ig.Graph(n=52, edges=edges)
    g.es["weight"] = weights
    parts = sorted(_split(g, np.arange(52), seed=1, merge_ratio=0.05), key=len)
    assert [sorted(p.tolist()) for p in parts] == [list(range(40, 52)), list(range(40))]
