"""``materialise`` writes exactly what ``compute_signals`` computes, in one transaction.

The signal table is written with bulk settings (one transaction, one DuckDB thread, no
FSST); these tests pin that the stored values are the per-batch signals (template ids
resolved by the learned vocabulary), that the settings are restored, and that a failure
mid-way leaves the previous table untouched.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from _realdata import exchange

import distillguard.signals.pipeline as pipeline
from distillguard.schema import EXCHANGE_SCHEMA
from distillguard.signals import SIGNALS_TABLE, SignalContext, compute_signals, materialise
from distillguard.signals.vocabulary import TemplateVocabulary
from distillguard.store import Store


def _store() -> Store:
    rows = []
    for i in range(700):
        kind = i % 5
        if kind == 0:
            text = f"Translate item {i} of the benchmark into French: 'sample {i * 7}'."
        elif kind == 1:
            text = f"Grade this answer from 1 to 10. Answer: {i} apples. Reference: {i + 1}."
        elif kind == 2:
            text = None
        elif kind == 3:
            text = f"Let's think step by step about Question {i}: is {i} prime?"
        else:
            text = f"Hi! my dog {['Rex', 'Bo', 'Max'][i % 3]} ate {i} socks, what now"
        rows.append(
            exchange(
                text,
                i,
                account_id=f"acct_{i % 13}",
                client_ip=["8.8.8.8", None, "10.0.0.1", "2001:4860:4860::8888"][i % 4],
                system_text=["You are a grader.", None][i % 2],
                user_agent=["Anthropic/Python 0.121.0", None, "curl/8.5.0"][i % 3],
            )
        )
    store = Store(":memory:")
    store.append_exchanges(pa.RecordBatch.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    return store


def _by_id(table: pa.Table) -> dict[str, dict]:
    return {r["exchange_id"]: r for r in table.to_pylist()}


@pytest.mark.parametrize("row_group", [122_880, 100])
def test_stored_signals_are_the_computed_ones(
    ctx: SignalContext, monkeypatch: pytest.MonkeyPatch, row_group: int
) -> None:
    monkeypatch.setattr(pipeline, "ROW_GROUP_ROWS", row_group)  # 100: commits mid-batch
    store = _store()
    assert materialise(store, ctx, batch_size=128) == 700
    stored = _by_id(store.query(f"SELECT * FROM {SIGNALS_TABLE}"))
    # materialise leaves the learned vocabulary on ctx: a batch computed now resolves
    # template ids exactly as the stored table must
    computed = compute_signals(store.query("SELECT * FROM exchanges"), ctx)
    assert len(TemplateVocabulary.load(store)) == len(ctx.templates) > 0
    want = _by_id(pa.Table.from_batches([computed]))
    assert stored.keys() == want.keys()
    for eid, row in want.items():
        assert stored[eid] == row, eid
    assert sum(bool(r["templated"]) for r in stored.values()) > 100  # templates resolved


def test_settings_are_restored_and_a_failure_keeps_the_old_table(
    ctx: SignalContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store()
    materialise(store, ctx, batch_size=128)
    before = store.query(f"SELECT * FROM {SIGNALS_TABLE} ORDER BY exchange_id")
    con = store.con
    con.execute("SET threads=3")
    calls = {"n": 0}
    real = pipeline.compute_signals

    def flaky(batch: pa.RecordBatch, c: SignalContext) -> pa.RecordBatch:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(batch, c)

    monkeypatch.setattr(pipeline, "compute_signals", flaky)
    with pytest.raises(RuntimeError, match="disk full"):
        materialise(store, ctx, batch_size=128)
    settings = con.execute(
        "SELECT current_setting('threads'), current_setting('disabled_compression_methods')"
    ).fetchone()
    assert settings == (3, "")
    after = store.query(f"SELECT * FROM {SIGNALS_TABLE} ORDER BY exchange_id")
    assert after.equals(before)
