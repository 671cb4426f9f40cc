"""Per-account features: behaviour they must capture, and batch == online."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from distillguard.features import (
    FEATURE_COLUMNS,
    FEATURE_DOCS,
    OnlineAccountState,
    account_daily,
    account_features,
)
from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA
from distillguard.signals import SIGNALS_TABLE, SignalContext, materialise
from distillguard.store import Store

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
QUESTIONS = [
    "How many prime numbers are there below one hundred, and which is the largest?",
    "What is the derivative of x cubed times the natural log of x?",
    "Prove that the square root of two is irrational.",
    "A bag has 3 red and 5 blue balls; what is the probability of drawing two reds?",
    "Solve the equation 3x + 7 = 22 for x.",
    "What is the integral of sine squared of x?",
]


def _ex(i: int, account: str, ts: datetime, text: str | None, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(EXCHANGE_SCHEMA.names)
    row.update(
        exchange_id=f"{account}-{i:05d}",
        timestamp=ts,
        account_id=account,
        api="anthropic.messages",
        model="frontier-1",
        last_user_text=text,
        user_text=text,
        n_user_turns=1,
        n_assistant_turns=0,
        n_tools=0,
        n_choices=1,
        max_tokens=4096,
        input_tokens=100,
        output_tokens=400,
        status=200,
        stop_kind="end",
    )
    row.update(kw)
    return row


def _scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = np.random.default_rng(3)
    rows: list[dict[str, Any]] = []
    # harvester: every 60 s from datacenter space, templated step-by-step, each item once,
    # switches to the new model family as soon as it appears on day 2
    for i in range(240):
        ts = T0 + timedelta(seconds=60 * i)
        model = "frontier-2-20260302" if ts >= T0 + timedelta(hours=2) else "frontier-1"
        q = f"Item {i}: {QUESTIONS[i % len(QUESTIONS)]} Think step by step and show your reasoning."
        rows.append(
            _ex(
                i,
                "acct_harvest",
                ts,
                q,
                client_ip=f"3.5.140.{i % 50}",
                model=model,
                input_tokens=80,
                output_tokens=3000,
                thinking_budget=16_000,
            )
        )
    # human: irregular gaps, repeats some prompts, residential address, chatty mix
    t = T0 + timedelta(hours=14)
    for i in range(60):
        t += timedelta(seconds=float(rng.exponential(900)))
        text = [
            "Write a short poem about the sea for my blog post.",
            QUESTIONS[i % 3],
            "Can you help me plan a birthday party?",
        ][i % 3]
        rows.append(
            _ex(
                i,
                "acct_human",
                t,
                text,
                client_ip="108.6.73.167",
                n_user_turns=1 + i % 4,
                n_assistant_turns=i % 4,
            )
        )
    # redacted account: prompts withheld, tools declared
    for i in range(20):
        rows.append(
            _ex(
                i,
                "acct_redacted",
                T0 + timedelta(minutes=37 * i),
                None,
                n_tools=3,
                has_tool_results=i % 2 == 0,
                client_ip=None,
            )
        )
    accounts = [
        {
            "account_id": "acct_harvest",
            "created_at": T0 - timedelta(days=1),
            "account_type": "education",
            "billing_country": "US",
            "verification": "email",
            "status": "active",
        },
        {
            "account_id": "acct_human",
            "created_at": T0 - timedelta(days=400),
            "account_type": "individual",
            "billing_country": "DE",
            "verification": "card",
            "status": "active",
        },
        {
            "account_id": "acct_redacted",
            "created_at": None,
            "account_type": None,
            "billing_country": None,
            "verification": None,
            "status": "active",
        },
    ]
    return rows, accounts


@pytest.fixture(scope="module")
def store() -> Store:
    rows, accounts = _scenario()
    st = Store(":memory:")
    st.append_exchanges(pa.RecordBatch.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    full = [{n: a.get(n) for n in ACCOUNT_SCHEMA.names} for a in accounts]
    st.upsert_accounts(pa.Table.from_pylist(full, schema=ACCOUNT_SCHEMA))
    materialise(st, SignalContext.default(use_shared_data=False))
    return st


@pytest.fixture(scope="module")
def feats(store: Store) -> dict[str, dict[str, Any]]:
    tbl = account_features(store)
    return {r["account_id"]: r for r in tbl.to_pylist()}


def test_one_row_per_account_with_every_feature(store: Store, feats: dict) -> None:
    assert set(feats) == {"acct_harvest", "acct_human", "acct_redacted"}
    tbl = account_features(store)
    assert tbl.column_names[: 1 + len(FEATURE_COLUMNS)] == ["account_id", *FEATURE_COLUMNS]
    for name in FEATURE_COLUMNS:
        assert tbl.schema.field(name).type == pa.float64()
        assert FEATURE_DOCS[name]


def test_harvester_and_human_differ_where_they_should(feats: dict) -> None:
    h, u = feats["acct_harvest"], feats["acct_human"]
    assert h["iat_cv"] < 0.05 < 0.5 < u["iat_cv"]
    assert h["iat_entropy"] < u["iat_entropy"]
    assert h["elicitation_share"] == 1.0 and u["elicitation_share"] < 0.2
    assert h["prompt_once_share"] == 1.0 and u["prompt_once_share"] < 0.2
    assert h["distinct_prompt_share"] == 1.0 and u["distinct_prompt_share"] < 0.1
    assert h["output_input_ratio"] == pytest.approx(3000 / 80)
    assert h["single_turn_share"] == 1.0 and u["single_turn_share"] == pytest.approx(0.25)
    assert h["hosting_share"] == 1.0 and u["hosting_share"] == 0.0
    assert h["distinct_ips"] == 50 and u["distinct_ips"] == 1
    assert h["cap_share_math_reasoning"] == 1.0 and h["capability_top_share"] == 1.0
    assert h["capability_entropy"] == 0.0 < u["capability_entropy"]
    assert h["account_age_days"] == pytest.approx(1.0)
    assert h["verification_level"] == 1 and u["verification_level"] == 3
    assert h["peak_day_exchanges"] == 240
    # one template (its fixed tail) over six questions and 240 item numbers
    assert h["template_top_share"] == 1.0 and h["distinct_templates"] == 1
    assert h["templated_share"] == 1.0 and u["templated_share"] < 0.5
    assert u["template_top_share"] < 0.5


def test_local_time_uses_billing_country(feats: dict) -> None:
    h = feats["acct_harvest"]
    # 00:00-04:00 UTC is 19:00-23:00 the evening before in the US table's UTC-5
    assert h["local_night_share"] == 0.0 and h["local_work_share"] == 0.0
    assert feats["acct_redacted"]["local_night_share"] is None


def test_model_release_reaction(feats: dict, store: Store) -> None:
    h, u = feats["acct_harvest"], feats["acct_human"]
    # frontier-2 first appears 2 h into the log: not "released" by the default rule (> 1 day)
    assert h["release_lag_hours"] is None
    rel = {"frontier-2": T0 + timedelta(hours=2)}
    tbl = {r["account_id"]: r for r in account_features(store, release_times=rel).to_pylist()}
    assert tbl["acct_harvest"]["release_lag_hours"] == pytest.approx(0.0)
    assert tbl["acct_harvest"]["new_model_share_72h"] == 1.0
    assert tbl["acct_human"]["new_model_share_72h"] == 0.0
    assert u["release_lag_hours"] is None


def test_redacted_prompts_keep_structural_features(feats: dict) -> None:
    r = feats["acct_redacted"]
    assert r["tool_share"] == 1.0 and r["cap_share_tool_agentic"] == 1.0
    assert r["distinct_prompt_share"] is None and r["distinct_templates"] == 0
    assert r["account_age_days"] is None


def test_daily_rows(store: Store) -> None:
    daily = account_daily(store).to_pylist()
    assert {
        (d["account_id"], d["n_exchanges"]) for d in daily if d["account_id"] == "acct_harvest"
    } == {("acct_harvest", 240)}


# ---------------------------------------------------------------- online == batch
def _online(store: Store, account: str, parts: int = 1) -> OnlineAccountState:
    sig = store.query(
        f"SELECT * FROM {SIGNALS_TABLE} WHERE account_id = ? ORDER BY timestamp, exchange_id",
        [account],
    ).to_pylist()
    acc = store.query("SELECT * FROM accounts WHERE account_id = ?", [account]).to_pylist()[0]
    chunks = np.array_split(np.arange(len(sig)), parts)
    states = []
    for chunk in chunks:
        st = OnlineAccountState(account)
        st.set_account(acc)
        for k in chunk:
            st.update(sig[k])
        states.append(st)
    merged = states[0]
    for other in states[1:]:
        merged.merge(other)
    return merged


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)


@pytest.mark.parametrize("parts", [1, 3])
@pytest.mark.parametrize("account", ["acct_harvest", "acct_human", "acct_redacted"])
def test_online_state_matches_batch(store: Store, feats: dict, account: str, parts: int) -> None:
    online = _online(store, account, parts).features()
    batch = feats[account]
    skip = {"new_model_share_72h"}  # needs the whole log; null online by design
    mismatched = {
        k: (online[k], batch[k])
        for k in FEATURE_COLUMNS
        if k not in skip and not _close(online[k], batch[k])
    }
    assert not mismatched


def test_online_state_round_trips_through_json(store: Store) -> None:
    st = _online(store, "acct_human")
    again = OnlineAccountState.from_dict(json.loads(json.dumps(st.to_dict())))
    assert again.features() == st.features()
    with pytest.raises(ValueError, match="version"):
        OnlineAccountState.from_dict({**st.to_dict(), "v": 99})


def test_online_release_lag(store: Store) -> None:
    st = _online(store, "acct_harvest")
    f = st.features(release_times={"frontier-2": T0 + timedelta(hours=2)})
    assert f["release_lag_hours"] == pytest.approx(0.0)


def test_release_times_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from distillguard.errors import InputError
    from distillguard.features import read_release_times

    p = tmp_path / "model_releases.json"
    p.write_text('[{"model": "frontier-2", "released_at": "2026-03-02T02:00:00.000Z"}]')
    assert read_release_times(p) == {"frontier-2": T0 + timedelta(hours=2)}
    p.write_text('{"frontier-3": "2026-04-01T00:00:00"}')
    assert read_release_times(p)["frontier-3"].tzinfo is not None
    p.write_text('[{"model": "frontier-2", "released_at": "yesterday"}]')
    with pytest.raises(InputError, match=r"model_releases\.json:1 \[released_at\]"):
        read_release_times(p)
