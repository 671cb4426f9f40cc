"""Scorers: unsupervised direction, supervised round trip, community propagation, actions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dg_detect_factory import filled_store
from distillguard.communities import detect_communities
from distillguard.errors import InputError
from distillguard.links import build_links
from distillguard.scoring import (
    AccountModel,
    ActionPolicy,
    choose_action,
    community_evidence,
    neighbour_evidence,
    robust_extraction_score,
    train_model,
)


def test_unsupervised_only_counts_the_suspicious_direction() -> None:
    rng = np.random.default_rng(0)
    cols = ["elicitation_share", "volume", "verification_level"]
    x = np.column_stack([rng.uniform(0, 0.1, 200), rng.uniform(0, 1, 200), rng.uniform(3, 5, 200)])
    x[0, 0] = 0.9  # elicits reasoning all the time
    x[1, 1] = 50.0  # just very heavy: no extraction direction
    x[2, 2] = 0.0  # unverified
    x[3, 0], x[3, 2] = -5.0, 5.0  # far in the harmless direction
    s = robust_extraction_score(x, cols)
    assert s.columns == ["elicitation_share", "verification_level"]
    assert s.score[0] > 0.3 and s.score[2] > 0.3
    assert s.score[1] == pytest.approx(np.median(s.score), abs=0.05)
    assert s.score[3] == 0.0
    assert ((s.score >= 0) & (s.score <= 1)).all()


def test_supervised_model_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + 0.2 * rng.normal(size=400) > 0.5).astype(float)
    m = train_model(x, y, ["a", "b", "c"], rounds=50, manifest={"why": "test"})
    p = m.save(tmp_path / "m.json")
    m2 = AccountModel.load(p)
    assert m2.features == ["a", "b", "c"] and m2.manifest["why"] == "test"
    np.testing.assert_allclose(m.predict(x), m2.predict(x))
    auc_hi = m2.predict(x)[y == 1].mean()
    auc_lo = m2.predict(x)[y == 0].mean()
    assert auc_hi > auc_lo + 0.3
    shap = m2.contributions(x[:5])
    assert shap.shape == (5, 3)
    assert np.abs(shap[:, 0]).mean() > np.abs(shap[:, 1]).mean()


def test_bad_model_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(InputError, match=r"x\.json"):
        AccountModel.load(bad)
    with pytest.raises(InputError):
        train_model(np.zeros((3, 1)), np.zeros(3), ["a"])


def test_quiet_member_gets_campaign_evidence() -> None:
    store, attack = filled_store()
    g = build_links(store.con)
    c = detect_communities(g)
    risk = np.array([0.95 if a in attack else 0.01 for a in g.accounts])
    quiet = g.accounts.index("acct_x005")
    risk[quiet] = 0.0
    ev = community_evidence(risk, g, c)
    assert ev.propagated[quiet] > 0.7
    benign = [i for i, a in enumerate(g.accounts) if a not in attack]
    assert ev.propagated[benign].max() == 0.0
    assert ev.kinds[int(c.membership[quiet])]
    nb = neighbour_evidence(risk, g)
    assert nb.propagated[quiet] > 0.7
    assert nb.kinds[quiet] and set(nb.kinds[quiet]) <= set(g.kinds)
    assert nb.propagated[benign].max() == 0.0
    # a benign account with one weak link (a shared template alone) gets nothing
    low = neighbour_evidence(np.where(risk > 0.5, 0.3, 0.0), g)
    assert low.propagated[quiet] < nb.propagated[quiet]


def test_actions_are_account_type_aware() -> None:
    p = ActionPolicy()
    assert choose_action(0.1, "individual", policy=p) == "allow"
    assert choose_action(0.99, "individual", policy=p) == "block"
    assert choose_action(0.99, "education", verification="email") == "verify"
    assert choose_action(0.99, "education", verification="id") == "block"
    assert choose_action(0.99, "enterprise") == "monitor"
    assert choose_action(0.1, "enterprise") == "allow"
    ladder = [choose_action(r / 20, "individual") for r in range(21)]
    order = ["allow", "monitor", "throttle", "verify", "degrade", "block"]
    assert [order.index(a) for a in ladder] == sorted(order.index(a) for a in ladder)


def test_shipped_default_model_matches_the_feature_set() -> None:
    from distillguard.features import FEATURE_COLUMNS
    from distillguard.links import graph_features
    from distillguard.scoring import MODEL_EXCLUDED, default_model_path

    path = default_model_path()
    assert path is not None, "the package ships models/default.json"
    m = AccountModel.load(path)
    assert {s["scenario"]["name"] for s in m.manifest["sources"]} <= {
        "default",
        "train-varied-a",
        "train-varied-b",
        "train-varied-c",
    }, "the default model is trained on training scenarios only"
    scales = {s["scenario"].get("scale") for s in m.manifest["sources"]}
    assert len(scales) >= 3, "the default model is trained across several scales"
    assert not any(set(MODEL_EXCLUDED) & set(m.features)), "population-size columns are out"
    store, _ = filled_store(n_benign=5, n_attack=3)
    from distillguard.communities import Communities
    from distillguard.scoring import scale_free_features

    one = Communities(
        np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64), np.zeros(1), np.zeros(1)
    )
    free = scale_free_features(np.zeros((1, len(FEATURE_COLUMNS))), list(FEATURE_COLUMNS), one)
    known = set(FEATURE_COLUMNS) | set(graph_features(build_links(store.con))) | set(free)
    behaviour_and_graph = [f for f in m.features if not f.startswith("c_")]
    missing = [f for f in behaviour_and_graph if f not in known]
    assert len(missing) <= 0.1 * len(behaviour_and_graph), f"retrain the model: {missing}"
