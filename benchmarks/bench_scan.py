"""``scan`` end to end: ingest + signals + features + links + communities + scoring +
campaigns + write, on simulated traffic; prints each stage's seconds and peak memory.

``python -m benchmarks scan`` simulates about 1 million exchanges (scale 1.0; the
simulation itself is cached under ``$TMPDIR/dg-bench-scan`` and not timed), then runs
``distillguard scan LOGS --accounts ... --out ...`` in a child process, so peak RSS is
that of the scan alone. The DuckDB memory limit is the scan's default (3 GB).
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


def _cli() -> list[str]:
    return [sys.executable, "-m", "distillguard"]


#: Exchanges the ``default`` scenario yields at ``--scale 1`` (about; seed- and version-dependent).
DEFAULT_EXCHANGES = 497_000


def _simulate(target: int) -> Path:
    """Simulate ``default`` scaled so that about ``target`` exchanges come out (cached)."""
    factor = target / DEFAULT_EXCHANGES
    root = Path(tempfile.gettempdir()) / "dg-bench-scan" / f"n{target}-s{SEED}-x{factor:.3f}"
    if (root / "truth.csv").is_file():
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
            f"{factor:.3f}",
            "--out",
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    return root


def run(scale: float) -> list[dict[str, object]]:
    """Simulate ``scale`` x 1M exchanges, scan them once, return one row per stage."""
    data = _simulate(int(TARGET_EXCHANGES * scale))
    logs = sorted(str(p) for p in data.glob("exchanges*"))
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
    rows: list[dict[str, object]] = []
    for stage, secs in summary["timings"].items():
        rows.append(
            {
                "stage": stage,
                "seconds": float(secs),
                "exchanges": summary["exchanges"],
                "accounts": summary["accounts"],
                "peak_rss_mb": "",
            }
        )
    for kind, secs in summary.get("link_timings", {}).items():
        rows.append(
            {
                "stage": f"  links/{kind}",
                "seconds": float(secs),
                "exchanges": "",
                "accounts": "",
                "peak_rss_mb": "",
            }
        )
    rows.append(
        {
            "stage": "wall (process)",
            "seconds": wall,
            "exchanges": summary["exchanges"],
            "accounts": summary["accounts"],
            "peak_rss_mb": round(peak_mb, 1),
        }
    )
    return rows
