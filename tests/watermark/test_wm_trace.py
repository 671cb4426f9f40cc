"""trace: pooled evidence, what would make it conclusive, file reading, and the CLI."""

from __future__ import annotations

import json
import random

import pytest
from scipy.stats import binom

from distillguard.cli import main
from distillguard.errors import InputError
from distillguard.watermark.lexical import LexicalKey, mark_text
from distillguard.watermark.trace import read_answers, trace_texts, units_needed


@pytest.mark.parametrize(("rate", "null"), [(1.0, 0.5), (0.7, 0.5), (0.4, 0.25)])
def test_units_needed_is_the_smallest_n(rate: float, null: float) -> None:
    n = units_needed(rate, null, 1e-6)
    assert n is not None

    def p(k: int) -> float:
        import math

        return float(binom.sf(math.ceil(rate * k - 1e-9) - 1, k, null))

    assert p(n) < 1e-6 <= p(n - 1)
    assert units_needed(0.5, 0.5, 1e-6) is None


def test_trace_reports_marked_not_unmarked(make_prose) -> None:
    rng = random.Random(7)
    answers = [make_prose(rng, 6) for _ in range(30)]
    marked = [mark_text(a, LexicalKey("K")) for a in answers]
    hit = trace_texts(marked, "K")
    assert hit.reported and hit.evidence[0].conclusive
    miss = trace_texts(answers, "K")
    assert not miss.reported
    few = trace_texts(marked[:1], "K")
    ev = few.evidence[0]
    assert not ev.conclusive and ev.units_needed is not None and ev.units_needed > ev.scored


def test_read_answers_errors_name_file_and_line(tmp_path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_text('{"text": "fine"}\n{"text": 3}\n')
    with pytest.raises(InputError) as exc:
        read_answers(p)
    assert exc.value.line == 2 and exc.value.field == "text" and str(p) in str(exc.value)
    p.write_text('{"text": "fine"}\n{oops\n')
    with pytest.raises(InputError, match="bad JSON"):
        read_answers(p)
    p.write_bytes(b"\x89PNG\x00\x00")
    with pytest.raises(InputError, match="binary"):
        read_answers(p)
    p.write_text("  \n")
    with pytest.raises(InputError, match="empty"):
        read_answers(p)


def test_cli_mark_then_trace(tmp_path, capsysbinary, make_prose) -> None:
    rng = random.Random(8)
    src = tmp_path / "answers.jsonl"
    src.write_text(
        "".join(json.dumps({"id": i, "text": make_prose(rng, 6)}) + "\n" for i in range(30))
    )
    assert main(["mark", "--key", "S", str(src)]) == 0
    marked = capsysbinary.readouterr().out
    rows = [json.loads(line) for line in marked.splitlines()]
    assert [r["id"] for r in rows] == list(range(30))
    out = tmp_path / "marked.jsonl"
    out.write_bytes(marked)
    assert main(["trace", "--key", "S", "--generation", "off", "--json", str(out)]) == 0
    report = json.loads(capsysbinary.readouterr().out)
    assert report["reported"] is True and report["evidence"][0]["p_value"] < 1e-6
    assert main(["trace", "--key", "S", "--generation", "off", "--json", str(src)]) == 0
    assert json.loads(capsysbinary.readouterr().out)["reported"] is False


def test_cli_bad_input_exit_code(tmp_path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"answer": "x"}\n')
    assert main(["trace", "--key", "S", "--generation", "off", str(p)]) == 2
    assert main(["mark", "--key", "S", str(p)]) == 2
    assert main(["mark", "--key", "", str(p)]) == 2
