"""``scan`` end to end: ingest + signals + features + links + communities + scoring +
campaigns + write, on simulated traffic; prints each stage's wall and CPU seconds, the
throughput and the peak memory.

``python -m benchmarks scan`` simulates about 1 million exchanges (scale 1.0) of the
``default`` scenario (seed 90001; cached under ``$TMPDIR/dg-bench-scan``, not timed),
then runs ``distillguard scan LOGS --accounts ... --store ... --out ...`` in a child
process, so peak RSS is that of the scan alone. CPU seconds count every thread of the
scan and its parser processes: on a shared machine they move far less than wall time,
and the load average at start and end is printed next to them.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Exchanges simulated at scale 1.0.
TARGET_EXCHANGES = 1_000_000
SEED = 90_001

#: The ``default`` scenario's volume grows faster than its ``--scale`` (more accounts,
#: each busier): measured n = 427,978 at 2.012 and 1,809,832 at 4.695, i.e. about
#: ``N_AT_SCALE_1 * scale ** SCALE_EXPONENT``.
N_AT_SCALE_1 = 130_000
SCALE_EXPONENT = 1.7


def _cli() -> list[str]:
    return [sys.executable, "-m", "distillguard"]


def simulation_factor(target: int) -> float:
    """The ``--scale`` that makes the ``default`` scenario yield about ``target`` exchanges."""
    return round((target / N_AT_SCALE_1) ** (1.0 / SCALE_EXPONENT), 2)


def _simulate(target: int) -> Path:
    """Simulate ``default`` scaled so that about ``target`` exchanges come out (cached)."""
    factor = simulation_factor(target)
    root = Path(tempfile.gettempdir()) / "dg-bench-scan" / f"n{target}-s{SEED}-x{factor:.2f}"
    if (root / "truth.csv").is_file() and any(root.glob("exchanges*.jsonl*")):
        return root
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            *_cli(),
            "simulate",
            "--scenario",
            "default",
            "--seed",
            str(SEED),
            "--scale",
            f"{factor:.2f}",
            "--workers",
            "2",
            "--out",
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    return root


def _row(stage: str, wall: float, cpu: object, n: int, note: object = "") -> dict[str, object]:
    return {
        "stage": stage,
        "wall_s": wall,
        "cpu_s": cpu,
        "exchanges_per_s": round(n / wall) if n and wall else "",
        "peak_rss_MB": note,
    }


def run(scale: float) -> list[dict[str, object]]:
    """Simulate ``scale`` x 1M exchanges, scan them once, return one row per stage."""
    data = _simulate(int(TARGET_EXCHANGES * scale))
    logs = sorted(str(p) for p in data.glob("exchanges*.jsonl*"))
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dg-bench-scan-") as tmp:
        out = Path(tmp) / "out"
        cmd = [
            *_cli(),
            "scan",
            *logs,
            "--accounts",
            str(data / "accounts.jsonl"),
            "--store",
            str(Path(tmp) / "s.duckdb"),
            "--out",
            str(out),
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        summary = json.loads((out / "summary.json").read_text())
    load1 = os.getloadavg()
    n = int(summary["exchanges"])
    cpu = summary.get("cpu_seconds", {})
    rows = [
        _row(stage, float(secs), cpu.get(stage, ""), n if stage in ("ingest", "total") else 0)
        for stage, secs in summary["timings"].items()
    ]
    rows += [
        _row(f"  links/{kind}", float(secs), "", 0)
        for kind, secs in summary.get("link_timings", {}).items()
    ]
    stages = {k: float(v) for k, v in cpu.items() if k != "total" and v != ""}
    if stages:
        worst = max(stages, key=lambda k: stages[k])
        rows.append(_row(f"slowest stage by CPU: {worst}", 0.0, stages[worst], 0))
    rows.append(_row("wall (process)", wall, "", n, round(peak_mb, 1)))
    rows.append(
        _row(
            f"{n:,} exchanges, {summary['accounts']:,} accounts; load average "
            f"{load0[0]:.2f} at start, {load1[0]:.2f} at end",
            0.0,
            "",
            0,
        )
    )
    return rows
