"""Bulk ingestion commits at whole DuckDB row groups, never leaving a partial one behind."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from ingest_samples import native

import distillguard.ingest.writer as writer
from distillguard.ingest import IngestSummary, ingest_paths
from distillguard.ingest.writer import append_all
from distillguard.store import Store


class _Recorder:
    """A store that records how many rows each transaction held."""

    def __init__(self) -> None:
        self.open_rows = 0
        self.commits: list[int] = []

    @contextmanager
    def bulk_append(self) -> Iterator[object]:
        class _Bulk:
            new = 0

        bulk = _Bulk()
        yield bulk
        self.commit_appends()
        bulk.new = sum(self.commits)

    def append_exchanges(self, table: pa.Table) -> int:
        self.open_rows += table.num_rows
        return table.num_rows

    def commit_appends(self) -> None:
        if self.open_rows:
            self.commits.append(self.open_rows)
            self.open_rows = 0


def _tables(sizes: list[int]) -> Iterator[pa.Table]:
    for n in sizes:
        yield pa.table({"exchange_id": [f"e{i}" for i in range(n)]})


def test_transactions_end_exactly_at_row_group_multiples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "ROW_GROUP_ROWS", 100)
    store = _Recorder()
    summary = IngestSummary()
    append_all(store, _tables([30, 90, 250, 7, 1, 60]), summary, None)
    assert store.commits == [100, 100, 100, 100, 38]  # only the last one is partial
    assert summary.ingested == 438


def test_a_byte_bound_still_ends_transactions_early(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "ROW_GROUP_ROWS", 100)
    store = _Recorder()
    append_all(store, _tables([30, 90, 150]), IngestSummary(), 1)
    assert store.commits == [30, 90, 100, 50]  # and still cut at the row group


def test_a_real_store_gets_every_row_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "ROW_GROUP_ROWS", 64)
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(orjson.dumps(native(i)) + b"\n" for i in range(500)))
    with Store(tmp_path / "s.duckdb") as store:
        s = ingest_paths([path], store, workers=0, chunk_bytes=8 << 10)
        assert (s.ingested, store.count()) == (500, 500)
        lines = store.query("SELECT source_line FROM exchanges ORDER BY 1").column(0)
        assert lines.to_pylist() == list(range(1, 501))
