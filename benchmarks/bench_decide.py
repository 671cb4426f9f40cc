"""In-process decision latency and memory per tracked account (memory and Redis state).

Rows:
* ``decide``: the pure function on a realistic snapshot (verdict, evidence, ~60 online
  features, the default policy's five online rules). Target p99 < 1 ms.
* ``view+decide+record``: snapshot read + decide + record, over many accounts, memory
  and Redis state; ``signals+view+decide+record``: the same after the request-time
  signals (what one request costs the service or the in-process gateway).
* ``observe, redis``: one observed exchange merged into the account's features in Redis
  (one compare-and-set call).
* ``memory/account``: bytes per tracked account after each account's exchanges were
  observed with the real signals and features (tracemalloc; Redis: ``used_memory``).

Every request has a prompt of its own, so the request-time signals' cache of repeated
prompts never answers (client fingerprints and request shapes repeat, as in real
traffic, and are served from their caches).
"""

from __future__ import annotations

import gc
import shutil
import socket
import subprocess
import tempfile
import time
import tracemalloc
from typing import Any

import numpy as np

from distillguard.contracts import Verdict
from distillguard.online import Enforcer, Evidence, MemoryState, RequestContext, StateView, decide
from distillguard.online.engine import default_batch_signals, default_signals
from distillguard.policy import default_policy

POL = default_policy()


def _pct(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples) * 1e6
    return {
        "p50_us": float(np.percentile(a, 50)),
        "p99_us": float(np.percentile(a, 99)),
        "max_us": float(a.max()),
    }


def _ctx(i: int, ts: float, k: int | None = None) -> RequestContext:
    """Account ``i``'s request number ``k``: every request has a prompt of its own."""
    return RequestContext(
        account_id=f"acct_{i}",
        api="anthropic.messages",
        body={
            "model": "frontier-1",
            "max_tokens": 16000,
            "thinking": {"type": "enabled", "budget_tokens": 8000},
            "messages": [{"role": "user", "content": f"Solve step by step: problem {i}.{k or 0}"}],
        },
        ts=ts,
        client_ip=f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
        user_agent="Anthropic/Python 0.121.0",
        headers={"x-stainless-lang": "python"},
    )


def _records(n_accounts: int, per: int) -> list[dict[str, Any]]:
    topics = ["sorting", "graphs", "integrals", "SQL joins", "essays", "unit tests", "proofs"]
    out = []
    t0 = 1_772_500_000.0
    for a in range(n_accounts):
        for j in range(per):
            k = a * per + j
            out.append(
                {
                    "id": f"ex_{k}",
                    "timestamp": t0 + k * 7.0,
                    "account_id": f"acct_{a}",
                    "client": {
                        "ip": f"10.{a >> 8 & 255}.{a & 255}.{j}",
                        "user_agent": "OpenAI/Python 2.1.0",
                    },
                    "api": "openai.chat_completions",
                    "request": {
                        "model": "frontier-1",
                        "messages": [
                            {
                                "role": "user",
                                "content": f"Explain {topics[k % 7]} with example {k}.",
                            }
                        ],
                    },
                    "response": {
                        "status": 200,
                        "usage": {"prompt_tokens": 40, "completion_tokens": 700},
                    },
                }
            )
    return out


def _bench_pure(n: int) -> dict[str, Any]:
    ctx = _ctx(1, 1.9e9)
    feats = {f"f{i}": float(i) / 60 for i in range(60)}
    feats.update({"ip_churn": 0.9, "output_input_ratio": 3.0, "single_turn_share": 0.8})
    view = StateView(
        account_id=ctx.account_id,
        now=ctx.ts,
        verdict=Verdict(account_id=ctx.account_id, risk=0.7, flagged=True, action="monitor"),
        verdict_loaded_at=ctx.ts - 10,
        features=feats,
        events=50,
        window_requests=3,
        window_reset_s=30.0,
        evidence=[Evidence("campaign_ip", "10.0.0.0/24"), Evidence("campaign_template", "t1")],
    )
    for _ in range(2000):
        decide(ctx, view, POL)
    samples = []
    pc = time.perf_counter
    for _ in range(n):
        t = pc()
        decide(ctx, view, POL)
        samples.append(pc() - t)
    return {"case": "decide (pure)", "n": n, **_pct(samples), "bytes_per_account": None}


