"""The embedded store: idempotent appends, account upserts, streaming reads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA
from distillguard.store import Store


def _exchanges(ids: list[str]) -> pa.Table:
    n = len(ids)
    cols = {f.name: pa.nulls(n, f.type) for f in EXCHANGE_SCHEMA}
    cols["exchange_id"] = pa.array(ids)
    cols["timestamp"] = pa.array(
        [datetime(2026, 3, 3, tzinfo=UTC)] * n, EXCHANGE_SCHEMA.field("timestamp").type
    )
    cols["account_id"] = pa.array(["acct_1"] * n)
    return pa.table(cols, schema=EXCHANGE_SCHEMA)


def test_append_is_idempotent_by_exchange_id(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        assert store.append_exchanges(_exchanges(["a", "b", "c"])) == 3
        assert store.append_exchanges(_exchanges(["b", "c", "d", "d"])) == 1
        assert store.count() == 4
    # reopening sees what was committed
    with Store(tmp_path / "s.duckdb") as store:
        ids = sorted(store.query("SELECT exchange_id FROM exchanges").column(0).to_pylist())
        assert ids == ["a", "b", "c", "d"]
        batches = list(store.iter_batches(batch_size=2))
        assert sum(b.num_rows for b in batches) == 4 and max(b.num_rows for b in batches) <= 2


def test_accounts_are_upserted(tmp_path: Path) -> None:
    def acc(status: str) -> pa.Table:
        return pa.table(
            {"account_id": ["acct_1"], "status": [status]}
            | {
                f.name: pa.nulls(1, f.type)
                for f in ACCOUNT_SCHEMA
                if f.name not in ("account_id", "status")
            },
        ).select(ACCOUNT_SCHEMA.names)

    with Store(tmp_path / "s.duckdb") as store:
        store.upsert_accounts(acc("active"))
        store.upsert_accounts(acc("banned"))
        assert store.count("accounts") == 1
        assert store.accounts().column("status").to_pylist() == ["banned"]


def test_a_failing_append_rolls_back_whole(tmp_path: Path) -> None:
    import duckdb
    import pytest

    with Store(tmp_path / "s.duckdb") as store:
        store.append_exchanges(_exchanges(["a"]))
        bad = _exchanges(["b", "c"])
        bad = bad.set_column(
            bad.schema.get_field_index("account_id"),
            pa.field("account_id", pa.string()),
            pa.array(["acct_1", None]),
        )
        with pytest.raises((ValueError, duckdb.Error)):
            store.append_exchanges(bad)
        assert store.count() == 1  # "b" was not half-written
        assert store.append_exchanges(_exchanges(["b", "c"])) == 2


def test_iter_batches_streams_a_query(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        store.append_exchanges(_exchanges([f"e{i}" for i in range(1000)]))
        sizes = [b.num_rows for b in store.iter_batches("SELECT exchange_id FROM exchanges", 300)]
        assert sum(sizes) == 1000 and max(sizes) <= 300
