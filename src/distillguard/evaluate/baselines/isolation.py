"""Baseline (b): Isolation Forest on per-account behaviour, as an operator would set it up.

Features are the aggregates in :data:`~.features.BEHAVIOUR_FEATURES` (volume, tokens,
output/input ratio, distinct addresses and /24s, active hours and days, single-turn share,
distinct models), ``log1p``-scaled. ``contamination`` is the share of accounts the operator
expects to be abusive; without labels a user would guess a small number, so the default is
1% (:data:`USER_CONTAMINATION`). scikit-learn's ``IsolationForest`` with 200 trees.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from sklearn.ensemble import IsolationForest

from ..detector import DetectorOutput
from .features import BEHAVIOUR_FEATURES, account_behaviour

__all__ = ["USER_CONTAMINATION", "isolation_flags", "isolation_scores", "run_isolation"]

#: Expected share of abusive accounts a user would configure.
USER_CONTAMINATION = 0.01


def isolation_scores(
    ids: np.ndarray, x: np.ndarray, contamination: float = USER_CONTAMINATION, seed: int = 0
) -> tuple[set[str], dict[str, float]]:
    """Outliers (``predict == -1``) and each account's anomaly score (higher = stranger)."""
    if len(ids) < 2:
        return set(), {}
    forest = IsolationForest(
        n_estimators=200, contamination=contamination, random_state=seed, n_jobs=1
    )
    z = np.log1p(np.maximum(x, 0.0))
    pred = forest.fit_predict(z)
    score = -forest.score_samples(z)
    return set(ids[pred == -1].tolist()), dict(zip(ids.tolist(), score.tolist(), strict=True))


def isolation_flags(
    ids: np.ndarray, x: np.ndarray, contamination: float = USER_CONTAMINATION, seed: int = 0
) -> set[str]:
    """Accounts the forest calls outliers (``predict == -1``)."""
    return isolation_scores(ids, x, contamination, seed)[0]


def run_isolation(
    facts: pa.Table, contamination: float = USER_CONTAMINATION, seed: int = 0
) -> DetectorOutput:
    """Fit and score the forest on all accounts of the log."""
    ids, x = account_behaviour(facts)
    flagged, scores = isolation_scores(ids, x, contamination, seed)
    return DetectorOutput(
        name="isolation forest",
        flagged=flagged,
        scores=scores,
        notes=[f"{len(BEHAVIOUR_FEATURES)} per-account features, contamination={contamination:g}"],
        params={"contamination": contamination, "features": list(BEHAVIOUR_FEATURES)},
    )
