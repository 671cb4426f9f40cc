"""What any detector hands the evaluation: the accounts it flagged, and optionally more."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DetectorOutput"]


@dataclass
class DetectorOutput:
    """One detector's judgement of the traffic, in the terms the metrics understand.

    ``scope`` is the set of accounts the detector actually judged (``None``: all of them);
    a baseline that only looks at a sample is scored on that sample, and says so in
    ``notes``. ``campaigns`` (id -> members) and ``attributed`` (id -> actor) are given by
    detectors that group accounts; ``decisions`` points at a replayed ``decisions.csv``;
    ``scores`` (account -> suspicion, higher is worse) gives a threshold-free ROC AUC.
    """

    name: str
    flagged: set[str]
    kind: str = "baseline"
    notes: list[str] = field(default_factory=list)
    scope: set[str] | None = None
    campaigns: dict[str, list[str]] | None = None
    attributed: dict[str, str] | None = None
    decisions: Path | None = None
    params: dict[str, object] = field(default_factory=dict)
    scores: dict[str, float] | None = None
