"""scan reports wall and CPU seconds for every stage, the returning-actor pass apart."""

from __future__ import annotations

import json
from pathlib import Path

from dg_detect_factory import filled_store, toy_features
from distillguard.scan import cpu_seconds, run_scan


def test_every_timed_stage_has_cpu_seconds_and_load_average(tmp_path: Path) -> None:
    store, _ = filled_store()
    run_scan(store, tmp_path, features=toy_features, report=False)
    doc = json.loads((tmp_path / "summary.json").read_text())
    timings, cpu = doc["timings"], doc["cpu_seconds"]
    assert set(cpu) == set(timings)
    assert {"returning_actors", "write", "signals+features", "links"} <= set(timings)
    assert all(v >= 0 for v in cpu.values())
    # the stages are disjoint slices of the run
    parts = sum(v for k, v in timings.items() if k != "total")
    assert parts <= timings["total"] + 0.05
    assert cpu["total"] >= max(v for k, v in cpu.items() if k != "total") - 0.05
    assert len(doc["load_average"]["start"]) == len(doc["load_average"]["end"]) == 3


def test_cpu_seconds_counts_work_done() -> None:
    before = cpu_seconds()
    sum(i * i for i in range(300_000))
    assert cpu_seconds() > before
