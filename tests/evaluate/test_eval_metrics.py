"""Metric functions against hand-computed cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from distillguard.contracts import CampaignTruth, TruthRow
from distillguard.evaluate.metrics import (
    account_metrics,
    campaign_metrics,
    enforcement_metrics,
    flag_rates,
)


def _truth(rows: list[tuple[str, str, str, bool]]) -> dict[str, TruthRow]:
    return {
        a: TruthRow(account_id=a, group=g, actor=actor, is_attack=atk) for a, g, actor, atk in rows
    }


@pytest.fixture
def truth() -> dict[str, TruthRow]:
    return _truth(
        [
            ("a1", "hydra", "A", True),
            ("a2", "hydra", "A", True),
            ("a3", "hydra", "A", True),
            ("a4", "hydra", "A", True),
            ("x1", "agentic", "X", True),
            ("x2", "agentic", "X", True),
            ("x3", "agentic", "X", True),
            ("b1", "hobby", "", False),
            ("b2", "hobby", "", False),
            ("b3", "enterprise", "", False),
            ("b4", "enterprise", "", False),
            ("b5", "enterprise", "", False),
        ]
    )


def test_account_metrics_hand_computed(truth: dict[str, TruthRow]) -> None:
    # 7 attack, 5 benign; flag a1 a2 x1 (tp=3), b3 (fp=1), and an unknown account (ignored)
    m = account_metrics(truth, {"a1", "a2", "x1", "b3", "stranger"})
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (3, 1, 4, 4)
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["recall"] == pytest.approx(3 / 7)
    assert m["f1"] == pytest.approx(2 * (3 / 4) * (3 / 7) / (3 / 4 + 3 / 7))
    assert m["fpr"] == pytest.approx(1 / 5)


def test_account_metrics_undefined_and_scope(truth: dict[str, TruthRow]) -> None:
    m = account_metrics(truth, set())
    assert m["precision"] is None  # nothing flagged: undefined, not 0 or 1
    assert m["recall"] == 0.0 and m["fpr"] == 0.0
    scoped = account_metrics(truth, {"a1", "b1"}, scope=["a1", "a2", "b1", "b2"])
    assert (scoped["tp"], scoped["fp"], scoped["fn"], scoped["tn"]) == (1, 1, 1, 1)
    assert scoped["accounts"] == 4


def test_flag_rates_per_group_and_actor(truth: dict[str, TruthRow]) -> None:
    flagged = {"a1", "a2", "x1", "b3"}
    groups = flag_rates(truth, flagged, "group")
    assert groups["enterprise"] == {"accounts": 3, "flagged": 1, "rate": 1 / 3, "is_attack": False}
    assert groups["hydra"]["rate"] == 0.5 and groups["hydra"]["is_attack"] is True
    assert groups["hobby"]["rate"] == 0.0
    actors = flag_rates(truth, flagged, "actor")
    assert set(actors) == {"A", "X"}  # benign accounts have no actor
    assert actors["X"]["rate"] == pytest.approx(1 / 3)


def test_campaign_purity_completeness_attribution(truth: dict[str, TruthRow]) -> None:
    campaigns = {
        "C1": ["a1", "a2", "a3", "b1"],  # dominant A: 3/4
        "C2": ["a4", "x1", "x2"],  # dominant X: 2/3
        "C3": ["b2", "b3"],  # benign only: 0
    }
    m = campaign_metrics(truth, campaigns, {"C1": "A", "C2": "A", "C3": ""})
    assert m["predicted"] == 3
    assert m["purity"] == pytest.approx((3 + 2 + 0) / (4 + 3 + 2))
    per = m["campaigns"]
    assert per["C2"]["dominant_actor"] == "X" and per["C3"]["purity"] == 0.0
    assert m["actors"]["A"]["completeness"] == pytest.approx(3 / 4)
    assert m["actors"]["A"]["best_campaign"] == "C1"
    assert m["actors"]["X"]["completeness"] == pytest.approx(2 / 3)
    assert m["actor_completeness"] == pytest.approx((3 / 4 + 2 / 3) / 2)
    att = m["attribution"]
    assert (att["attributed"], att["correct"], att["accuracy"]) == (2, 1, 0.5)


def test_campaign_metrics_nothing_found(truth: dict[str, TruthRow]) -> None:
    m = campaign_metrics(truth, {})
    assert m["purity"] is None
    assert m["actor_completeness"] == 0.0
    assert m["attribution"]["accuracy"] is None


def test_enforcement_hand_computed() -> None:
    truth = _truth(
        [
            ("a1", "hydra", "A", True),
            ("a2", "hydra", "A", True),
            ("e1", "enterprise", "", False),
            ("h1", "hobby", "", False),
        ]
    )
    ct = [CampaignTruth(campaign_id="c_A", actor="A", archetype="hydra", members=["a1", "a2"])]
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    ex_rows = [
        # campaign: tokens 100..500, actions allow, monitor, throttle, block, allow
        ("x1", "a1", 0, 100, "allow"),
        ("x2", "a2", 1, 200, "monitor"),
        ("x3", "a1", 2, 300, "throttle"),
        ("x4", "a2", 3, 400, "block"),
        ("x5", "a1", 4, 500, "allow"),
        # enterprise: one of each enforcement
        ("y1", "e1", 0, 10, "allow"),
        ("y2", "e1", 1, 10, "verify"),
        ("y3", "e1", 2, 10, "degrade"),
        ("y4", "e1", 3, 10, "block"),
        # hobby: one decided, one without a decision (counts as allowed)
        ("z1", "h1", 0, 10, "throttle"),
        ("z2", "h1", 1, 10, None),
    ]
    exchanges = pa.table(
        {
            "exchange_id": [r[0] for r in ex_rows],
            "account_id": [r[1] for r in ex_rows],
            "timestamp": pa.array(
                [t0 + timedelta(minutes=r[2]) for r in ex_rows], pa.timestamp("ms", tz="UTC")
            ),
            "output_tokens": pa.array([r[3] for r in ex_rows], pa.int64()),
        }
    )
    decided = [r for r in ex_rows if r[4] is not None]
    decisions = pa.table(
        {"exchange_id": [r[0] for r in decided], "action": [r[4] for r in decided]}
    )
    m = enforcement_metrics(truth, ct, exchanges, decisions)
    c = m["campaigns"]["c_A"]
    assert c["exchanges"] == 5 and c["output_tokens"] == 1500
    assert c["full_quality_exchanges"] == pytest.approx(3 / 5)
    assert c["full_quality_tokens"] == pytest.approx(800 / 1500)
    assert c["before_first_stop_exchanges"] == pytest.approx(3 / 5)
    assert c["before_first_stop_tokens"] == pytest.approx(600 / 1500)
    assert c["before_first_enforcement_exchanges"] == pytest.approx(2 / 5)
    assert c["before_first_enforcement_tokens"] == pytest.approx(300 / 1500)
    ent = m["benign_groups"]["enterprise"]
    assert (ent["throttled"], ent["verified"], ent["degraded"], ent["blocked"]) == (
        0.0,
        0.25,
        0.25,
        0.25,
    )
    assert m["enterprise_blocked"] is True
    hobby = m["benign_groups"]["hobby"]
    assert hobby["throttled"] == 0.5 and hobby["undecided"] == 1


def test_enforcement_never_stopped_serves_everything() -> None:
    truth = _truth([("a1", "agentic", "A", True), ("e1", "enterprise", "", False)])
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    exchanges = pa.table(
        {
            "exchange_id": ["x1", "x2", "y1"],
            "account_id": ["a1", "a1", "e1"],
            "timestamp": pa.array(
                [t0, t0 + timedelta(seconds=1), t0], pa.timestamp("ms", tz="UTC")
            ),
            "output_tokens": pa.array([5, 7, 1], pa.int64()),
        }
    )
    decisions = pa.table(
        {"exchange_id": ["x1", "x2", "y1"], "action": ["allow", "monitor", "allow"]}
    )
    m = enforcement_metrics(truth, [], exchanges, decisions)
    c = m["campaigns"]["A"]  # no campaigns_truth: the actor is the unit
    assert c["before_first_stop_exchanges"] == 1.0 and c["first_stop"] is None
    assert m["enterprise_blocked"] is False


def test_auc_hand_computed(truth: dict[str, TruthRow]) -> None:
    from distillguard.evaluate.metrics import auc

    small = {a: truth[a] for a in ("a1", "a2", "b1", "b2")}
    # a1 > b1 > a2 > b2: 3 of the 4 attack/benign pairs ordered right
    assert auc(small, {"a1": 0.9, "b1": 0.6, "a2": 0.5, "b2": 0.1}) == pytest.approx(3 / 4)
    # unscored accounts rank lowest: a2 and b2 tie below b1
    assert auc(small, {"a1": 0.9, "b1": 0.6}) == pytest.approx((1 + 1 + 0 + 0.5) / 4)
    assert auc({"a1": truth["a1"]}, {"a1": 1.0}) is None  # one class only
