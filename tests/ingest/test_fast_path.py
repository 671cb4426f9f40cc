"""The native fast path stores exactly what the exact reader stores, and rejects nothing itself.

Three levels: one record (the samples, many generated records, thousands of random
mutations of them: wrong types, missing and extra keys, over-long texts, hashes, odd
numbers), then whole files with hostile and malformed lines ingested into a store with
and without the fast path, comparing the stored tables and the rejection lists.
"""

from __future__ import annotations

import copy
import gzip
import math
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from ingest_samples import ANTHROPIC_RECORD, OPENAI_RECORD, native

import distillguard.ingest.parse as parse_mod
from distillguard.errors import InputError
from distillguard.ingest import ingest_paths
from distillguard.ingest.fastrow import fast_native_row
from distillguard.ingest.native import native_row
from distillguard.schema import MAX_TEXT_CHARS
from distillguard.store import Store

_HOSTILE: list[Any] = [
    None,
    "",
    "x",
    "sha256:" + "ab" * 32,
    "A" * (MAX_TEXT_CHARS + 5),
    "café \u202e evil \x07",
    0,
    -1,
    7,
    2**62,
    2**63 + 5,
    1.0,
    2.5,
    float(2**70),
    True,
    False,
    [],
    ["a", 1],
    [{"type": "text", "text": "hi"}],
    [{"type": "tool_result", "content": "r"}],
    [{"content_hash": "ab"}],
    {},
    {"type": "text", "text": "block"},
    {"type": "tool", "name": "calc"},
    {"a": {"b": [1, {"c": None}]}},
]

#: Keys a mutation may add where they are absent (the reader treats each specially).
_EXTRA_KEYS = {
    (): [
        "id",
        "timestamp",
        "account_id",
        "org_id",
        "api_key_id",
        "access_path",
        "client",
        "api",
        "request",
        "response",
        "latency_ms",
    ],
    ("request",): [
        "model",
        "max_tokens",
        "max_completion_tokens",
        "system",
        "messages",
        "tools",
        "functions",
        "tool_choice",
        "thinking",
        "temperature",
        "top_p",
        "stream",
        "stop_sequences",
        "stop",
        "metadata",
        "n",
        "seed",
        "logprobs",
        "top_logprobs",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "user",
        "redacted",
    ],
    ("response",): ["status", "stop_reason", "finish_reason", "choices", "usage", "content"],
    ("client",): ["ip", "user_agent", "headers"],
}


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if type(x) is not type(y):
            return False
        if isinstance(x, float) and math.isnan(x) and math.isnan(y):
            continue
        if x != y:
            return False
    return True


def _reference(rec: Any) -> tuple[Any, ...] | None:
    try:
        row = native_row(rec)
    except InputError:
        return None
    row["source_file"], row["source_line"] = "f.jsonl", 7
    return tuple(row.values())


def _check(rec: Any) -> bool:
    """Assert the fast path agrees with the reader; True when it took the record."""
    rec = orjson.loads(orjson.dumps(rec))  # what a parsed line looks like
    fast = fast_native_row(copy.deepcopy(rec), "f.jsonl", 7)
    ref = _reference(rec)
    if fast is None:
        return False
    assert ref is not None, f"fast path kept a record the reader rejects: {rec!r:.300}"
    assert _same(fast, ref), f"fast path differs: {rec!r:.300}"
    return True


def _paths(obj: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*at, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*at, i))
    return out


def _mutate(rec: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    rec = copy.deepcopy(rec)
    for _ in range(rng.choice([1, 1, 2, 3])):
        if rng.random() < 0.3:
            base = rng.choice(list(_EXTRA_KEYS))
            parent: Any = rec
            for k in base:
                parent = parent.get(k) if isinstance(parent, dict) else None
            if isinstance(parent, dict):
                parent[rng.choice(_EXTRA_KEYS[base])] = copy.deepcopy(rng.choice(_HOSTILE))
            continue
        path = rng.choice(_paths(rec)[1:])
        parent = rec
        for k in path[:-1]:
            parent = parent[k]
        if isinstance(parent, dict) and rng.random() < 0.25:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(_HOSTILE))
    return rec


