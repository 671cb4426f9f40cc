"""Account risk with no labels at all: directional robust z-scores.

Generic anomaly detection flags heavy legitimate users, so this scorer only looks in
the directions that mean extraction (more reasoning elicitation, more single-turn
sweeping of distinct prompts, more template reuse, more output per input, more hosting
infrastructure, younger and less verified accounts...). Each hint column is
standardised with the median and MAD of the population (robust to the attackers
themselves), only the excess in the suspicious direction counts, and the excesses are
summed and squashed to [0, 1]. The contributions are returned as data, so every score
has its reasons.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EXTRACTION_DIRECTIONS",
    "EXTRACTION_HINTS",
    "UnsupervisedScore",
    "hint_columns",
    "robust_extraction_score",
]

#: Features whose direction means extraction (+1: more is more suspicious, -1: less is),
#: by exact name (the columns of :mod:`distillguard.features` and the graph features).
EXTRACTION_DIRECTIONS: dict[str, int] = {
    "elicitation_share": +1,
    "hidden_reasoning_share": +1,
    "judge_share": +1,
    "mean_elicitation_score": +1,
    "thinking_share": +1,
    "output_input_ratio": +1,
    "single_turn_share": +1,
    "prompt_once_share": +1,
    "template_top_share": +1,
    "shape_top_share": +1,
    "capability_top_share": +1,
    "hosting_share": +1,
    "anon_share": +1,
    "ip_churn": +1,
    "country_mismatch_share": +1,
    "new_model_share_72h": +1,
    "iat_cv": -1,
    "verification_level": -1,
    "account_age_days": -1,
    "g_banned": +1,
}

#: Column-name fragments for feature sets that name things differently, with direction.
EXTRACTION_HINTS: tuple[tuple[str, int], ...] = (
    ("elicit", +1),
    ("judge", +1),
    ("template_reuse", +1),
    ("single_turn", +1),
    ("output_input", +1),
    ("hosting", +1),
    ("ip_churn", +1),
    ("verification", -1),
    ("account_age", -1),
)


def hint_columns(columns: list[str]) -> dict[str, int]:
    """The columns among ``columns`` that carry an extraction direction."""
    out: dict[str, int] = {}
    for col in columns:
        if col in EXTRACTION_DIRECTIONS:
            out[col] = EXTRACTION_DIRECTIONS[col]
            continue
        if col.startswith(("c_", "g_")):
            continue
        for frag, sign in EXTRACTION_HINTS:
            if frag in col:
                out[col] = sign
                break
    return out


@dataclass
class UnsupervisedScore:
    """Scores in [0, 1] plus the per-column positive contributions (accounts x columns)."""

    score: np.ndarray
    contributions: np.ndarray
    columns: list[str]


def robust_extraction_score(
    matrix: np.ndarray, columns: list[str], *, scale: float = 6.0, cap: float = 4.0
) -> UnsupervisedScore:
    """Score each row of ``matrix`` (accounts x ``columns``) for extraction.

    Columns without an extraction direction are ignored. ``scale`` is the summed excess
    z that maps to risk ``1 - 1/e``; ``cap`` bounds one column's contribution so a
    single extreme value cannot decide alone.
    """
    hints = hint_columns(columns)
    idx = [columns.index(c) for c in hints]
    sign = np.array([hints[c] for c in hints], dtype=float)
    n = matrix.shape[0]
    if not idx or n == 0:
        return UnsupervisedScore(np.zeros(n), np.zeros((n, 0)), [])
    x = np.asarray(matrix[:, idx], dtype=float)
    x = np.where(np.isfinite(x), x, np.nan)
    with warnings.catch_warnings():  # an all-missing column is allowed: it scores 0
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(x, axis=0)
        mad = np.nanmedian(np.abs(x - med), axis=0) * 1.4826
        spread = np.nanstd(x, axis=0)
    denom = np.where(mad > 1e-9, mad, np.where(spread > 1e-9, spread, 1.0))
    med = np.where(np.isfinite(med), med, 0.0)
    z = (x - med) / denom * sign
    z = np.nan_to_num(z, nan=0.0)
    contrib = np.clip(z - 1.0, 0.0, cap)  # within one robust sd is ordinary
    score = 1.0 - np.exp(-contrib.sum(axis=1) / scale)
    return UnsupervisedScore(score, contrib, list(hints))
