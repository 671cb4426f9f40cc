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
from ..links import BUILDERS, LinkGraph

__all__ = [
    "CommunityEvidence",
    "NeighbourEvidence",
    "community_evidence",
    "community_features",
    "neighbour_evidence",
]


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


@dataclass
class NeighbourEvidence:
    """Evidence each account receives from risky accounts it is firmly linked to.

    ``propagated[i]`` in [0, 1]; ``kinds[i]`` the evidence kinds of those links, strongest
    first (empty when none).
    """

    propagated: np.ndarray
    kinds: list[list[str]]


def neighbour_evidence(
    risk: np.ndarray,
    graph: LinkGraph,
    *,
    min_edge: float = 0.2,
    tie_scale: float = 1.0,
    kind_share: float = 0.15,
    same_tool: float = 0.5,
) -> NeighbourEvidence:
    """Propagate risk one step over firm links (weight >= ``min_edge``).

    ``propagated = (1 - exp(-sum_j w_ij r_j / tie_scale)) x share`` where ``share`` is the
    part of the account's firm link strength that goes to risky accounts (risk-weighted):
    twenty payment-and-fingerprint links to harvesting accounts give almost 1, a single
    link or links mostly to ordinary accounts give little, weak links (a popular
    template alone) give nothing. A link made only of content and timing (same
    templates, system prompt, lock-step cells) says "runs the same tool", which benign
    users of a popular coding agent share with a campaign running it; it counts
    ``same_tool`` of its weight. Links with account, network or client evidence (payment,
    creation burst, addresses, client fingerprint) count in full.
    """
    n = len(graph.accounts)
    kinds: list[list[str]] = [[] for _ in range(n)]
    if graph.n_edges == 0:
        return NeighbourEvidence(np.zeros(n), kinds)
    a = graph.edges.column("a").to_numpy().astype(np.int64)
    b = graph.edges.column("b").to_numpy().astype(np.int64)
    w = graph.edges.column("weight").to_numpy()
    firm = w >= min_edge
    tool_only = np.ones(w.size, dtype=bool)
    for k in graph.kinds:
        if BUILDERS[k].family not in ("content", "timing"):
            tool_only &= graph.edges.column(f"w_{k}").to_numpy() <= 0
    w = np.where(tool_only, same_tool * w, w)
    a, b, w = a[firm], b[firm], w[firm]
    r = np.clip(np.asarray(risk, dtype=float), 0.0, 1.0)
    s = np.bincount(a, w * r[b], minlength=n) + np.bincount(b, w * r[a], minlength=n)
    tot = np.bincount(a, w, minlength=n) + np.bincount(b, w, minlength=n)
    share = np.divide(s, tot, out=np.zeros(n), where=tot > 0)
    prop = (1.0 - np.exp(-s / tie_scale)) * share
    hot = np.flatnonzero(prop >= 0.2)
    if hot.size:
        kw = {k: graph.edges.column(f"w_{k}").to_numpy()[firm] for k in graph.kinds}
        per = np.zeros((n, len(graph.kinds)))
        for j, k in enumerate(graph.kinds):
            per[:, j] = np.bincount(a, kw[k] * r[b], minlength=n) + np.bincount(
                b, kw[k] * r[a], minlength=n
            )
        for i in hot:
            tot_i = per[i].sum() or 1.0
            order = np.argsort(-per[i])
            kinds[i] = [graph.kinds[j] for j in order[:3] if per[i, j] / tot_i >= kind_share]
    return NeighbourEvidence(prop, kinds)
