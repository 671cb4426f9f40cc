"""``evaluate`` stages on the simulator's ``default`` scenario: seconds and peak memory.

``python -m benchmarks evaluate`` simulates ``default`` (seed 7, cached under
``$TMPDIR/dg-bench-evaluate``, not timed), then, in a child process so peak RSS is the
evaluation's own, times: reading the exchange facts, the rate-limit baseline (user budgets
plus the oracle grid search), the Isolation Forest baseline, scoring all detectors, and the
MMD window test on ``300 * scale`` accounts (CPU embedding; its texts per second are the
number to watch).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

SEED = 7

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from distillguard.evaluate.harness import load_truth, score
from distillguard.evaluate.traffic import find_exchange_log, load_exchange_facts
from distillguard.evaluate.baselines.ratelimit import run_ratelimit
from distillguard.evaluate.baselines.isolation import run_isolation
from distillguard.evaluate.baselines.mmd import run_mmd

root, mmd_accounts = Path(sys.argv[1]), int(sys.argv[2])
rows = []
def stage(name, fn):
    t = time.perf_counter(); out = fn(); dt = time.perf_counter() - t
    rows.append({"stage": name, "seconds": round(dt, 3),
                 "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})
    return out
truth, ct = stage("load truth", lambda: load_truth(root))
log = find_exchange_log(root)
facts = stage("read exchange facts", lambda: load_exchange_facts(log))
active = set(facts["account_id"].unique().to_pylist())
universe = {a for a in truth if a in active}
outs = stage("rate limits (user + oracle)", lambda: run_ratelimit(facts, truth))
outs.append(stage("isolation forest", lambda: run_isolation(facts)))
mmd = stage(f"MMD window test ({mmd_accounts} accounts)",
            lambda: run_mmd(log, truth, universe, max_accounts=mmd_accounts))
outs.append(mmd)
stage("score all detectors", lambda: [score(o, truth, ct, universe, facts) for o in outs])
for r in rows:
    r["exchanges"] = facts.num_rows
    r["accounts"] = len(universe)
rows[-2]["texts_embedded"] = mmd.params.get("texts_embedded")
print(json.dumps(rows))
"""


def _simulate() -> Path:
    root = Path(tempfile.gettempdir()) / "dg-bench-evaluate" / f"default-s{SEED}"
    if not (root / "truth.csv").is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "distillguard",
                "simulate",
                "--scenario",
                "default",
                "--seed",
                str(SEED),
                "--out",
                str(root),
            ],
            check=True,
            capture_output=True,
        )
    return root


def run(scale: float) -> list[dict[str, object]]:
    """Time each evaluation stage on ``default``; MMD on ``300 * scale`` accounts."""
    root = _simulate()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), str(max(20, int(300 * scale)))],
        check=True,
        capture_output=True,
        text=True,
    )
    rows: list[dict[str, object]] = json.loads(proc.stdout.strip().splitlines()[-1])
    for r in rows:
        r.setdefault("texts_embedded", "")
        secs = float(r["seconds"])  # type: ignore[arg-type]
        texts = r["texts_embedded"]
        r["texts_per_s"] = round(float(texts) / secs, 1) if texts and secs else ""
    return rows
