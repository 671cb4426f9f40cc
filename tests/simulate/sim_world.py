"""A small simulated world, generated once per test session and read back as plain data."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from distillguard.simulate import scenario_from_dict, simulate

RELEASE = "2026-03-03T12:00:00Z"

SMALL: dict[str, Any] = {
    "name": "test-small",
    "seed": 11,
    "start": "2026-03-02T00:00:00Z",
    "days": 4,
    "models": [
        {"name": "frontier-1", "released_at": "2025-09-01T00:00:00Z"},
        {"name": "frontier-2", "released_at": RELEASE},
    ],
    "populations": {
        "hobby": {"accounts": 120},
        "production_app": {"apps": 2, "exchanges_per_day": 100},
        "enterprise": {"orgs": 3, "accounts_per_org": [15, 20], "exchanges_per_account_day": 3},
        "eval_lab": {
            "labs": 2,
            "accounts_per_lab": [2, 3],
            "benchmark_prompts": 60,
            "runs_per_day": 1.5,
        },
        "university_class": {"classes": 1, "students": [80, 100], "deadline_every_days": 4},
        "coding_agent": {"developers": 12, "sessions_per_day": 1.0, "loop_length_mean": 15},
        "reseller": {"resellers": 1, "keys_per_account": [20, 40], "exchanges_per_day": 200},
    },
    "campaigns": [
        {
            "actor": "cobalt-owl",
            "archetype": "reasoning_grader",
            "accounts": 20,
            "exchanges": 600,
            "exits": {"datacenter": 0.7, "vpn": 0.3},
            "payment_reuse": 10,
            "apis": {"anthropic.messages": 0.5, "openai.chat_completions": 0.5},
        },
        {
            "actor": "saffron-kite",
            "archetype": "agentic",
            "accounts": 40,
            "exchanges": 800,
            "access_paths": {"api": 0.4, "cloud:aws": 0.3, "cloud:gcp": 0.3},
            "exits": {"residential": 0.5, "datacenter": 0.5},
        },
        {
            "actor": "granite-heron",
            "archetype": "agentic_coding",
            "accounts": 20,
            "exchanges": 2200,
        },
        {
            "actor": "hydra-lattice",
            "archetype": "hydra",
            "accounts": 80,
            "exchanges": 1000,
            "mixed_ordinary": 0.5,
            "ip_rotation": "request",
            "ip_pool": 400,
            "synchronized": False,
            "ban_rate_per_day": 0.2,
            "exits": {"residential": 0.5, "proxy": 0.5},
            "apis": {"openai.chat_completions": 0.6, "anthropic.messages": 0.4},
        },
    ],
}


#: One day, a handful of accounts per group: for determinism and format round trips.
TINY: dict[str, Any] = {
    **SMALL,
    "days": 1,
    "populations": {
        "hobby": {"accounts": 60},
        "production_app": {"apps": 1, "exchanges_per_day": 100},
        "enterprise": {"orgs": 1, "accounts_per_org": [5, 8], "exchanges_per_account_day": 4},
        "eval_lab": {
            "labs": 1,
            "accounts_per_lab": [1, 2],
            "benchmark_prompts": 20,
            "runs_per_day": 2,
        },
        "university_class": {"classes": 1, "students": [20, 30]},
        "coding_agent": {"developers": 5, "loop_length_mean": 8},
        "reseller": {"resellers": 1, "keys_per_account": [5, 10], "exchanges_per_day": 100},
    },
    "campaigns": [{**c, "exchanges": 120, "accounts": 8} for c in SMALL["campaigns"]],
}


@dataclass
class World:
    """A finished simulation, loaded back from its files."""

    out: Path
    exchanges: list[dict[str, Any]]
    accounts: dict[str, dict[str, Any]]
    truth: dict[str, dict[str, str]]
    campaigns: list[dict[str, Any]]

    def of_group(self, group: str) -> list[dict[str, Any]]:
        """Exchanges of the accounts in ``group``."""
        return [e for e in self.exchanges if self.truth[e["account_id"]]["group"] == group]

    def accounts_of(self, group: str) -> list[dict[str, Any]]:
        """Registry records of the accounts in ``group``."""
        return [a for a in self.accounts.values() if self.truth[a["account_id"]]["group"] == group]


def load_world(out: Path) -> World:
    """Read a simulation folder back."""
    ex = [orjson.loads(line) for line in (out / "exchanges.jsonl").read_bytes().splitlines()]
    acc = {
        a["account_id"]: a
        for a in map(orjson.loads, (out / "accounts.jsonl").read_bytes().splitlines())
    }
    with (out / "truth.csv").open() as fh:
        truth = {r["account_id"]: r for r in csv.DictReader(fh)}
    camps = json.loads((out / "campaigns_truth.json").read_text())
    return World(out, ex, acc, truth, camps)


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The small scenario simulated once with its default seed."""
    out = tmp_path_factory.mktemp("sim-small")
    simulate(scenario_from_dict(SMALL), out)
    return load_world(out)
