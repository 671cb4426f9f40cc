"""The model's inputs do not move when the same traffic mix is seen at another scale.

Two simulated worlds with the same proportions, one three times the size of the other:
a campaign of 30 accounts is linked as a clique, the same campaign at 100 accounts as a
ring, and every community grows with the population. The features the default model
trains on must look the same for the campaign's accounts in both worlds (the raw totals
they replace are excluded from training), or a model trained at one scale misreads the
other.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from distillguard.ingest import ingest_paths
from distillguard.scan import detect, features_with_releases
from distillguard.scoring import MODEL_EXCLUDED
from distillguard.simulate import scenario_from_dict, simulate
from distillguard.store import Store

WORLD: dict[str, Any] = {
    "name": "test-scale",
    "seed": 5,
    "start": "2026-03-02T00:00:00Z",
    "days": 2,
    "models": [{"name": "frontier-1", "released_at": "2025-09-01T00:00:00Z"}],
    "populations": {
        "hobby": {"accounts": 200},
        "production_app": {"apps": 0},
        "enterprise": {"orgs": 2, "accounts_per_org": [20, 30], "exchanges_per_account_day": 2},
        "eval_lab": {"labs": 0},
        "university_class": {"classes": 1, "students": [60, 60], "deadline_every_days": 2},
        "coding_agent": {"developers": 10, "sessions_per_day": 0.5, "loop_length_mean": 6},
        "reseller": {"resellers": 0},
    },
    "campaigns": [
        {
            "actor": "scale-hydra",
            "archetype": "hydra",
            "accounts": 100,
            "exchanges": 1500,
            "exits": {"residential": 0.6, "datacenter": 0.4},
            "ip_rotation": "request",
            "ip_pool": 400,
            "mixed_ordinary": 0.5,
            "synchronized": False,
            "payment_reuse": 10,
            "apis": {"openai.chat_completions": 1.0},
        }
    ],
}

#: Features made scale-free on purpose; each must hold within this relative tolerance.
SCALE_FREE = (
    "g_degree",
    "g_strength",
    "c_share",
    "c_density",
    "volume_rank",
    "prefix_churn",
    "active_day_share",
)


def _campaign_features(tmp: Path, scale: float) -> tuple[dict[str, float], dict[str, float]]:
    out = tmp / f"x{scale}"
    simulate(scenario_from_dict(WORLD), out, seed=5, scale=scale)
    attack = {r["account_id"] for r in csv.DictReader((out / "truth.csv").open()) if r["actor"]}
    with Store(":memory:") as store:
        ingest_paths([out / "exchanges.jsonl"], store, accounts=out / "accounts.jsonl")
        det = detect(store, features=features_with_releases(None), score=False)
    rows = [i for i, a in enumerate(det.graph.accounts) if a in attack]
    assert len(rows) >= 0.25 * 100 * scale
    with warnings.catch_warnings():  # all-missing columns (no releases) are fine
        warnings.simplefilter("ignore", RuntimeWarning)
        med = {c: float(np.nanmedian(det.matrix[rows, j])) for j, c in enumerate(det.columns)}
    raw_degree = np.bincount(
        np.concatenate(
            [det.graph.edges.column("a").to_numpy(), det.graph.edges.column("b").to_numpy()]
        ),
        minlength=len(det.graph.accounts),
    )
    return med, {"raw_degree": float(np.median(raw_degree[rows]))}


@pytest.fixture(scope="module")
def two_scales(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, dict, dict]:
    tmp = tmp_path_factory.mktemp("scales")
    small, small_raw = _campaign_features(tmp, 0.3)
    big, big_raw = _campaign_features(tmp, 1.0)
    return small, big, small_raw, big_raw


def test_scale_free_features_hold_across_scales(two_scales: tuple[dict, ...]) -> None:
    small, big, small_raw, big_raw = two_scales
    # the worlds do differ where it matters: the raw link degree moves with the size
    assert abs(small_raw["raw_degree"] - big_raw["raw_degree"]) >= 5
    for col in SCALE_FREE:
        a, b = small[col], big[col]
        assert abs(a - b) <= 0.25 * max(abs(a), abs(b), 1e-6), (col, a, b)


def test_population_size_columns_are_not_model_inputs(two_scales: tuple[dict, ...]) -> None:
    small, big, *_ = two_scales
    assert "c_size" in MODEL_EXCLUDED and "n_exchanges" in MODEL_EXCLUDED
    # c_size grows with the population; the model sees c_share instead
    assert big["c_size"] > small["c_size"]
    assert set(SCALE_FREE) <= set(small)
