"""Ingestion speed and memory against bare JSON parsing of the same file.

Generates its own realistic native log in a temporary folder (long prompts, varied
tool schemas, both APIs, multi-turn conversations with tool calls and results, some
redacted prompts), then measures in the same run:

* bare parsing: ``orjson.loads`` over every line, one loop, one core;
* ``distillguard ingest`` of the same file into a fresh DuckDB store, in a child
  process (so its memory is measured alone), with the parser pool on all cores.

Peak memory is the largest sum of resident memory of the ingest process and its
workers, sampled every 50 ms from /proc (Linux), falling back to getrusage.
``--scale 1`` is 500,000 exchanges.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

N_EXCHANGES = 500_000

_WORDS = [
    "explain",
    "reasoning",
    "step",
    "function",
    "return",
    "value",
    "agent",
    "tool",
    "call",
    "compute",
    "proof",
    "lemma",
    "matrix",
    "gradient",
    "kernel",
    "thread",
    "mutex",
    "deadlock",
    "schema",
    "database",
    "index",
    "query",
    "latency",
    "python",
    "rust",
    "typescript",
    "compile",
    "error",
    "stack",
    "trace",
    "refactor",
    "test",
    "coverage",
    "async",
    "careful",
    "detailed",
    "answer",
    "grade",
    "rubric",
    "score",
    "compare",
    "evaluate",
    "summarise",
    "translate",
    "chemistry",
    "protein",
    "fold",
    "sequence",
    "align",
    "bayes",
    "prior",
    "posterior",
    "sample",
    "estimate",
    "variance",
]


def _corpus(rng: random.Random, n_chars: int) -> str:
    words = []
    size = 0
    while size < n_chars:
        w = rng.choice(_WORDS)
        words.append(w)
        size += len(w) + 1
    return " ".join(words)


def _tool(rng: random.Random, i: int) -> dict[str, Any]:
    props = {
        f"arg_{j}_{rng.choice(_WORDS)}": {
            "type": rng.choice(["string", "integer", "number", "boolean"]),
            "description": " ".join(rng.choices(_WORDS, k=6)),
        }
        for j in range(rng.randint(1, 6))
    }
    if rng.random() < 0.3:
        props["options"] = {
            "type": "object",
            "properties": {"mode": {"type": "string", "enum": ["fast", "exact"]}},
        }
    return {"name": f"tool_{i}_{rng.choice(_WORDS)}", "description": "does things", "schema": props}


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.text = _corpus(self.rng, 2_000_000)
        self.tools = [_tool(self.rng, i) for i in range(60)]

    def snippet(self, lo: int, hi: int) -> str:
        n = self.rng.randint(lo, hi)
        start = self.rng.randrange(0, len(self.text) - n)
        return self.text[start : start + n]

    def record(self, i: int) -> dict[str, Any]:
        rng = self.rng
        anthropic = rng.random() < 0.55
        turns = rng.choice([1, 1, 1, 2, 3, 5])
        tools = rng.sample(self.tools, rng.choice([0, 0, 1, 3, 6]))
        msgs: list[dict[str, Any]] = []
        redacted = rng.random() < 0.05
        for t in range(turns):
            if redacted:
                msgs.append({"role": "user", "content": f"sha256:{rng.getrandbits(128):032x}"})
            elif anthropic and rng.random() < 0.3:
                msgs.append(
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": self.snippet(200, 3000)},
                            {"type": "text", "text": self.snippet(20, 200)},
                        ],
                    }
                )
            else:
                msgs.append({"role": "user", "content": self.snippet(200, 3000)})
            if t < turns - 1:
                if tools and anthropic:
                    msgs.append(
                        {
                            "role": "assistant",
                            "content": [
                                {"type": "text", "text": self.snippet(50, 400)},
                                {
                                    "type": "tool_use",
                                    "id": f"tu_{t}",
                                    "name": tools[0]["name"],
                                    "input": {"q": "x"},
                                },
                            ],
                        }
                    )
                    msgs.append(
                        {
                            "role": "user",
                            "content": [
                                {
                                    "type": "tool_result",
                                    "tool_use_id": f"tu_{t}",
                                    "content": self.snippet(50, 800),
                                }
                            ],
                        }
                    )
                elif tools:
                    msgs.append(
                        {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": f"c{t}",
                                    "type": "function",
                                    "function": {"name": tools[0]["name"], "arguments": "{}"},
                                }
                            ],
                        }
                    )
                    msgs.append(
                        {"role": "tool", "tool_call_id": f"c{t}", "content": self.snippet(50, 800)}
                    )
                else:
                    msgs.append({"role": "assistant", "content": self.snippet(100, 1500)})
        system = self.snippet(100, 2000)
        if anthropic:
            req: dict[str, Any] = {
                "model": rng.choice(["frontier-1", "frontier-1-mini"]),
                "max_tokens": rng.choice([1024, 4096, 16000]),
                "system": system,
                "messages": msgs,
            }
            if tools:
                req["tools"] = [
                    {
                        "name": t["name"],
                        "description": t["description"],
                        "input_schema": {"type": "object", "properties": t["schema"]},
                    }
                    for t in tools
                ]
            if rng.random() < 0.4:
                req["thinking"] = {"type": "enabled", "budget_tokens": rng.choice([4000, 12000])}
            usage = {"input_tokens": rng.randint(100, 9000), "output_tokens": rng.randint(10, 9000)}
            stop = rng.choice(["end_turn", "max_tokens", "tool_use"])
        else:
            req = {
                "model": rng.choice(["frontier-1", "frontier-1-mini"]),
                "messages": [{"role": "system", "content": system}, *msgs],
                "max_completion_tokens": rng.choice([1024, 4096]),
                "n": rng.choice([1, 1, 4]),
                "temperature": rng.random(),
            }
            if tools:
                req["tools"] = [
                    {
                        "type": "function",
                        "function": {
                            "name": t["name"],
                            "description": t["description"],
                            "parameters": {"type": "object", "properties": t["schema"]},
                        },
                    }
                    for t in tools
                ]
            if rng.random() < 0.2:
                req["seed"] = rng.randint(0, 1000)
            usage = {
                "prompt_tokens": rng.randint(100, 9000),
                "completion_tokens": rng.randint(10, 9000),
                "completion_tokens_details": {"reasoning_tokens": rng.randint(0, 2000)},
            }
            stop = rng.choice(["stop", "length", "tool_calls"])
        return {
            "id": f"ex_{i:010d}",
            "timestamp": f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z",
            "account_id": f"acct_{rng.randrange(20_000):06x}",
            "org_id": f"org_{rng.randrange(3000):04x}" if rng.random() < 0.5 else None,
            "api_key_id": f"key_{rng.randrange(40_000):05x}",
            "access_path": rng.choice(["api", "api", "api", "console", "cloud:aws"]),
            "client": {
                "ip": f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                "user_agent": rng.choice(
                    ["Anthropic/Python 0.121.0", "OpenAI/Python 1.99.1", "curl/8.5.0"]
                ),
                "headers": {
                    "x-stainless-lang": "python",
                    "x-stainless-os": rng.choice(["Linux", "MacOS"]),
                },
            },
            "api": "anthropic.messages" if anthropic else "openai.chat_completions",
            "request": req,
            "response": {
                "status": 200 if rng.random() < 0.97 else 429,
                "stop_reason": stop,
                "usage": usage,
            },
            "latency_ms": round(rng.uniform(200, 90_000), 1),
        }


def generate(path: Path, n: int, seed: int = 7) -> int:
    """Write ``n`` native exchanges to ``path``; returns the file size in bytes."""
    gen = _Generator(seed)
    with open(path, "wb") as f:
        buf = []
        for i in range(n):
            buf.append(orjson.dumps(gen.record(i)))
            if len(buf) == 10_000:
                f.write(b"\n".join(buf) + b"\n")
                buf = []
        if buf:
            f.write(b"\n".join(buf) + b"\n")
    return path.stat().st_size


def bare_parse(path: Path) -> tuple[int, float, float]:
    """orjson.loads over every line, one loop; returns (records, seconds, cpu seconds)."""
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    with open(path, "rb") as f:
        for line in f:
            orjson.loads(line)
            n += 1
    return n, time.perf_counter() - t0, time.process_time() - c0


def _tree_rss(pid: int) -> int:
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            with open(f"/proc/{p}/task/{p}/children") as f:
                stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


_CHILD = """
import json, resource, sys, time
from distillguard.ingest import IngestSummary, ingest_paths, read_exchanges
from distillguard.store import Store
def cpu():
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))
if __name__ == "__main__":
    t0 = time.perf_counter()
    if sys.argv[2] == "-":  # parse and normalise to Arrow batches only, no store
        s = IngestSummary()
        n = 0
        for b in read_exchanges(sys.argv[1], summary=s, workers=int(sys.argv[3])):
            n += b.num_rows
        ingested = n
    else:
        with Store(sys.argv[2]) as store:
            s = ingest_paths([sys.argv[1]], store, workers=int(sys.argv[3]))
            n = store.count()
        ingested = s.ingested
    dt = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": dt, "cpu": cpu(), "ingested": ingested, "in_store": n, "rejected": s.n_rejected, "rusage_kb": ru}))
