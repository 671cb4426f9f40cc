"""Traffic simulator: realistic API exchanges with ground truth (``distillguard simulate``).

Benign populations that a careless detector would flag, distillation campaigns modelled
on the February 2026 reports with combinable evasion knobs, written in the native
exchange-log format with ``truth.csv`` and ``campaigns_truth.json`` beside it.
"""

from __future__ import annotations

from .engine import SimulationResult, build_sources, simulate
from .scenario import (
    ARCHETYPES,
    POPULATIONS,
    CampaignSpec,
    Scenario,
    builtin_scenarios,
    load_scenario,
    scenario_from_dict,
)
from .writer import FORMATS

__all__ = [
    "ARCHETYPES",
    "FORMATS",
    "POPULATIONS",
    "CampaignSpec",
    "Scenario",
    "SimulationResult",
    "build_sources",
    "builtin_scenarios",
    "load_scenario",
    "scenario_from_dict",
    "simulate",
]
