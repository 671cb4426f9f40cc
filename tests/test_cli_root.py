"""The CLI root: version, help, usage errors as exit codes, and the demo loop."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from distillguard import __version__
from distillguard.cli import COMMAND_MODULES, main


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMAND_MODULES:
        assert name in out


def test_usage_errors_are_exit_codes_not_tracebacks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest"]) == 2
    printed = capsys.readouterr()
    assert "Missing argument" in printed.err + printed.out
    assert main(["scan", "--no-such-option"]) == 2
    assert main(["no-such-command"]) == 2


@pytest.mark.slow
def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    """The README's demo: simulate, scan, evaluate; every artefact is written and consistent."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--scale", "0.05", "--no-baselines"]) == 0
    truth = {r["account_id"] for r in csv.DictReader((out / "sim" / "truth.csv").open())}
    verdicts = list(csv.DictReader((out / "scan" / "verdicts.csv").open()))
    assert verdicts and {v["account_id"] for v in verdicts} <= truth
    assert (out / "scan" / "report.html").stat().st_size > 1000
    assert (out / "evaluation.html").stat().st_size > 1000
    ev = json.loads((out / "evaluation.json").read_text())
    assert ev  # the evaluation produced numbers
