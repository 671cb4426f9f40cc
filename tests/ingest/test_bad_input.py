"""Bad and hostile input: each case reported with file, line and field; the rest ingested."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from ingest_samples import native

from distillguard.errors import InputError
from distillguard.ingest import IngestSummary, RejectedInput, ingest_paths, read_exchanges
from distillguard.store import Store


def _line(rec: dict[str, Any]) -> bytes:
    return orjson.dumps(rec)


def _ids(path: Path, summary: IngestSummary, **kw: Any) -> list[str]:
    return [
        r for b in read_exchanges(path, summary=summary, **kw) for r in b["exchange_id"].to_pylist()
    ]


def test_each_bad_line_is_named_and_skipped(tmp_path: Path) -> None:
    bad_ts = native(4)
    bad_ts["timestamp"] = "03/03/2026"
    no_acct = native(3)
    del no_acct["account_id"]
    wrong = native(5)
    wrong["request"]["max_tokens"] = "lots"
    lines = [
        _line(native(1)),
        b'{"id": "ex_broken", "timestamp": ',  # truncated JSON
        _line(no_acct),
        _line(bad_ts),
        _line(wrong),
        _line(native(6, api="google.gemini")),
        b"[1, 2, 3]",
        b"",
        _line(native(9)),
    ]
    path = tmp_path / "ex.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    s = IngestSummary()
    assert _ids(path, s) == ["ex_000001", "ex_000009"]
    got = [(r.line, r.reason, r.field) for r in s.rejections]
    assert got == [
        (2, "malformed_json", None),
        (3, "missing_field", "account_id"),
        (4, "bad_timestamp", "timestamp"),
        (5, "wrong_type", "request.max_tokens"),
        (6, "unknown_api", "api"),
        (7, "not_an_object", None),
    ]
    assert all(r.file == str(path) for r in s.rejections)
    assert s.records_read == 8 and s.n_rejected == 6  # the blank line is not a record


def test_without_a_collector_the_first_rejection_raises(tmp_path: Path) -> None:
    path = tmp_path / "ex.jsonl"
    path.write_bytes(_line(native(1)) + b"\nnot json\n")
    with pytest.raises(InputError) as exc:
        list(read_exchanges(path))
    assert exc.value.line == 2 and exc.value.file == str(path)


def test_truncated_gzip_keeps_lines_before_the_break(tmp_path: Path) -> None:
    body = b"".join(_line(native(i)) + b"\n" for i in range(2000))
    packed = gzip.compress(body)
    path = tmp_path / "ex.jsonl.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    s = IngestSummary()
    ids = _ids(path, s, chunk_bytes=4096)
    (rej,) = s.rejections
    assert rej.reason == "truncated_gzip"
    assert len(ids) == rej.line - 1 > 500  # every whole line before the break is kept
    assert ids == [f"ex_{i:06d}" for i in range(len(ids))]


def test_corrupt_gzip_is_reported(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(b"".join(_line(native(i)) + b"\n" for i in range(5000))))
    cut = len(packed) * 2 // 3
    packed[cut : cut + 64] = b"\xff" * 64
    path = tmp_path / "ex.gz"
    path.write_bytes(bytes(packed))
    s = IngestSummary()
    ids = _ids(path, s)
    # garbage inflated from the damaged block is reported line by line, then the stream error
    assert s.rejections[-1].reason in ("corrupt_gzip", "truncated_gzip")
    assert set(s.rejected) <= {"corrupt_gzip", "truncated_gzip", "malformed_json", "line_too_long"}
    assert len(ids) > 1000 and ids == [f"ex_{i:06d}" for i in range(len(ids))]


def test_multi_member_gzip_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "ex.gz"
    path.write_bytes(
        gzip.compress(_line(native(1)) + b"\n") + gzip.compress(_line(native(2)) + b"\n")
    )
    s = IngestSummary()
    assert _ids(path, s) == ["ex_000001", "ex_000002"] and s.ok


def test_huge_line_is_skipped_without_holding_it(tmp_path: Path) -> None:
    huge = native(2)
    huge["request"]["messages"][0]["content"] = "A" * (9 << 20)  # over the 8 MiB default
    path = tmp_path / "ex.jsonl"
    path.write_bytes(_line(native(1)) + b"\n" + _line(huge) + b"\n" + _line(native(3)) + b"\n")
    s = IngestSummary()
    assert _ids(path, s, chunk_bytes=1 << 20) == ["ex_000001", "ex_000003"]
    assert [(r.line, r.reason) for r in s.rejections] == [(2, "line_too_long")]


def test_huge_final_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "ex.jsonl"
    path.write_bytes(_line(native(1)) + b"\n" + b"x" * 5000)
    s = IngestSummary()
    assert _ids(path, s, chunk_bytes=512, max_line_bytes=1000) == ["ex_000001"]
    assert [(r.line, r.reason) for r in s.rejections] == [(2, "line_too_long")]


def test_deeply_nested_json_is_rejected(tmp_path: Path) -> None:
    deep = b'{"id": "ex_deep", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    path = tmp_path / "ex.jsonl"
    path.write_bytes(deep + b"\n" + _line(native(1)) + b"\n")
    s = IngestSummary()
    assert _ids(path, s) == ["ex_000001"]
    assert [(r.line, r.reason) for r in s.rejections] == [(1, "too_deep")]


def test_deep_tool_schema_is_rejected_not_crashing(tmp_path: Path) -> None:
    rec = native(1)
    rec["request"]["tools"] = "TOOLS"
    # nests 400 deep: parses (under orjson's 1024 limit) but cannot be canonicalised
    schema = b'{"a":' * 400 + b"{}" + b"}" * 400
    tools = b'[{"name": "t", "input_schema": ' + schema + b"}]"
    line = _line(rec).replace(b'"TOOLS"', tools)
    path = tmp_path / "ex.jsonl"
    path.write_bytes(line + b"\n" + _line(native(2)) + b"\n")
    s = IngestSummary()
    assert _ids(path, s) == ["ex_000002"]
    assert [(r.reason, r.field) for r in s.rejections] == [("too_deep", "request.tools")]


def test_invalid_utf8_is_neutralised_and_kept(tmp_path: Path) -> None:
    line = _line(native(1)).replace(b'"q1"', b'"q\xff\xfe1"')
    path = tmp_path / "ex.jsonl"
    path.write_bytes(line + b"\n")
    s = IngestSummary()
    rows = [r for b in read_exchanges(path, summary=s) for r in b.to_pylist()]
    assert rows[0]["user_text"] == "q\ufffd\ufffd1"
    assert s.ok and s.neutralised["invalid_utf8"] == 1


def test_escaped_control_characters_are_removed_in_batches(tmp_path: Path) -> None:
    rec = native(1)
    rec["request"]["messages"][0]["content"] = (
        "a\u0000b\u001b[2Jc\u202ed \u201cquoted\u201d\u2014ok"
    )
    path = tmp_path / "ex.jsonl"
    path.write_bytes(_line(rec) + b"\n")
    (row,) = [r for b in read_exchanges(path) for r in b.to_pylist()]
    assert row["user_text"] == "ab[2Jcd \u201cquoted\u201d\u2014ok"  # typographic marks stay


def test_strict_reports_everything_then_fails(tmp_path: Path) -> None:
    path = tmp_path / "ex.jsonl"
    path.write_bytes(b"oops\n" + _line(native(1)) + b"\n{}\n")
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(RejectedInput) as exc:
            ingest_paths([path], store, strict=True)
        assert [r.line for r in exc.value.summary.rejections] == [1, 3]
        assert exc.value.summary.ingested == 1


def test_unknown_files_and_missing_paths_are_reported(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text('{"hello": "world"}\n')
    with Store(tmp_path / "s.duckdb") as store:
        s = ingest_paths([tmp_path, tmp_path / "nope.jsonl"], store)
    assert sorted(s.rejected) == ["missing_file", "unknown_format"]
