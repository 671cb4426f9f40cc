"""The c_mean_* context of an account comes from its own firm links, not its community."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from distillguard.links import LinkGraph
from distillguard.scoring.community import link_means


def _graph(edges: list[tuple[int, int, dict[str, float]]], n: int) -> LinkGraph:
    kinds = ("payment", "client_fp", "template", "system_prompt")
    cols: dict[str, list[float] | list[int]] = {"a": [], "b": [], "weight": []}
    for k in kinds:
        cols[f"w_{k}"] = []
    for a, b, w in edges:
        cols["a"].append(a)  # type: ignore[arg-type]
        cols["b"].append(b)  # type: ignore[arg-type]
        cols["weight"].append(1 - float(np.prod([1 - v for v in w.values()])))  # type: ignore[arg-type]
        for k in kinds:
            cols[f"w_{k}"].append(w.get(k, 0.0))  # type: ignore[arg-type]
    return LinkGraph([f"acct_{i}" for i in range(n)], pa.table(cols), kinds, np.zeros(n, bool))


def test_quiet_member_takes_its_campaigns_context_and_a_weak_content_tie_does_not() -> None:
    # 0-9: harvesting accounts on one card (value 1.0); 10: a quiet member of the same
    # card (0.0); 11: a production app that shares only a popular system prompt with
    # them, below the firm-link weight (0.0); 12: an isolated account (0.3)
    edges = [(i, j, {"payment": 0.9}) for i in range(11) for j in range(i + 1, 11)]
    edges += [(11, i, {"system_prompt": 0.15}) for i in range(10)]
    g = _graph(edges, 13)
    x = np.array([1.0] * 10 + [0.0, 0.0, 0.3])
    ctx = link_means({"u": x}, g)["u"]
    assert ctx[10] > 0.85  # its ten firm neighbours dominate its own quiet value
    assert ctx[11] == 0.0  # weak content links carry no context: its own value
    assert ctx[12] == 0.3  # no links: its own value


def test_content_only_links_count_half() -> None:
    # account 0 has one firm content-only link and one firm payment link of equal weight
    g = _graph([(0, 1, {"template": 0.6}), (0, 2, {"payment": 0.6})], 3)
    ctx = link_means({"v": np.array([0.0, 1.0, 0.0])}, g)["v"]
    # (0 + 0.5 * 0.6 * 1 + 0.6 * 0) / (1 + 0.3 + 0.6)
    assert abs(ctx[0] - 0.3 / 1.9) < 1e-9
