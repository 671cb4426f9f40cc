"""Communities of linked accounts: Leiden on the weighted account graph.

The partition maximises modularity (``RBConfigurationVertexPartition`` with a
resolution knob) with a fixed seed, so the same store always gives the same
communities. Accounts with no links are their own singleton community.
"""

from __future__ import annotations

from dataclasses import dataclass

import igraph as ig
import leidenalg
import numpy as np

from .links import LinkGraph

__all__ = ["Communities", "detect_communities"]


@dataclass
class Communities:
    """A partition of the graph's accounts.

    ``membership[i]`` is the community of account ``i`` (communities numbered by size,
    largest first; singletons last); ``sizes[c]`` its size; ``internal[i]`` the share of
    account ``i``'s link strength that stays inside its community (0 for isolates).
    """

    membership: np.ndarray
    sizes: np.ndarray
    internal: np.ndarray
    density: np.ndarray

    @property
    def n(self) -> int:
        """Number of communities (singletons included)."""
        return int(self.sizes.size)

    def members(self, c: int) -> np.ndarray:
        """Node indices of community ``c``."""
        return np.flatnonzero(self.membership == c)


def detect_communities(
    graph: LinkGraph, *, resolution: float = 1.0, seed: int = 42, iterations: int = 2
) -> Communities:
    """Run Leiden on ``graph`` and return the partition (deterministic for a seed)."""
    n = len(graph.accounts)
    if graph.n_edges == 0:
        memb = np.arange(n, dtype=np.int64)
        return Communities(memb, np.ones(n, dtype=np.int64), np.zeros(n), np.zeros(n))
    a = graph.edges.column("a").to_numpy().astype(np.int64)
    b = graph.edges.column("b").to_numpy().astype(np.int64)
    w = graph.edges.column("weight").to_numpy().astype(float)
    g = ig.Graph(n=n, edges=np.column_stack([a, b]).tolist(), directed=False)
    g.es["weight"] = w.tolist()
    part = leidenalg.find_partition(
        g,
        leidenalg.RBConfigurationVertexPartition,
        weights="weight",
        resolution_parameter=resolution,
        seed=seed,
        n_iterations=iterations,
    )
    raw = np.asarray(part.membership, dtype=np.int64)
    # renumber: largest first, ties by smallest member index (stable, seed-independent order)
    sizes = np.bincount(raw)
    first = np.full(sizes.size, n, dtype=np.int64)
    np.minimum.at(first, raw, np.arange(n))
    order = np.lexsort((first, -sizes))
    remap = np.empty_like(order)
    remap[order] = np.arange(order.size)
    memb = remap[raw]
    sizes = np.bincount(memb)
    same = memb[a] == memb[b]
    strength = np.bincount(a, w, minlength=n) + np.bincount(b, w, minlength=n)
    inside = np.bincount(a, w * same, minlength=n) + np.bincount(b, w * same, minlength=n)
    internal = np.divide(inside, strength, out=np.zeros(n), where=strength > 0)
    w_in = np.bincount(memb[a], w * same, minlength=sizes.size)
    # links a member can have: all others in a small community, the ring's 2 x fanout in
    # a large one (see links._base), so density does not fall as a campaign grows
    reach = np.minimum(sizes - 1, 2 * graph.config.fanout)
    pairs = sizes * reach / 2.0
    density = np.divide(w_in, pairs, out=np.zeros(sizes.size), where=pairs > 0)
    return Communities(memb, sizes, internal, density)