"""


def ingest_in_child(path: Path, store: Path | str, workers: int) -> dict[str, Any]:
    """Run ingestion in a child process and sample its tree's resident memory."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), str(store), str(workers)],
        stdout=subprocess.PIPE,
        text=True,
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, _ = proc.communicate()
    stop.set()
    th.join()
    if proc.returncode != 0:
        raise RuntimeError(f"ingest child failed with {proc.returncode}")
    res: dict[str, Any] = orjson.loads(out.strip().splitlines()[-1])
    res["peak_rss"] = peak or res["rusage_kb"] * 1024
    return res


def _row(
    stage: str, n: int, mb: float, secs: float, cpu: float, peak: object, ratio: float | str
) -> dict[str, object]:
    return {
        "stage": stage,
        "exchanges": n,
        "file_MB": round(mb, 1),
        "seconds": secs,
        "exchanges_per_s": n / secs,
        "cpu_us_per_exchange": cpu / n * 1e6 if cpu else "",
        "peak_rss_MB": peak,
        "vs_bare_parse": ratio,
    }


def run(scale: float) -> list[dict[str, object]]:
    """Generate the log; time bare parsing, parse-only and full ingestion; report memory."""
    n = max(1000, int(N_EXCHANGES * scale))
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="dg-bench-ingest-") as tmp:
        log = Path(tmp) / "exchanges.jsonl"
        t0 = time.perf_counter()
        size = generate(log, n)
        gen_s = time.perf_counter() - t0
        parsed, parse_s, parse_cpu = bare_parse(log)
        only = ingest_in_child(log, "-", workers)
        res = ingest_in_child(log, Path(tmp) / "store.duckdb", workers)
    mb = size / 1e6
    rate = parsed / parse_s
    return [
        _row("generate log", n, mb, gen_s, 0.0, "", ""),
        _row("bare orjson parse (1 loop, 1 core)", parsed, mb, parse_s, parse_cpu, "", 1.0),
        _row(
            f"parse+normalise -> Arrow, no store ({workers} workers)",
            only["ingested"],
            mb,
            only["seconds"],
            only["cpu"],
            round(only["peak_rss"] / 1e6, 1),
            only["ingested"] / only["seconds"] / rate,
        ),
        _row(
            f"ingest -> DuckDB ({workers} workers)",
            res["ingested"],
            mb,
            res["seconds"],
            res["cpu"],
            round(res["peak_rss"] / 1e6, 1),
            res["ingested"] / res["seconds"] / rate,
        ),
    ]
