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
    "link_means",
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


def _tool_only(graph: LinkGraph) -> np.ndarray:
    """Per edge: made only of content and timing kinds (same templates, system prompt,
    lock-step cells), which says "runs the same tool", not "same operator"."""
    tool_only = np.ones(graph.n_edges, dtype=bool)
    for k in graph.kinds:
        if BUILDERS[k].family not in ("content", "timing"):
            tool_only &= graph.edges.column(f"w_{k}").to_numpy() <= 0
    return tool_only


def link_means(
    values: dict[str, np.ndarray],
    graph: LinkGraph,
    *,
    min_edge: float = 0.2,
    same_tool: float = 0.5,
) -> dict[str, np.ndarray]:
    """Per account, the link-weighted mean of each array over the account itself (weight
    1) and the accounts it is firmly linked to (weight ``w_ij``; a content-and-timing-only
    link counts ``same_tool`` of its weight, as in :func:`neighbour_evidence`).

    The account's own links, not its whole-graph community: a production app that shares
    a popular system prompt with a hydra is pulled into the hydra's community by Leiden,
    but its own links to the hydra are weak (one content family) and its own context is
    its own traffic; a quiet hydra member's payment and fingerprint links are firm, and
    its context is the harvesting accounts around it.
    """
    n = len(graph.accounts)
    out: dict[str, np.ndarray] = {}
    if graph.n_edges:
        a = graph.edges.column("a").to_numpy().astype(np.int64)
        b = graph.edges.column("b").to_numpy().astype(np.int64)
        w = graph.edges.column("weight").to_numpy()
        w = np.where(_tool_only(graph), same_tool * w, w)
        firm = graph.edges.column("weight").to_numpy() >= min_edge
        a, b, w = a[firm], b[firm], w[firm]
    else:
        a = b = np.zeros(0, dtype=np.int64)
        w = np.zeros(0)
    den = 1.0 + np.bincount(a, w, minlength=n) + np.bincount(b, w, minlength=n)
    for name, arr in values.items():
        x = np.nan_to_num(np.asarray(arr, dtype=float), nan=0.0)
        num = x + np.bincount(a, w * x[b], minlength=n) + np.bincount(b, w * x[a], minlength=n)
        out[name] = num / den
    return out


def community_features(
    values: dict[str, np.ndarray], graph: LinkGraph, comms: Communities
) -> dict[str, np.ndarray]:
    """Context per account: its community's size, tie and density, and ``c_mean_<name>``
    for each array in ``values``: the mean over the account and its own firm links
    (:func:`link_means`), aligned with ``graph.accounts``."""
    memb = comms.membership
    inside, _ = _inside_strength(graph, memb)
    sizes = comms.sizes[memb].astype(float)
    out = {
        "c_size": np.log1p(sizes),
        "c_tie": 1.0 - np.exp(-inside),
        "c_internal": comms.internal,
        "c_density": comms.density[memb],
    }
    for name, arr in link_means(values, graph).items():
        out[f"c_mean_{name}"] = arr
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
    w = np.where(_tool_only(graph), same_tool * w, w)
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
