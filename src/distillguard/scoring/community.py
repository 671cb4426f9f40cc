"""Campaign-level evidence, propagated to the members of a community.

A community whose members, together, look like extraction is evidence against each of
its members in proportion to how firmly the member is tied to it: a quiet account that
shares a payment instrument and a client fingerprint with twenty harvesting accounts is
caught with the reason ``campaign:payment+client_fp``, while an account that touched
the campaign's /24 once is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..communities import Communities
from ..links import LinkGraph

__all__ = ["CommunityEvidence", "community_evidence", "community_features"]


@dataclass
class CommunityEvidence:
    """Per-community scores and their propagation to accounts.

    ``score[c]`` is community ``c``'s extraction score (0 below ``min_size``);
    ``propagated[i]`` the evidence it lends account ``i``; ``tie[i]`` how firmly ``i``
    is tied to its community (0-1); ``kinds[c]`` the evidence kinds that hold it
    together, strongest first.
    """

    score: np.ndarray
    propagated: np.ndarray
    tie: np.ndarray
    kinds: dict[int, list[str]]


def _inside_strength(graph: LinkGraph, memb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(graph.accounts)
    if graph.n_edges == 0:
        return np.zeros(n), np.zeros(0, dtype=bool)
    a = graph.edges.column("a").to_numpy().astype(np.int64)
    b = graph.edges.column("b").to_numpy().astype(np.int64)
    w = graph.edges.column("weight").to_numpy()
    same = memb[a] == memb[b]
    inside = np.bincount(a, w * same, minlength=n) + np.bincount(b, w * same, minlength=n)
    return inside, same


def community_features(
    values: dict[str, np.ndarray], graph: LinkGraph, comms: Communities
) -> dict[str, np.ndarray]:
    """Community context per account: size, tie, density and the community mean of
    each array in ``values`` (``c_mean_<name>``), aligned with ``graph.accounts``."""
    memb = comms.membership
    inside, _ = _inside_strength(graph, memb)
    sizes = comms.sizes[memb].astype(float)
    out = {
        "c_size": np.log1p(sizes),
        "c_tie": 1.0 - np.exp(-inside),
        "c_internal": comms.internal,
        "c_density": comms.density[memb],
    }
    for name, arr in values.items():
        arr = np.nan_to_num(np.asarray(arr, dtype=float), nan=0.0)
        sums = np.bincount(memb, arr, minlength=comms.n)
        out[f"c_mean_{name}"] = sums[memb] / sizes
    return out


def community_evidence(
    risk: np.ndarray,
    graph: LinkGraph,
    comms: Communities,
    *,
    min_size: int = 3,
    tie_scale: float = 1.0,
    kind_share: float = 0.15,
) -> CommunityEvidence:
    """Score communities from member ``risk`` and propagate back to members.

    A community's score is the mean member risk (so a campaign's quiet members do not
    dilute it much while one noisy account among benign ones cannot carry a community);
    a member receives ``score x tie`` with ``tie = 1 - exp(-inside_strength / tie_scale)``.
    """
    memb = comms.membership
    sizes = comms.sizes
    inside, same = _inside_strength(graph, memb)
    tie = 1.0 - np.exp(-inside / tie_scale)
    score = np.bincount(memb, risk, minlength=comms.n) / np.maximum(sizes, 1)
    score = np.where(sizes >= min_size, score, 0.0)
    propagated = score[memb] * tie
    kinds: dict[int, list[str]] = {}
    if graph.n_edges:
        a = graph.edges.column("a").to_numpy().astype(np.int64)
        ca = memb[a][same]
        for c in np.flatnonzero(score > 0):
            sel = ca == c
            if not sel.any():
                continue
            tot = {
                k: float(graph.edges.column(f"w_{k}").to_numpy()[same][sel].sum())
                for k in graph.kinds
            }
            total = sum(tot.values()) or 1.0
            ranked = sorted(tot, key=lambda k: -tot[k])
            kinds[int(c)] = [k for k in ranked if tot[k] / total >= kind_share][:3] or ranked[:1]
    return CommunityEvidence(score, propagated, tie, kinds)