def _generated(n: int, seed: int) -> list[dict[str, Any]]:
    """Varied valid records of both APIs (turns, blocks, tools, redaction, usage styles)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        rec = native(i)
        req, resp = rec["request"], rec["response"]
        if rng.random() < 0.5:
            rec["client"] = {
                "ip": f"10.0.{i % 5}.{i % 250}",
                "user_agent": "OpenAI/Python 1.99.1",
                "headers": {"X-Stainless-OS": rng.choice(["Linux", "MacOS"]), "Cookie": "c"},
            }
        msgs = []
        for t in range(rng.randint(0, 4)):
            kind = rng.random()
            if kind < 0.4:
                msgs.append({"role": "user", "content": f"question {i}.{t} " * rng.randint(1, 9)})
            elif kind < 0.55:
                msgs.append({"role": "assistant", "content": "answer"})
            elif kind < 0.7:
                msgs.append({"role": "user", "content": [{"type": "tool_result", "content": "x"}]})
            elif kind < 0.8:
                msgs.append({"role": "system", "content": "be brief"})
            elif kind < 0.9:
                msgs.append({"role": "tool", "content": "tool output"})
            else:
                msgs.append({"role": "user", "content": "sha256:" + f"{i:064x}"})
        req["messages"] = msgs if msgs or rng.random() < 0.5 else None
        if rng.random() < 0.3:
            req["tools"] = [{"name": f"t{j}", "input_schema": {"type": "object"}} for j in range(2)]
            req["tool_choice"] = rng.choice(["auto", {"type": "tool", "name": "t0"}])
        if rng.random() < 0.3:
            req["system"] = "You are a grader."
        if rng.random() < 0.2:
            req["thinking"] = {"type": "enabled", "budget_tokens": 4000}
        if rng.random() < 0.3:
            req.update(temperature=0.5, top_p=1, stream=False, n=2, seed=9, stop=["x"])
        if rng.random() < 0.3:
            resp["usage"] = {
                "prompt_tokens": 5,
                "completion_tokens": 6,
                "completion_tokens_details": {"reasoning_tokens": None},
                "reasoning_tokens": 3,
            }
        if rng.random() < 0.2:
            resp["choices"] = [{"finish_reason": "length", "message": {"content": "done"}}]
        rec["latency_ms"] = rng.choice([None, 120, 12.5])
        out.append(rec)
    return out


def test_samples_and_generated_records_take_the_fast_path_unchanged() -> None:
    records = [ANTHROPIC_RECORD, OPENAI_RECORD, *_generated(600, seed=3)]
    taken = [_check(r) for r in records]
    # the common shape is what the fast path exists for: nearly every record takes it
    assert sum(taken) >= 0.9 * len(records)


def test_random_mutations_agree_with_the_reader() -> None:
    rng = random.Random(11)
    bases = [ANTHROPIC_RECORD, OPENAI_RECORD, *_generated(40, seed=5)]
    fast = slow = 0
    for _ in range(4000):
        if _check(_mutate(rng.choice(bases), rng)):
            fast += 1
        else:
            slow += 1
    assert fast > 500 and slow > 500  # both paths were exercised


def test_over_long_text_goes_to_the_reader_which_cuts_and_flags_it() -> None:
    rec = native(1)
    rec["request"]["messages"][0]["content"] = "B" * (MAX_TEXT_CHARS + 1)
    assert fast_native_row(rec, "f", 1) is None
    assert native_row(rec)["text_truncated"] is True


def _hostile_file(path: Path) -> None:
    rng = random.Random(2)
    lines = [orjson.dumps(r) for r in _generated(300, seed=9)]
    lines += [orjson.dumps(_mutate(rng.choice(_generated(5, seed=1)), rng)) for _ in range(300)]
    lines += [
        b'{"id": "ex_broken", "timestamp": ',
        b"[1, 2, 3]",
        b"",
        b"   ",
        b'{"id":"dup","id":"ex_000001","timestamp":"2026-03-03T03:00:00Z","account_id":"a",'
        b'"api":"anthropic.messages","request":{"messages":[{"role":"user","content":"x"}]}}',
        b'{"id":"nan","timestamp":"2026-03-03T03:00:00Z","account_id":"a","api":"x",}',
        b'{"id":"bad\xff\xfeutf8","timestamp":"2026-03-03T03:00:00Z","account_id":"a",'
        b'"api":"anthropic.messages","request":{"messages":[{"role":"user","content":"\xc3"}]}}',
        b'{"id":"sur","timestamp":"2026-03-03T03:00:00Z","account_id":"a",'
        b'"api":"anthropic.messages","request":{"messages":[{"role":"user","content":"\\ud800"}]}}',
        b'{"id":"ctl","timestamp":"2026-03-03T03:00:00Z","account_id":"a\\u0007b",'
        b'"api":"openai.chat_completions","request":{"messages":[{"role":"user",'
        b'"content":"rtl \\u202e x"}]}}',
        b'{"id":"big","timestamp":1772500000123,"account_id":"a","api":"openai.chat_completions",'
        b'"request":{"max_tokens":123456789012345678901234},"latency_ms":1e400}',
    ]
    rng.shuffle(lines)
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))


def _ingest(path: Path, store_path: Path) -> tuple[list[tuple[Any, ...]], list[Any], Any]:
    with Store(store_path) as store:
        s = ingest_paths([path], store, workers=0, chunk_bytes=16 << 10)
        rows = store.con.execute(
            "SELECT * FROM exchanges ORDER BY source_line, exchange_id"
        ).fetchall()
    return rows, s.rejections, s


def test_a_hostile_file_is_stored_and_reported_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "hostile.jsonl.gz"
    _hostile_file(log)
    fast_rows, fast_rej, fs = _ingest(log, tmp_path / "fast.duckdb")
    monkeypatch.setattr(parse_mod, "fast_native_row", lambda rec, file, line: None)
    slow_rows, slow_rej, ss = _ingest(log, tmp_path / "slow.duckdb")
    assert len(fast_rows) > 300 and len(fast_rej) > 50
    assert fast_rows == slow_rows
    assert fast_rej == slow_rej
    assert (
        fs.records_read,
        fs.ingested,
        fs.duplicates,
        dict(fs.rejected),
        dict(fs.neutralised),
    ) == (
        ss.records_read,
        ss.ingested,
        ss.duplicates,
        dict(ss.rejected),
        dict(ss.neutralised),
    )
