"""Bulk ingestion removes repeated exchange ids once per run, and after a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from ingest_samples import native

from distillguard.ingest import ingest_paths, read_exchanges
from distillguard.store import Store


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def _latency(store: Store) -> dict[str, float]:
    rows = store.query("SELECT exchange_id, latency_ms FROM exchanges").to_pylist()
    return {r["exchange_id"]: r["latency_ms"] for r in rows}


def test_repeats_across_batches_of_one_run_keep_the_first_row(tmp_path: Path) -> None:
    recs = [native(i, latency_ms=1.0) for i in range(600)]
    recs += [native(i, latency_ms=2.0) for i in range(100, 200)]  # repeated later in the file
    path = _write(tmp_path / "a.jsonl", recs)
    with Store(tmp_path / "s.duckdb") as store:
        s = ingest_paths([path], store, workers=0, chunk_bytes=16 << 10, append_bytes=1)
        assert (s.ingested, s.duplicates) == (600, 100)
        assert store.count() == 600
        assert set(_latency(store).values()) == {1.0}


def test_a_stored_exchange_wins_over_a_later_one_with_the_same_id(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.jsonl", [native(i, latency_ms=1.0) for i in range(50)])
    later = _write(tmp_path / "b.jsonl", [native(i, latency_ms=9.0) for i in range(25, 75)])
    with Store(tmp_path / "s.duckdb") as store:
        ingest_paths([first], store, workers=0)
        s = ingest_paths([later], store, workers=0, chunk_bytes=4 << 10, append_bytes=1)
        assert (s.ingested, s.duplicates) == (25, 25)
        lat = _latency(store)
        assert len(lat) == 75
        assert all(lat[f"ex_{i:06d}"] == 1.0 for i in range(50))
        assert all(lat[f"ex_{i:06d}"] == 9.0 for i in range(50, 75))


def test_a_run_that_died_before_its_dedupe_pass_is_finished_on_next_open(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path / "a.jsonl", [native(i, latency_ms=1.0) for i in range(40)])
    again = _write(tmp_path / "b.jsonl", [native(i, latency_ms=5.0) for i in range(20, 60)])
    db = tmp_path / "s.duckdb"
    with Store(db) as store:
        ingest_paths([path], store, workers=0)
        # what a killed bulk run leaves: the pending mark committed, batches appended
        # as they are, no dedupe pass
        store._set_meta("dedupe_pending", "1")
        store._bulk = True
        for batch in read_exchanges(again):
            store.append_exchanges(batch)
        store.commit_appends()
        assert store.count() == 80
    with Store(db, read_only=True) as ro:  # a reader does not write
        assert ro.count() == 80
    with Store(db) as store:
        assert store.count() == 60
        lat = _latency(store)
        assert all(lat[f"ex_{i:06d}"] == 1.0 for i in range(40))
        assert all(lat[f"ex_{i:06d}"] == 5.0 for i in range(40, 60))
        assert store.query("SELECT * FROM meta WHERE key = 'dedupe_pending'").num_rows == 0


def test_append_outside_a_bulk_run_still_deduplicates_each_batch(tmp_path: Path) -> None:
    batch = next(read_exchanges(_write(tmp_path / "a.jsonl", [native(i) for i in range(10)])))
    with Store(tmp_path / "s.duckdb") as store:
        assert store.append_exchanges(batch) == 10
        assert store.append_exchanges(batch) == 0
        assert store.count() == 10


def test_an_error_mid_run_loses_only_the_open_transaction(tmp_path: Path) -> None:
    good = next(read_exchanges(_write(tmp_path / "a.jsonl", [native(i) for i in range(30)])))
    more = next(read_exchanges(_write(tmp_path / "b.jsonl", [native(i) for i in range(30, 50)])))
    db = tmp_path / "s.duckdb"
    with Store(db) as store:
        try:
            with store.bulk_append():
                store.append_exchanges(good)
                store.commit_appends()
                store.append_exchanges(good)  # a repeat, committed below
                store.commit_appends()
                store.append_exchanges(more)  # still open when the error comes
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            pass
        assert store.count() == 30
        assert store.query("SELECT * FROM meta WHERE key = 'dedupe_pending'").num_rows == 0
    with Store(db) as store:
        assert store.count() == 30
