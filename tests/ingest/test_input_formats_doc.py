"""Every example in docs/input-formats.md is read by the reader its section names."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from distillguard.ingest import IngestSummary, read_accounts, read_exchanges
from distillguard.ingest.formats import detect_format

DOC = Path(__file__).resolve().parents[2] / "docs" / "input-formats.md"
EXAMPLES = re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_doc_has_one_example_per_format_at_least() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("text", EXAMPLES)
def test_each_example_reads_cleanly(tmp_path: Path, text: str) -> None:
    path = tmp_path / "example.jsonl"
    path.write_bytes(orjson.dumps(orjson.loads(text)) + b"\n")
    fmt, _ = detect_format(path)
    assert fmt is not None
    if fmt == "accounts":
        assert read_accounts(path).num_rows == 1
        return
    s = IngestSummary()
    rows = [r for b in read_exchanges(path, summary=s) for r in b.to_pylist()]
    assert s.ok and len(rows) == 1 and rows[0]["account_id"]
