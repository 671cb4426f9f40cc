"""The ``distillguard ingest`` command, run as a user would (without a subprocess)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from ingest_samples import native

from distillguard.cli import main
from distillguard.store import Store


def _folder(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    good = b"".join(orjson.dumps(native(i)) + b"\n" for i in range(20))
    broken = b'{"id": "ex_x", "timestamp": "2026-03-03T00:00:00Z"}\n{not json\n'
    (logs / "a.jsonl").write_bytes(good + broken)
    (logs / "b.jsonl").write_bytes(orjson.dumps(native(99, api="bard")) + b"\n")
    return logs


def test_ingest_prints_summary_naming_every_broken_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = _folder(tmp_path)
    db = tmp_path / "store.duckdb"
    assert main(["ingest", str(logs), "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"{logs / 'a.jsonl'}:21 [account_id] missing_field" in out
    assert f"{logs / 'a.jsonl'}:22 malformed_json" in out
    assert f"{logs / 'b.jsonl'}:1 [api] unknown_api" in out
    assert "ingested" in out and "20" in out
    with Store(db) as store:
        assert store.count() == 20
    # a second run finds everything already there
    assert main(["ingest", str(logs), "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "duplicates skipped" in out
    with Store(db) as store:
        assert store.count() == 20


def test_strict_exits_1_after_reporting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs = _folder(tmp_path)
    rc = main(["ingest", str(logs), "--store", str(tmp_path / "s.duckdb"), "--strict"])
    out = capsys.readouterr().out
    assert rc == 1
    assert out.count("missing_field") >= 2 and "unknown_api" in out


def test_bad_format_option_is_a_usage_error(tmp_path: Path) -> None:
    logs = _folder(tmp_path)
    assert main(["ingest", str(logs), "--format", "xml", "--store", str(tmp_path / "s")]) != 0


def test_forced_format_and_accounts_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = _folder(tmp_path)
    accounts = tmp_path / "registry.jsonl"
    accounts.write_text('{"account_id": "acct_1", "account_type": "startup"}\n')
    db = tmp_path / "s.duckdb"
    args = ["ingest", str(logs / "a.jsonl"), "--format", "native", "--accounts", str(accounts)]
    assert main([*args, "--store", str(db)]) == 0
    assert "accounts upserted" in capsys.readouterr().out
    with Store(db) as store:
        assert store.count("accounts") == 1 and store.count() == 20
