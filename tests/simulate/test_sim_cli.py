"""``distillguard simulate`` on the command line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml
from sim_world import TINY

from distillguard.cli import main


def _tiny_file(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    return p


def test_cli_writes_every_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rc = main(
        [
            "simulate",
            "--scenario",
            str(_tiny_file(tmp_path)),
            "--out",
            str(out),
            "--seed",
            "3",
            "--format",
            "jsonl.gz",
        ]
    )
    assert rc == 0
    for f in (
        "exchanges.jsonl.gz",
        "accounts.jsonl",
        "truth.csv",
        "campaigns_truth.json",
        "scenario.yaml",
    ):
        assert (out / f).is_file(), f
    assert not (out / "model_releases.json").exists()  # no release inside this one-day span
    assert yaml.safe_load((out / "scenario.yaml").read_text())["seed"] == 3


def test_cli_leave_one_out_and_two_periods(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rc = main(
        [
            "simulate",
            "--scenario",
            str(_tiny_file(tmp_path)),
            "--out",
            str(out),
            "--without",
            "hydra",
            "--period",
            "2",
        ]
    )
    assert rc == 0
    with (out / "truth.csv").open() as fh:
        groups = {r["group"] for r in csv.DictReader(fh)}
    assert "hydra" not in groups and "agentic_coding" in groups
    camps = json.loads((out / "campaigns_truth.json").read_text())
    assert {c["knobs"]["period"] for c in camps} == {1, 2}


def test_cli_reports_bad_input_with_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("days: -1\n", encoding="utf-8")
    assert main(["simulate", "--scenario", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert (
        main(
            ["simulate", "--scenario", "default", "--out", str(tmp_path / "o"), "--without", "nope"]
        )
        == 2
    )
    assert (
        main(["simulate", "--scenario", "default", "--out", str(tmp_path / "o"), "--format", "csv"])
        == 2
    )
    assert not (tmp_path / "o" / "exchanges.jsonl").exists()


def test_cli_lists_builtins() -> None:
    assert main(["simulate", "--list"]) == 0
    assert main(["simulate"]) == 2  # --out is required to simulate
