"""ingest_paths into the store: idempotent, crash-safe, same result in parallel, mixed folders."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_samples import ANTHROPIC_RECORD, OPENAI_RECORD, native

from distillguard.ingest import ingest_paths, read_accounts, read_exchanges
from distillguard.schema import EXCHANGE_SCHEMA
from distillguard.store import Store


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def test_reingesting_and_overlapping_files_never_duplicate(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.jsonl", [native(i) for i in range(0, 300)])
    b = _write(tmp_path / "b.jsonl", [native(i) for i in range(200, 500)])
    with Store(tmp_path / "s.duckdb") as store:
        s1 = ingest_paths([a], store)
        s2 = ingest_paths([a], store)
        s3 = ingest_paths([b], store)
        assert (s1.ingested, s1.duplicates) == (300, 0)
        assert (s2.ingested, s2.duplicates) == (0, 300)
        assert (s3.ingested, s3.duplicates) == (200, 100)
        assert store.count() == 500
        n_distinct = store.query("SELECT count(DISTINCT exchange_id) FROM exchanges").column(0)[0]
        assert n_distinct.as_py() == 500


def test_a_crash_mid_ingest_leaves_a_consistent_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "a.jsonl", [native(i) for i in range(3000)])
    real = Store.append_exchanges
    calls = {"n": 0}

    def failing(self: Store, batch: pa.Table) -> int:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("power cut")
        return real(self, batch)

    monkeypatch.setattr(Store, "append_exchanges", failing)
    db = tmp_path / "s.duckdb"
    with Store(db) as store, pytest.raises(RuntimeError, match="power cut"):
        ingest_paths([path], store, chunk_bytes=48 << 10, append_bytes=1)
    monkeypatch.setattr(Store, "append_exchanges", real)
    with Store(db) as store:
        committed = store.count()
        ids = store.query("SELECT exchange_id FROM exchanges ORDER BY 1").column(0).to_pylist()
        # exactly the first three transactions, each whole, in file order
        assert 0 < committed < 3000
        assert ids == [f"ex_{i:06d}" for i in range(committed)]
        s = ingest_paths([path], store, chunk_bytes=48 << 10, append_bytes=1)
        assert (s.ingested, s.duplicates) == (3000 - committed, committed)
        assert store.count() == 3000


def test_parallel_parsing_matches_in_process(tmp_path: Path) -> None:
    recs = [native(i) for i in range(4000)]
    recs[1234] = {"id": "broken"}  # rejected in both modes, at the same line
    path = _write(tmp_path / "a.jsonl", recs)
    out = {}
    for workers in (0, 2):
        with Store(tmp_path / f"s{workers}.duckdb") as store:
            s = ingest_paths([path], store, workers=workers, chunk_bytes=32 << 10)
            rows = store.query("SELECT * FROM exchanges ORDER BY exchange_id")
            out[workers] = (s.ingested, [(r.line, r.reason, r.field) for r in s.rejections], rows)
    assert out[0][0] == out[2][0] == 3999
    assert out[0][1] == out[2][1] == [(1235, "missing_field", "timestamp")]
    assert out[0][2].equals(out[2][2])


def test_mixed_folder_formats_detected_per_file(tmp_path: Path) -> None:
    from test_litellm_otel import CURRENT, genai_span, litellm_payload, otlp

    logs = tmp_path / "logs"
    (logs / "nested").mkdir(parents=True)
    _write(logs / "native.jsonl", [ANTHROPIC_RECORD, OPENAI_RECORD])
    (logs / "nested" / "more.jsonl.gz").write_bytes(
        gzip.compress(b"".join(orjson.dumps(native(i)) + b"\n" for i in range(10)) + b"bad\n")
    )
    _write(logs / "litellm.jsonl", [litellm_payload()])
    _write(logs / "otel.jsonl", [otlp([genai_span("01", CURRENT)])])
    _write(
        logs / "accounts.jsonl",
        [
            {"account_id": "acct_73c2ce6f44", "account_type": "education", "status": "active"},
            {"account_id": "acct_0b7e", "created_at": "2025-11-02T10:00:00Z", "status": "banned"},
        ],
    )
    table = pa.Table.from_pylist([native(100 + i) for i in range(5)])
    table = table.set_column(
        table.schema.get_field_index("request"),
        "request",
        pa.array([orjson.dumps(r).decode() for r in table.column("request").to_pylist()]),
    )
    pq.write_table(table, logs / "export.parquet")
    (logs / ".hidden.jsonl").write_text("ignored\n")
    with Store(tmp_path / "s.duckdb") as store:
        s = ingest_paths([logs], store)
        assert dict(s.formats) == {"native": 3, "litellm": 1, "otel": 1, "accounts": 1}
        assert s.ingested == 2 + 10 + 1 + 1 + 5 and s.accounts_upserted == 2
        assert [(Path(r.file).name, r.line, r.reason) for r in s.rejections] == [
            ("more.jsonl.gz", 11, "malformed_json")
        ]
        apis = store.query("SELECT api, count(*) FROM exchanges GROUP BY 1 ORDER BY 1")
        assert sum(apis.column(1).to_pylist()) == 19
        assert store.count("accounts") == 2


def test_read_exchanges_yields_bounded_schema_batches(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", [native(i) for i in range(1000)])
    batches = list(read_exchanges(path, batch_size=128))
    assert all(b.schema.equals(EXCHANGE_SCHEMA) and b.num_rows <= 128 for b in batches)
    assert sum(b.num_rows for b in batches) == 1000


def test_read_accounts(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "accounts.jsonl",
        [
            {
                "account_id": "acct_1",
                "org_id": None,
                "created_at": "2025-11-02T10:00:00Z",
                "account_type": "education",
                "email_domain": "mail.example.edu",
                "payment_fingerprint": "pm_5c1e",
                "billing_country": "US",
                "verification": "email",
                "status": "banned",
                "status_changed_at": "2026-01-01T00:00:00Z",
            }
        ],
    )
    t = read_accounts(path)
    assert t.num_rows == 1 and t.column("status_changed_at")[0].as_py().year == 2026
    path.write_text('{"account_type": "startup"}\n')
    from distillguard.errors import InputError

    with pytest.raises(InputError, match="account_id"):
        read_accounts(path)
