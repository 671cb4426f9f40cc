"""The supervised account scorer: LightGBM over behaviour, graph and community features.

A model file is one JSON document: the feature list it was trained on, the LightGBM
booster as text, and a manifest (training data, seeds, parameters, metrics) that says
how to reproduce it. ``distillguard train`` writes it; ``scan`` loads the shipped
default (:func:`default_model_path`) unless ``--model`` names another. Missing
features at scoring time are NaN (LightGBM routes them down its learned missing-value
branch), so a model keeps working when a store lacks some facts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from ..errors import InputError

__all__ = ["MODEL_FORMAT", "AccountModel", "default_model_path", "train_model"]

#: Decimals training features are rounded to (reproducible model files).
ROUND_DECIMALS = 6

#: Identifies distillguard model files; bumped when the layout changes.
MODEL_FORMAT = "distillguard-account-model/1"

_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbosity": -1,
    "num_threads": 2,
    "deterministic": True,
    "force_row_wise": True,
}


@dataclass
class AccountModel:
    """A trained account model: features in order, booster, manifest."""

    features: list[str]
    booster: lgb.Booster
    manifest: dict[str, Any] = field(default_factory=dict)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Probability of extraction per row (columns in :attr:`features` order)."""
        if matrix.shape[0] == 0:
            return np.zeros(0)
        return np.asarray(self.booster.predict(matrix), dtype=float)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Per-feature contributions (SHAP values, log-odds) per row, bias column dropped."""
        if matrix.shape[0] == 0:
            return np.zeros((0, len(self.features)))
        out = np.asarray(self.booster.predict(matrix, pred_contrib=True), dtype=float)
        return out[:, :-1]

    def save(self, path: Path) -> Path:
        """Write the model file (JSON) and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "format": MODEL_FORMAT,
            "features": self.features,
            "manifest": self.manifest,
            "booster": self.booster.model_to_string(),
        }
        path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> AccountModel:
        """Read a model file written by :meth:`save`; names the file when it is not one."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError("unreadable model", str(exc), file=str(path)) from exc
        if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
            raise InputError(
                "not a distillguard model",
                f"expected format {MODEL_FORMAT!r}",
                file=str(path),
                field="format",
            )
        booster = lgb.Booster(model_str=doc["booster"])
        return cls(list(doc["features"]), booster, dict(doc.get("manifest", {})))


def default_model_path() -> Path | None:
    """The model shipped in the package, or ``None`` when none is installed."""
    p = resources.files("distillguard.models").joinpath("default.json")
    return Path(str(p)) if p.is_file() else None


def train_model(
    matrix: np.ndarray,
    labels: np.ndarray,
    features: list[str],
    *,
    rounds: int = 300,
    seed: int = 13,
    manifest: dict[str, Any] | None = None,
) -> AccountModel:
    """Fit LightGBM on ``matrix`` (rows x ``features``) against 0/1 ``labels``."""
    y = np.asarray(labels, dtype=float)
    # DuckDB sums in parallel, so the same data gives features that differ in the 16th
    # digit from run to run; rounding makes the fitted booster (its bin edges and
    # thresholds) the same file every time
    matrix = np.round(np.asarray(matrix, dtype=float), ROUND_DECIMALS)
    if y.size == 0 or y.min() == y.max():
        raise InputError("unusable labels", "training needs both attack and benign accounts")
    pos = float(y.sum())
    params = dict(
        _PARAMS, seed=seed, scale_pos_weight=max(1.0, (y.size - pos) / max(pos, 1.0)) ** 0.5
    )
    ds = lgb.Dataset(matrix, label=y, feature_name=features, free_raw_data=True)
    booster = lgb.train(params, ds, num_boost_round=rounds)
    info = dict(manifest or {})
    info.update(
        {"params": params, "rounds": rounds, "n_accounts": int(y.size), "n_attack": int(pos)}
    )
    return AccountModel(list(features), booster, info)
