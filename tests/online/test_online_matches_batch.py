"""The online path reuses the batch definitions: same exchange, same signals and features."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa

from distillguard.features import OnlineAccountState
from distillguard.ingest import read_exchanges
from distillguard.online import Enforcer, MemoryState, RequestContext
from distillguard.online.engine import default_batch_signals, default_signals
from distillguard.policy import default_policy
from distillguard.signals import SignalContext, compute_signals


def _records() -> list[dict[str, Any]]:
    base = {
        "account_id": "acct_1",
        "access_path": "api",
        "client": {
            "ip": "108.6.73.167",
            "user_agent": "Anthropic/Python 0.121.0",
            "headers": {"x-stainless-lang": "python", "x-stainless-os": "Linux"},
        },
    }
    prompts = [
        "Solve step by step and show all of your reasoning: what is 17 * 23?",
        "Write a Python function that merges two sorted lists. Explain each line.",
        "You are a strict grader. Score the following answer from 1 to 10: 'Paris is in Spain.'",
    ]
    out = []
    for i, text in enumerate(prompts):
        api = "anthropic.messages" if i % 2 == 0 else "openai.chat_completions"
        req: dict[str, Any] = {
            "model": "frontier-1",
            "messages": [{"role": "user", "content": text}],
            "max_tokens": 4000,
        }
        if api == "anthropic.messages":
            req["thinking"] = {"type": "enabled", "budget_tokens": 2000}
            usage = {"input_tokens": 40 + i, "output_tokens": 900 + i}
        else:
            req["n"] = 2
            usage = {"prompt_tokens": 40 + i, "completion_tokens": 900 + i}
        out.append(
            {
                **base,
                "id": f"ex_{i}",
                "timestamp": f"2026-03-03T0{i}:14:58.008Z",
                "api": api,
                "request": req,
                "response": {"status": 200, "stop_reason": "end_turn", "usage": usage},
            }
        )
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def test_same_exchange_gives_the_same_signals_online_and_in_batch(tmp_path: Path) -> None:
    recs = _records()
    log = tmp_path / "exchanges.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    batch = pa.Table.from_batches(list(read_exchanges(log)))
    batch_rows = {
        r["exchange_id"]: r for r in compute_signals(batch, SignalContext.default()).to_pylist()
    }
    one = default_signals(None)  # every detector
    request_time = default_signals()  # what decide reads: address, client, template, shape
    for rec in recs:
        online = one(rec)
        offline = batch_rows[rec["id"]]
        assert online.keys() == offline.keys()
        diff = [k for k in online if not _same(online[k], offline[k])]
        assert diff == [], f"{rec['id']}: {diff}"
        subset = request_time(rec)
        assert set(subset) < set(offline) and "template_id" in subset and "shape_fp" in subset
        assert [k for k in subset if not _same(subset[k], offline[k])] == []
    # the batched online path (replay, the service's observe queue) is the same code too
    many = default_batch_signals()(recs)
    assert [m["template_id"] for m in many] == [batch_rows[r["id"]]["template_id"] for r in recs]


def test_observed_state_has_the_batch_feature_definitions() -> None:
    recs = _records()
    st = MemoryState()
    enf = Enforcer(st, default_policy(), batch_signals=default_batch_signals())
    for rec in recs:
        ctx = RequestContext.from_native(rec)
        enf.decide(ctx)
        enf.observe_many([(ctx, rec["response"])])
    reference = OnlineAccountState()
    for sig in default_batch_signals()(recs):
        reference.update(sig)
    expected = {k: v for k, v in reference.features().items() if v is not None}
    view = st.view(RequestContext.from_native(recs[0]), 1.9e9)
    assert view.events == 3
    assert view.features == expected
    assert view.features["n_exchanges"] == 3
    assert view.features["output_tokens"] == sum(900 + i for i in range(3))
