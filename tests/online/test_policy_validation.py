"""Policies are data: invalid ones fail at load with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillguard.errors import ConfigError
from distillguard.policy import PolicyError, default_policy, load_policy, parse_policy

GOOD = """\
version: 1
name: t
tiers:
  - {name: low, min_risk: 0.0, action: allow}
  - {name: high, min_risk: 0.8, action: block}
throttle:
  from_tier: high
"""


def test_packaged_default_policy_loads_with_the_required_shapes() -> None:
    pol = default_policy()
    assert pol.account_types["education"].step_up
    assert pol.account_types["startup"].step_up
    assert pol.account_types["research"].step_up
    ent = pol.account_types["enterprise"]
    assert ent.max_action == "monitor" and ent.alert
    assert pol.tier_for(0.0).action == "allow"
    assert pol.tier_for(0.95).action == "block"


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(GOOD.replace("  from_tier: high", "  from_tier: high\n  burst: 3"))
    with pytest.raises(PolicyError) as ei:
        load_policy(f)
    err = ei.value
    assert err.file == str(f)
    assert err.line == 8
    assert err.key == "throttle.burst"
    assert str(f) in str(err) and ":8" in str(err)
    assert isinstance(err, ConfigError)


def test_bad_action_in_a_list_item_points_at_its_line() -> None:
    text = GOOD.replace("action: block", "action: obliterate")
    with pytest.raises(PolicyError) as ei:
        parse_policy(text, "x.yaml")
    assert ei.value.key == "tiers.1.action"
    assert ei.value.line == 5


def test_tiers_must_grow_and_never_weaken() -> None:
    weaker = GOOD.replace("min_risk: 0.8, action: block", "min_risk: 0.8, action: allow").replace(
        "min_risk: 0.0, action: allow", "min_risk: 0.0, action: monitor"
    )
    with pytest.raises(PolicyError, match="weaken"):
        parse_policy(weaker, "x.yaml")
    with pytest.raises(PolicyError, match="increase"):
        parse_policy(GOOD.replace("min_risk: 0.8", "min_risk: 0.0"), "x.yaml")


def test_throttle_tier_must_exist_and_yaml_errors_have_a_line() -> None:
    with pytest.raises(PolicyError, match="not a tier"):
        parse_policy(GOOD.replace("from_tier: high", "from_tier: nope"), "x.yaml")
    with pytest.raises(PolicyError) as ei:
        parse_policy("tiers: [\n  {name: a", "broken.yaml")
    assert ei.value.line is not None and ei.value.file == "broken.yaml"


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")
