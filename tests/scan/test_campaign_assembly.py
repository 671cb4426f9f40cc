"""Campaign assembly: one campaign per actor, whatever the payment sub-groups."""

from __future__ import annotations

import igraph as ig
import numpy as np

from distillguard.campaign_assembly import split_actors
from distillguard.scan import ScanConfig


def _world(
    groups: list[int], cross: list[tuple[int, int, int, float]], seed: int = 0
) -> tuple[ig.Graph, list[np.ndarray]]:
    """Cliques of the given sizes (weight 0.8), plus ``(group_a, group_b, links, weight)``
    random links between groups."""
    rng = np.random.default_rng(seed)
    edges: list[tuple[int, int]] = []
    weights: list[float] = []
    members: list[np.ndarray] = []
    start = 0
    for size in groups:
        ids = np.arange(start, start + size)
        members.append(ids)
        for i in range(size):
            for j in range(i + 1, size):
                edges.append((int(ids[i]), int(ids[j])))
                weights.append(0.8)
        start += size
    seen: set[tuple[int, int]] = set()
    for ga, gb, links, w in cross:
        while sum(1 for e in seen if e[2:] == (ga, gb)) < links:  # type: ignore[misc]
            a, b = int(rng.choice(members[ga])), int(rng.choice(members[gb]))
            if (a, b, ga, gb) not in seen:
                seen.add((a, b, ga, gb))  # type: ignore[arg-type]
                edges.append((a, b))
                weights.append(w)
    g = ig.Graph(n=start, edges=edges)
    g.es["weight"] = weights
    return g, members


def _profiles(members: list[np.ndarray], mixes: list[list[float]], n: int) -> np.ndarray:
    out = np.zeros((n, len(mixes[0])))
    for ids, mix in zip(members, mixes, strict=True):
        out[ids] = mix
    return out


def test_loosely_tied_payment_groups_of_one_actor_form_one_campaign() -> None:
    # one actor: five payment cliques tied by its address pool / templates (weak links)
    g, members = _world([12] * 5, [(i, j, 40, 0.15) for i in range(5) for j in range(i + 1, 5)])
    prof = _profiles(members, [[0.5, 0.3, 0.2]] * 5, 60)
    merge = ScanConfig().campaign_merge
    parts = split_actors(g, np.arange(60), 42, merge, prof)
    assert len(parts) == 1, [len(p) for p in parts]


def test_actors_tied_by_shared_templates_stay_apart_when_they_ask_for_different_things() -> None:
    # actor A (two payment groups) and actor B touch densely through shared benchmark
    # templates; the link test alone would merge them, their capability mixes do not.
    g, members = _world([15, 15, 15], [(0, 1, 60, 0.2), (0, 2, 60, 0.2), (1, 2, 60, 0.2)])
    nodes = np.arange(45)
    merge = ScanConfig().campaign_merge
    same = _profiles(members, [[0.6, 0.4, 0.0]] * 3, 45)
    assert len(split_actors(g, nodes, 42, merge, same)) == 1
    differ = _profiles(members, [[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.0, 0.2, 0.8]], 45)
    parts = sorted(split_actors(g, nodes, 42, merge, differ), key=len)
    assert [sorted(p.tolist()) for p in parts] == [list(range(30, 45)), list(range(30))]


def test_a_small_noisy_part_joins_its_own_actor_not_the_neighbour() -> None:
    # a 4-account part is tied to both actors; its mix is closest to actor A's
    g, members = _world([20, 20, 4], [(0, 2, 8, 0.3), (1, 2, 8, 0.3), (0, 1, 2, 0.15)])
    prof = _profiles(members, [[0.7, 0.3, 0.0], [0.1, 0.2, 0.7], [0.6, 0.4, 0.0]], 44)
    parts = split_actors(g, np.arange(44), 42, ScanConfig().campaign_merge, prof)
    by_first = {int(p.min()): sorted(p.tolist()) for p in parts}
    assert by_first[0] == [*range(20), *range(40, 44)]
    assert by_first[20] == list(range(20, 40))
