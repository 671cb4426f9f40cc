"""Helpers that turn the public prompt sets in shared data into canonical exchanges."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from distillguard.schema import EXCHANGE_SCHEMA


def exchange(text: str | None, i: int = 0, **extra: Any) -> dict[str, Any]:
    """A canonical exchange dict with ``text`` as the (single) user turn."""
    row: dict[str, Any] = dict.fromkeys(EXCHANGE_SCHEMA.names)
    row.update(
        exchange_id=f"ex_{i:07d}",
        timestamp=1_772_000_000_000 + i * 1000,
        account_id=extra.pop("account_id", "acct_test"),
        api="anthropic.messages",
        model="frontier-1",
        user_text=text,
        last_user_text=text,
        prompt_redacted=text is None,
        n_messages=1,
        n_user_turns=1,
        n_assistant_turns=0,
        n_tools=0,
        n_choices=1,
        max_tokens=4096,
        input_tokens=200,
        output_tokens=800,
    )
    row.update(extra)
    return row


def batch(rows: Iterable[dict[str, Any]]) -> pa.RecordBatch:
    """Rows (canonical dicts) as an exchange record batch."""
    return pa.RecordBatch.from_pylist(list(rows), schema=EXCHANGE_SCHEMA)


def humaneval(data: Path) -> list[str]:
    with gzip.open(data / "capability" / "HumanEval.jsonl.gz", "rt") as fh:
        return [json.loads(line)["prompt"] for line in fh]


def gsm8k(data: Path, n: int = 300) -> list[str]:
    with open(data / "capability" / "gsm8k_test.jsonl") as fh:
        return [json.loads(line)["question"] for _, line in zip(range(n), fh, strict=False)]


def glaive(data: Path) -> list[tuple[str, int]]:
    """(first human turn, number of tools declared) per glaive conversation."""
    recs = json.loads((data / "capability" / "glaive_toolcall_en_demo.json").read_text())
    out = []
    for r in recs:
        human = next(t["value"] for t in r["conversations"] if t["from"] == "human")
        tools = json.loads(r.get("tools") or "[]")
        out.append((human, len(tools)))
    return out


def bfcl(data: Path, name: str = "BFCL_v4_parallel.json") -> list[tuple[str, int]]:
    out = []
    with open(data / "capability" / "bfcl" / name) as fh:
        for line in fh:
            r = json.loads(line)
            turn = r["question"][0][-1]["content"]
            out.append((turn, len(r.get("function") or [])))
    return out


def arena(data: Path) -> list[str]:
    with open(data / "benign" / "arena_hard_v0.1_question.jsonl") as fh:
        return [json.loads(line)["prompt"] for line in fh]


def mt_bench(data: Path) -> list[tuple[str, str]]:
    """(category, first turn) per MT-bench question."""
    with open(data / "benign" / "mt_bench_question.jsonl") as fh:
        return [(r["category"], r["turns"][0]) for r in map(json.loads, fh)]
