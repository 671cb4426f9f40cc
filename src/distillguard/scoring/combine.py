"""One account risk in [0, 1] from the three scorers, with its reasons as short codes.

``risk = max(supervised, w_u x unsupervised, campaign evidence)`` (with no model file,
``max(0.45 x unsupervised, campaign evidence)``: without labels an account is flagged
for the company it keeps, not for being unusual alone); no component can be diluted by
another; campaign evidence is the risk of the accounts an
account is firmly linked to (:func:`.community.neighbour_evidence`), and the reasons are the top
contributions of whichever components are high. Codes: ``f:<feature>`` (the supervised
model's SHAP contribution), ``z:<feature>`` (a directional robust z-score),
``campaign:<kind>+<kind>`` (member of a campaign linked by those kinds) and
``linked_banned`` (linked to an account banned earlier).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..communities import Communities
from ..links import LinkGraph, graph_features
from .community import (
    CommunityEvidence,
    NeighbourEvidence,
    community_evidence,
    community_features,
    neighbour_evidence,
)
from .supervised import AccountModel
from .unsupervised import robust_extraction_score

__all__ = [
    "MODEL_EXCLUDED",
    "AccountScores",
    "ScoringConfig",
    "build_matrix",
    "scale_free_features",
    "score_accounts",
]


@dataclass(frozen=True)
class ScoringConfig:
    """Knobs of the combination."""

    #: Weight of the unsupervised score in the risk when a model is present.
    unsupervised_weight: float = 0.0
    #: With no model, the most an account's own unsupervised score adds to its risk:
    #: generic anomaly flags heavy legitimate users (coding agents, eval labs), so on its
    #: own it reaches "monitor" at most; flagging takes campaign evidence (risky accounts
    #: it is firmly linked to, whose unsupervised scores propagate at full weight).
    lone_unsupervised: float = 0.45
    community_min_size: int = 3
    tie_scale: float = 1.0
    #: Links at least this strong carry campaign evidence between accounts.
    firm_link: float = 0.2
    max_reasons: int = 4
    reason_min_shap: float = 0.3


@dataclass
class AccountScores:
    """Risk and its parts per account, aligned with the graph's account order."""

    risk: np.ndarray
    supervised: np.ndarray | None
    unsupervised: np.ndarray
    community: np.ndarray
    evidence: CommunityEvidence
    neighbours: NeighbourEvidence
    reasons: list[list[str]] = field(default_factory=list)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _rank(x: np.ndarray) -> np.ndarray:
    """Percentile rank in [0, 1] among the finite values (NaN stays NaN)."""
    out = np.full(x.shape, np.nan)
    ok = np.isfinite(x)
    if ok.sum() > 1:
        order = np.argsort(np.argsort(x[ok], kind="stable"), kind="stable")
        out[ok] = order / (ok.sum() - 1)
    elif ok.any():
        out[ok] = 0.5
    return out


def scale_free_features(
    behaviour: np.ndarray, cols: list[str], comms: Communities
) -> dict[str, np.ndarray]:
    """Features that stay put when the same traffic is seen in a bigger or longer log.

    Totals (exchanges, tokens, distinct addresses) grow with the span of the log and
    community sizes with the population; these are per-exchange or per-day rates and
    ranks within the population instead. The raw totals stay in the matrix (reasons,
    reports) but the default model does not train on them (:data:`MODEL_EXCLUDED`).
    """
    pos = {c: j for j, c in enumerate(cols)}
    n_rows = behaviour.shape[0]

    def col(name: str) -> np.ndarray:
        return behaviour[:, pos[name]] if name in pos else np.full(n_rows, np.nan)

    n_ex = col("n_exchanges")
    days = col("active_days")
    out = {
        "volume_rank": _rank(col("exchanges_per_active_day")),
        "output_day_rank": _rank(_ratio(col("output_tokens"), days)),
        "prefix_churn": _ratio(col("distinct_prefixes"), n_ex),
        "asn_churn": _ratio(col("distinct_asns"), n_ex),
        "template_churn": _ratio(col("distinct_templates"), n_ex),
        "client_fp_churn": _ratio(col("distinct_client_fps"), n_ex),
        "active_day_share": _ratio(
            days, np.full(n_rows, np.nanmax(days) if np.isfinite(days).any() else 0.0)
        ),
    }
    n = max(int(comms.sizes.sum()), 2)
    out["c_share"] = np.log1p(comms.sizes[comms.membership].astype(float)) / np.log1p(n)
    return out


#: Matrix columns the default model is not trained on: totals that grow with the span
#: of the log and sizes that grow with the population (their rates and ranks from
#: :func:`scale_free_features` stand in for them).
MODEL_EXCLUDED: tuple[str, ...] = (
    "n_exchanges",
    "active_days",
    "span_days",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "distinct_ips",
    "distinct_prefixes",
    "distinct_asns",
    "distinct_client_fps",
    "distinct_templates",
    "c_size",
)


