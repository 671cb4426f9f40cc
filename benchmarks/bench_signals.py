"""Signals and features at scale: per-stage seconds and peak memory.

``python -m benchmarks signals`` builds a store of about 1 million exchanges (scale 1.0)
from real prompt sets in ``../shared/data`` (HumanEval, GSM8K, BFCL, Arena-Hard,
MT-bench, self-instruct; built-in phrases when absent) wrapped in harvesting templates
and plain chat, over 20,000 accounts, 60,000 client addresses and the published SDK
user agents. Every prompt carries an item number, so no two prompts are equal: the
worst case for per-distinct-text work. Building the store is not timed.

A child process then (1) times each stage over the streamed batches: enrichment (IP +
client), batch preparation, capability, elicitation, template, shape; (2) runs
``materialise`` end to end (signals + DuckDB writes + template vocabulary); (3) runs
``account_features``. Peak RSS is the child's.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

#: Exchanges at scale 1.0.
TARGET_EXCHANGES = 1_000_000
CHUNK = 100_000
SEED = 4_2026

_FALLBACK = [
    "Write a Python function that merges two sorted lists into one sorted list.",
    "A shop sells pens at 3 for $2. How much do 27 pens cost?",
    "Summarise the main causes of the French Revolution in five bullet points.",
    "Draft a polite email asking my landlord to fix the heating.",
    "Explain the difference between TCP and UDP with an example of each.",
]
_WRAPPERS = [
    "{q}",
    "{q}",
    "{q}",
    "Problem {n}: {q}\nThink step by step and show your full reasoning before answering.",
    "You are grading. Question {n}: {q}\nRate the following answer on a scale of 1 to 10.",
    "Task #{n}. {q} Respond with the final answer in \\boxed{}.",
    "{q} (ticket {n})",
]


def _prompts() -> list[str]:
    from distillguard.resources import shared_data_dir

    data = shared_data_dir()
    if data is None:
        return list(_FALLBACK)
    cap, ben = data / "capability", data / "benign"
    out: list[str] = []
    with gzip.open(cap / "HumanEval.jsonl.gz", "rt") as fh:
        out += [json.loads(x)["prompt"] for x in fh]
    with open(cap / "gsm8k_test.jsonl") as fh:
        out += [json.loads(x)["question"] for x in fh]
    with open(ben / "arena_hard_v0.1_question.jsonl") as fh:
        out += [json.loads(x)["prompt"] for x in fh]
    with open(ben / "mt_bench_question.jsonl") as fh:
        out += [json.loads(x)["turns"][0] for x in fh]
    with open(cap / "self_instruct_seed_tasks.jsonl") as fh:
        out += [json.loads(x)["instruction"] for x in fh]
    with open(cap / "bfcl" / "BFCL_v4_parallel.json") as fh:
        out += [json.loads(x)["question"][0][-1]["content"] for x in fh]
    return out


def _user_agents() -> list[str]:
    from distillguard.resources import shared_data_dir

    data = shared_data_dir()
    if data is None:
        return ["Anthropic/Python 0.121.0", "OpenAI/Python 1.40.0", "curl/8.5.0"]
    lines = (data / "network" / "sdk_user_agents_from_changelogs.csv").read_text().splitlines()[1:]
    return [ln.rsplit(",", 1)[1] for ln in lines] + ["python-requests/2.32.3", "curl/8.5.0"]


def _build_store(path: Path, n: int) -> None:
    from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA
    from distillguard.store import Store

    rng = np.random.default_rng(SEED)
    prompts = _prompts()
    uas = pa.array(_user_agents())
    n_acc = max(50, n // 50)
    ips = pa.array(
        [f"{a}.{b}.{c}.{d}" for a, b, c, d in rng.integers(1, 223, size=(max(100, n // 16), 4))]
    )
    t0 = 1_772_000_000_000
    with Store(path) as store:
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            ids = np.arange(start, start + m)
            acct = rng.integers(0, n_acc, m)
            qs = rng.integers(0, len(prompts), m)
            ws = rng.integers(0, len(_WRAPPERS), m)
            texts = []
            for i, qi, wi in zip(ids.tolist(), qs.tolist(), ws.tolist(), strict=True):
                w = _WRAPPERS[wi]
                filled = w.replace("{n}", str(i)).replace("{q}", prompts[qi])
                texts.append(filled if "{n}" in w else f"{filled} #{i}")
            full = pa.array(texts, pa.string())
            cols: dict[str, Any] = {
                "exchange_id": pa.array([f"ex_{i:09d}" for i in ids]),
                "timestamp": pa.array(
                    t0 + np.sort(rng.integers(0, 30 * 86_400_000, m)) + start,
                    pa.timestamp("ms", tz="UTC"),
                ),
                "account_id": pa.array([f"acct_{a:06d}" for a in acct]),
                "access_path": pa.array(["api"] * m),
                "client_ip": ips.take(pa.array((acct * 7 + rng.integers(0, 3, m)) % len(ips))),
                "user_agent": uas.take(pa.array(acct % len(uas))),
                "client_headers": pa.array(
                    ['{"x-stainless-lang":"python","x-stainless-os":"Linux"}'] * m
                ),
                "api": pa.array(["anthropic.messages"] * m),
                "model": pa.array(
                    np.where(rng.random(m) < 0.8, "frontier-1", "frontier-2-20260310")
                ),
                "prompt_redacted": pa.array(np.zeros(m, dtype=bool)),
                "last_user_text": full,
                "user_text": full,
                "n_messages": pa.array(np.ones(m, dtype=np.int32)),
                "n_user_turns": pa.array(rng.integers(1, 4, m).astype(np.int32)),
                "n_tools": pa.array(np.where(rng.random(m) < 0.15, 3, 0).astype(np.int32)),
                "max_tokens": pa.array(rng.choice([1024, 4096, 16000], m)),
                "thinking_budget": pa.array(rng.choice([0, 0, 12000], m)),
                "n_choices": pa.array(np.ones(m, dtype=np.int32)),
                "temperature": pa.array(rng.choice([0.0, 0.7, 1.0], m)),
                "status": pa.array(np.full(m, 200, dtype=np.int32)),
                "input_tokens": pa.array(rng.integers(20, 2000, m)),
                "output_tokens": pa.array(rng.integers(50, 8000, m)),
            }
            arrays = [
                cols[f.name].cast(f.type) if f.name in cols else pa.nulls(m, f.type)
                for f in EXCHANGE_SCHEMA
            ]
            store.append_exchanges(pa.Table.from_arrays(arrays, schema=EXCHANGE_SCHEMA))
        acc = {
            "account_id": pa.array([f"acct_{a:06d}" for a in range(n_acc)]),
            "created_at": pa.array(
                t0 - rng.integers(0, 400, n_acc) * 86_400_000, pa.timestamp("ms", tz="UTC")
            ),
            "account_type": pa.array(rng.choice(["individual", "education", "startup"], n_acc)),
            "billing_country": pa.array(rng.choice(["US", "DE", "IN", "CN", "BR"], n_acc)),
            "verification": pa.array(rng.choice(["email", "phone", "card"], n_acc)),
            "status": pa.array(["active"] * n_acc),
        }
        arrays = [acc[f.name] if f.name in acc else pa.nulls(n_acc, f.type) for f in ACCOUNT_SCHEMA]
        store.upsert_accounts(pa.Table.from_arrays(arrays, schema=ACCOUNT_SCHEMA))


def _child(store_path: str) -> dict[str, Any]:
    """Runs in a fresh process: stage timings, materialise, features, peak RSS."""
    from distillguard.features import account_features
    from distillguard.signals import SignalContext, materialise
    from distillguard.signals.registry import ExchangeView
    from distillguard.store import Store

    times: dict[str, list[float]] = {}

    def tick(name: str, t: tuple[float, float]) -> None:
        wall, cpu = times.setdefault(name, [0.0, 0.0]), None
        wall[0] += time.perf_counter() - t[0]
        wall[1] += time.process_time() - t[1]
        del cpu

    def now() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    t = now()
    ctx = SignalContext.default()
    tick("load_enrichers", t)
    with Store(store_path, threads=2, memory_limit="2GB") as store:
        n = store.count("exchanges")
        reader = store.con.cursor()
        for batch in reader.execute("SELECT * FROM exchanges").to_arrow_reader(65_536):
            t = now()
            ctx.ip.enrich(batch.column("client_ip"))
            tick("enrich_ip", t)
            t = now()
            ctx.client.fingerprint(batch.column("user_agent"), batch.column("client_headers"))
            tick("enrich_client", t)
            t = now()
            view = ExchangeView(batch)
            tick("prepare_batch", t)
            t = now()
            view.prefetch([r for d in ctx.registry for r in getattr(d, "rules_used", ())])
            tick("text_rules (RE2 set, shared)", t)
            for det in ctx.registry:
                t = now()
                det.analyze(view)
                tick(det.name, t)
        reader.close()
        t = now()
        materialise(store, ctx)
        tick("materialise_total (2 threads)", t)
        t = now()
        feats = account_features(store)
        tick("features", t)
    out: dict[str, Any] = {k: v for k, v in times.items()}
    out["exchanges"] = n
    out["accounts"] = feats.num_rows
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _online_latency(n: int = 2_000) -> list[dict[str, Any]]:
    """Warm single-exchange costs: ``signals_for_exchange`` and ``OnlineAccountState.update``."""
    from distillguard.features import OnlineAccountState
    from distillguard.schema import EXCHANGE_SCHEMA
    from distillguard.signals import SignalContext, signals_for_exchange

    ctx = SignalContext.default()
    prompts = _prompts()
    rows = []
    for i in range(n):
        row = dict.fromkeys(EXCHANGE_SCHEMA.names)
        row.update(
            exchange_id=f"on_{i}",
            timestamp=1_772_000_000_000 + i * 1000,
            account_id="acct_online",
            client_ip=f"3.5.140.{i % 50}",
            user_agent="Anthropic/Python 0.121.0",
            client_headers='{"x-stainless-lang":"python"}',
            model="frontier-1",
            last_user_text=f"{prompts[i % len(prompts)]} #{i}",
            n_user_turns=1,
            max_tokens=4096,
        )
        rows.append(row)
    for row in rows[:100]:  # warm the per-address cache and the RE2 sets
        signals_for_exchange(row, ctx)
    sig_lat, upd_lat = [], []
    state = OnlineAccountState("acct_online")
    for row in rows:
        t = time.perf_counter()
        sig = signals_for_exchange(row, ctx)
        sig_lat.append(time.perf_counter() - t)
        t = time.perf_counter()
        state.update(sig)
        upd_lat.append(time.perf_counter() - t)
    out = []
    for name, lat in (("online: signals_for_exchange", sig_lat), ("online: state.update", upd_lat)):
        lat.sort()
        p50, p90, p99 = (lat[int(q * (len(lat) - 1))] * 1e6 for q in (0.5, 0.9, 0.99))
        out.append(
            {
                "stage": f"{name} p50/p90/p99 us = {p50:.0f}/{p90:.0f}/{p99:.0f}",
                "wall_s": sum(lat),
                "cpu_s": 0.0,
                "exchanges_per_wall_s": len(lat) / sum(lat),
            }
        )
    return out


def run(scale: float) -> list[dict[str, Any]]:
    """Build the store (not timed), then measure in a child process."""
    n = max(1_000, int(TARGET_EXCHANGES * scale))
    with tempfile.TemporaryDirectory(prefix="dg-bench-signals-") as tmp:
        path = Path(tmp) / "store.duckdb"
        t = time.perf_counter()
        _build_store(path, n)
        build_s = time.perf_counter() - t
        code = (
            "import json, sys; from benchmarks.bench_signals import _child; "
            f"print(json.dumps(_child({str(path)!r})))"
        )
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
            ),
        }
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        times = json.loads(out.stdout.strip().splitlines()[-1])
    rows: list[dict[str, Any]] = []
    total_n = times.pop("exchanges")
    accounts = times.pop("accounts")
    rss = times.pop("peak_rss_mb")
    for stage, (wall, cpu) in times.items():
        rows.append(
            {
                "stage": stage,
                "wall_s": wall,
                "cpu_s": cpu,
                "exchanges_per_wall_s": total_n / wall if wall else 0.0,
            }
        )
    note = f"n={total_n:,} accounts={accounts:,} peak_rss_mb={rss:,.0f} build_s={build_s:.1f}"
    rows.append({"stage": note, "wall_s": 0.0, "cpu_s": 0.0, "exchanges_per_wall_s": 0.0})
    rows += _online_latency()
    return rows