def _bench_enforcer(
    state: Any, label: str, n: int, accounts: int, *, signals: bool = False
) -> list[dict[str, Any]]:
    """``n`` timed decisions over ``accounts`` accounts the state already knows (with
    signals on, also a row for each account's first request)."""
    enf = Enforcer(state, POL, signals=default_signals() if signals else None)
    state.load_verdicts(
        [Verdict(account_id=f"acct_{i}", risk=0.8, flagged=True) for i in range(0, accounts, 10)],
        [],
        time.time(),
    )
    now = time.time()
    pc = time.perf_counter
    # every account's first request (a never-seen account and address) first, timed
    # apart: with signals on, each one enriches its address once
    first = []
    for i in range(accounts):
        c = _ctx(i, now, n + i)
        t = pc()
        enf.decide(c)
        first.append(pc() - t)
    ctxs = [_ctx(i % accounts, now, i) for i in range(n)]
    samples = []
    for c in ctxs:
        t = pc()
        enf.decide(c)
        samples.append(pc() - t)
    row = {"case": label, "n": n, **_pct(samples), "bytes_per_account": None}
    if not signals:
        return [row]
    return [
        row,
        {
            "case": f"{label}: an account's first request",
            "n": accounts,
            **_pct(first),
            "bytes_per_account": None,
        },
    ]


def _signalled(recs: list[dict[str, Any]]) -> list[tuple[RequestContext, dict[str, Any]]]:
    batch = default_batch_signals()
    out = []
    for i in range(0, len(recs), 2000):
        part = recs[i : i + 2000]
        for rec, sig in zip(part, batch(part), strict=True):
            ctx = RequestContext.from_native(rec)
            ctx.signals = sig
            out.append((ctx, sig))
    return out


def _observe_all(state: Any, items: list[tuple[RequestContext, dict[str, Any]]]) -> list[float]:
    """Decide and observe every exchange; the seconds each observation took."""
    enf = Enforcer(state, POL)
    took = []
    pc = time.perf_counter
    for ctx, sig in items:
        enf.decide(ctx)
        t = pc()
        state.observe(ctx, sig, ctx.ts)
        took.append(pc() - t)
    return took


def _memory_per_account(accounts: int, per: int) -> dict[str, Any]:
    items = _signalled(_records(accounts, per))  # signals first: only the state is measured
    gc.collect()
    tracemalloc.start()
    st = MemoryState()
    base = tracemalloc.get_traced_memory()[0]
    _observe_all(st, items)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return {
        "case": f"memory state, {per} exchanges/account",
        "n": accounts,
        "p50_us": None,
        "p99_us": None,
        "max_us": None,
        "bytes_per_account": used / accounts,
    }


def _redis_server() -> tuple[subprocess.Popen[bytes], str, str] | None:
    if shutil.which("redis-server") is None:
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="dg-bench-redis-")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", folder, "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return proc, f"redis://127.0.0.1:{port}/0", folder


def run(scale: float) -> list[dict[str, Any]]:
    """Benchmark rows (see the module docstring)."""
    n = max(1000, int(100_000 * scale))
    accounts = max(100, int(10_000 * scale))
    rows = [
        _bench_pure(n),
        *_bench_enforcer(MemoryState(), "view+decide+record, memory", n, accounts),
        # what the service and the gateway pay per request: the request-time signals
        # (batch definitions: address, client, template, shape) before the decision;
        # every account has its own address here, so each first request enriches one
        *_bench_enforcer(
            MemoryState(),
            "signals+view+decide+record, memory",
            max(1000, n // 5),
            accounts,
            signals=True,
        ),
        _memory_per_account(max(50, int(1000 * scale)), 20),
    ]
    srv = _redis_server()
    if srv is not None:
        proc, url, folder = srv
        try:
            from distillguard.online.redis_state import RedisState

            st = RedisState(url)
            rows.extend(
                _bench_enforcer(st, "view+decide+record, redis", max(1000, n // 5), accounts)
            )
            st.r.flushall()
            rows.extend(
                _bench_enforcer(
                    st,
                    "signals+view+decide+record, redis",
                    max(1000, n // 5),
                    accounts,
                    signals=True,
                )
            )
            st.r.flushall()
            k = max(50, int(1000 * scale))
            items = _signalled(_records(k, 20))
            before = int(st.r.info("memory")["used_memory"])
            took = _observe_all(st, items)
            after = int(st.r.info("memory")["used_memory"])
            rows.append(
                {
                    "case": "observe (feature update), redis",
                    "n": len(took),
                    **_pct(took),
                    "bytes_per_account": None,
                }
            )
            rows.append(
                {
                    "case": "redis state, 20 exchanges/account",
                    "n": k,
                    "p50_us": None,
                    "p99_us": None,
                    "max_us": None,
                    "bytes_per_account": (after - before) / k,
                }
            )
            st.close()
        finally:
            proc.kill()
            proc.wait()
            shutil.rmtree(folder, ignore_errors=True)
    return rows
