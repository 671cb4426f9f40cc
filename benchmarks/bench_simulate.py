"""Simulator throughput: exchanges per second and peak memory.

Two cases: the ``default`` scenario, and a slice of ``incident-2026`` (``--scale 0.125``
of the report-scale incident, about 2.25 million exchanges). Each runs in a fresh
process so its peak resident memory is its own; the output goes to a temporary folder
that is deleted afterwards. ``exch/s`` is wall-clock; ``exch/cpu-s`` divides by the
process's CPU time, which is the per-core rate even when the machine is shared.
``python -m benchmarks simulate --scale S`` multiplies both sizes by ``S``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from distillguard.simulate import load_scenario, simulate
from distillguard.simulate.network import network_pools
from distillguard.simulate.prompts import prompt_library

name, scale, out, fmt = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t0, c0 = time.perf_counter(), cpu()
network_pools(); prompt_library()
t_load = time.perf_counter() - t0
res = simulate(load_scenario(name), out, scale=scale, fmt=fmt)
size = sum(p.stat().st_size for p in out.iterdir())
print(json.dumps({
    "exchanges": res.exchanges, "attack_exchanges": res.attack_exchanges, "accounts": res.accounts,
    "attack_accounts": res.attack_accounts, "load_s": t_load, "sim_s": res.seconds, "cpu_s": cpu() - c0,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "bytes": size,
}))
"""

CASES = [("default", 1.0, "jsonl"), ("incident-2026", 0.125, "jsonl")]


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "n/a"


def run(scale: float) -> list[dict[str, object]]:
    """Simulate each case once; one row per case."""
    rows: list[dict[str, object]] = []
    for name, base, fmt in CASES:
        tmp = Path(tempfile.mkdtemp(prefix="dg-bench-sim-"))
        try:
            load_before = _load()
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, name, str(base * scale), str(tmp / "out"), fmt],
                capture_output=True,
                text=True,
                check=True,
            )
            m = json.loads(proc.stdout.strip().splitlines()[-1])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rows.append(
            {
                "scenario": name,
                "scale": base * scale,
                "format": fmt,
                "exchanges": m["exchanges"],
                "attack_exch": m["attack_exchanges"],
                "accounts": m["accounts"],
                "attack_accts": m["attack_accounts"],
                "sim_s": round(m["sim_s"], 1),
                "exch/s": round(m["exchanges"] / m["sim_s"]),
                "exch/cpu-s": round(m["exchanges"] / m["cpu_s"]),
                "peak_rss_mb": round(m["peak_rss_mb"]),
                "GB_written": round(m["bytes"] / 1e9, 2),
                "loadavg": load_before,
            }
        )
    return rows
