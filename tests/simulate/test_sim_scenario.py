"""Scenario files: built-ins load, mistakes are reported with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillguard.errors import ConfigError
from distillguard.simulate import ARCHETYPES, builtin_scenarios, load_scenario, scenario_from_dict


def test_builtins_load_and_cover_every_archetype() -> None:
    names = builtin_scenarios()
    assert {"default", "incident-2026", "heldout-evasive", "heldout-mix", "attribution-2p"} <= set(
        names
    )
    for name in names:
        s = load_scenario(name)
        assert s.name == name
    default = load_scenario("default")
    assert {c.archetype for c in default.campaigns} == set(ARCHETYPES)
    pops = default.populations.model_dump()
    assert all(
        next(iter(v.values())) > 0 for v in pops.values()
    )  # every benign population is present


def test_incident_is_at_report_scale() -> None:
    s = load_scenario("incident-2026")
    attack = sum(c.exchanges for c in s.campaigns)
    assert 15_000_000 <= attack <= 17_000_000


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(
        "name: bad\ndays: 3\ncampaigns:\n  - actor: x\n    archetype: hydra\n    acounts: 10\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as ei:
        load_scenario(p)
    msg = str(ei.value)
    assert f"{p}:6" in msg
    assert "campaigns[0].acounts" in msg


def test_bad_value_names_the_key(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(
        "populations:\n  hobby:\n    accounts: -5\ncampaigns:\n  - actor: y\n    archetype: pirate\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as ei:
        load_scenario(p)
    msg = str(ei.value)
    assert "populations.hobby.accounts" in msg and f"{p}:3" in msg
    assert "campaigns[0].archetype" in msg and f"{p}:6" in msg


def test_knob_validation_messages() -> None:
    with pytest.raises(ConfigError, match=r"campaigns\[0\]\.access_paths"):
        scenario_from_dict(
            {
                "campaigns": [
                    {"actor": "a", "archetype": "agentic", "access_paths": {"satellite": 1}}
                ]
            }
        )
    with pytest.raises(ConfigError, match=r"campaigns\[0\]\.exits"):
        scenario_from_dict(
            {"campaigns": [{"actor": "a", "archetype": "agentic", "exits": {"datacenter": 0}}]}
        )
    with pytest.raises(ConfigError, match="actors must be unique"):
        scenario_from_dict(
            {
                "campaigns": [
                    {"actor": "a", "archetype": "agentic"},
                    {"actor": "a", "archetype": "hydra"},
                ]
            }
        )


def test_invalid_yaml_and_missing_files(tmp_path: Path) -> None:
    p = tmp_path / "broken.yaml"
    p.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_scenario(p)
    with pytest.raises(ConfigError, match="not found"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="unknown scenario"):
        load_scenario("no-such-builtin")


def test_disable_archetypes_leaves_one_out() -> None:
    s = scenario_from_dict(
        {
            "disable_archetypes": ["hydra"],
            "campaigns": [
                {"actor": "a", "archetype": "hydra"},
                {"actor": "b", "archetype": "agentic"},
            ],
        }
    )
    assert [c.actor for c in s.active_campaigns()] == ["b"]