def build_matrix(
    behaviour: np.ndarray, behaviour_cols: list[str], graph: LinkGraph, comms: Communities
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Assemble behaviour + scale-free + graph + community columns; returns
    ``(matrix, columns, u)`` where ``u`` is the unsupervised score (computed on behaviour
    + graph columns)."""
    g = graph_features(graph)
    sf = scale_free_features(behaviour, behaviour_cols, comms)
    base = np.column_stack([behaviour, *g.values()]) if g else behaviour
    base_cols = [*behaviour_cols, *g.keys()]
    uns = robust_extraction_score(base, base_cols)
    means: dict[str, np.ndarray] = {"u": uns.score}
    for col in uns.columns:
        if not col.startswith(("g_", "c_")):
            means[col] = base[:, base_cols.index(col)]
    c = community_features(means, graph, comms)
    matrix = np.column_stack([base, *sf.values(), *c.values()])
    return matrix, [*base_cols, *sf.keys(), *c.keys()], uns.score


def _z_reasons(base: np.ndarray, cols: list[str], rows: np.ndarray, k: int) -> list[list[str]]:
    uns = robust_extraction_score(base, cols)
    out: list[list[str]] = [[] for _ in range(base.shape[0])]
    for i in rows:
        top = np.argsort(-uns.contributions[i])[:k]
        out[i] = [f"z:{uns.columns[j]}" for j in top if uns.contributions[i, j] > 0]
    return out


def score_accounts(
    matrix: np.ndarray,
    columns: list[str],
    unsupervised: np.ndarray,
    graph: LinkGraph,
    comms: Communities,
    model: AccountModel | None,
    cfg: ScoringConfig | None = None,
    *,
    reason_floor: float = 0.3,
) -> AccountScores:
    """Score every account; reasons are filled for accounts with risk >= ``reason_floor``."""
    cfg = cfg or ScoringConfig()
    sup: np.ndarray | None = None
    if model is not None:
        pos = {c: j for j, c in enumerate(columns)}
        x = np.full((matrix.shape[0], len(model.features)), np.nan)
        for j, f in enumerate(model.features):
            if f in pos:
                x[:, j] = matrix[:, pos[f]]
        sup = model.predict(x)
        base = np.maximum(sup, cfg.unsupervised_weight * unsupervised)
    else:
        x = matrix
        base = unsupervised
    ev = community_evidence(
        base, graph, comms, min_size=cfg.community_min_size, tie_scale=cfg.tie_scale
    )
    nb = neighbour_evidence(base, graph, min_edge=cfg.firm_link, tie_scale=cfg.tie_scale)
    own = base if sup is not None else cfg.lone_unsupervised * unsupervised
    risk = np.clip(np.maximum(own, nb.propagated), 0.0, 1.0)
    rows = np.flatnonzero(risk >= reason_floor)
    reasons: list[list[str]] = [[] for _ in range(risk.size)]
    scored: list[list[tuple[float, str]]] = [[] for _ in range(risk.size)]
    if sup is not None and model is not None and rows.size:
        shap = model.contributions(x[rows])
        for r, i in enumerate(rows):
            top = np.argsort(-shap[r])[: cfg.max_reasons]
            scored[i] += [
                (
                    float(sup[i]) * float(shap[r, j]) / max(float(shap[r].clip(0).sum()), 1e-9),
                    f"f:{model.features[j]}",
                )
                for j in top
                if shap[r, j] >= cfg.reason_min_shap
            ]
    uw = 1.0 if sup is None else cfg.unsupervised_weight
    zr = _z_reasons(matrix, columns, rows, 2) if uw > 0 else [[] for _ in range(risk.size)]
    for i in rows:
        scored[i] += [(uw * float(unsupervised[i]) / 2, c) for c in zr[i]]
        if nb.propagated[i] >= reason_floor and nb.kinds[i]:
            scored[i].append((float(nb.propagated[i]) + 1e-3, "campaign:" + "+".join(nb.kinds[i])))
    g_banned = columns.index("g_banned") if "g_banned" in columns else None
    for i in rows:
        if g_banned is not None and matrix[i, g_banned] > 0.3:
            scored[i].append((float(matrix[i, g_banned]), "linked_banned"))
        seen: list[str] = []
        for _, code in sorted(scored[i], key=lambda t: -t[0]):
            if code not in seen:
                seen.append(code)
        reasons[i] = seen[: cfg.max_reasons]
    return AccountScores(risk, sup, unsupervised, nb.propagated, ev, nb, reasons)
