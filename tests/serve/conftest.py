"""An app around a memory-state enforcer with a scan folder the tests can rewrite."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from distillguard.contracts import Verdict, write_verdicts
from distillguard.online.setup import build_enforcer
from distillguard.serve import create_app

# the shared test helpers in tests/ (policy files) are importable
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dg_policy_helpers import strict_policy_file


def write_scan(folder: Path, verdicts: list[Verdict]) -> None:
    """Write verdicts.csv the way scan does."""
    write_verdicts(folder / "verdicts.csv", verdicts)


@pytest.fixture
def scan_dir(tmp_path: Path) -> Path:
    """A scan output folder with one blocked and one degraded account."""
    folder = tmp_path / "scan"
    write_scan(
        folder,
        [
            Verdict(account_id="acct_block", risk=0.95, flagged=True, action="block"),
            Verdict(account_id="acct_degrade", risk=0.8, flagged=True, action="degrade"),
        ],
    )
    return folder


@pytest.fixture
def client(scan_dir: Path) -> Iterator[Any]:
    """A TestClient (lifespan run) plus the enforcer and watcher behind it."""
    enforcer, watcher = build_enforcer(
        verdicts=scan_dir, policy=strict_policy_file(scan_dir.parent)
    )
    app = create_app(enforcer, watcher=watcher, reload_every_s=0.05, observe_every_s=0.05)
    with TestClient(app) as c:
        c.enforcer = enforcer  # type: ignore[attr-defined]
        c.watcher = watcher  # type: ignore[attr-defined]
        yield c
