"""Evaluation harness: score verdicts (and built-in baselines) against simulated ground truth.

``distillguard evaluate --truth DIR --verdicts OUT [--baselines]`` uses :func:`evaluate`;
the metric definitions are in :mod:`.metrics`, the baselines in :mod:`.baselines`.
"""

from __future__ import annotations

from .detector import DetectorOutput
from .harness import BASELINES, evaluate, load_truth, read_detector, score
from .metrics import account_metrics, campaign_metrics, enforcement_metrics, flag_rates
from .tables import print_tables, table_rows

__all__ = [
    "BASELINES",
    "DetectorOutput",
    "account_metrics",
    "campaign_metrics",
    "enforcement_metrics",
    "evaluate",
    "flag_rates",
    "load_truth",
    "print_tables",
    "read_detector",
    "score",
    "table_rows",
]
