"""Policy files for the enforcement tests (online decisions, replay, the service)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def strict_policy_file(folder: Path) -> Path:
    """The packaged policy, but trusting scan verdicts fully and without the
    corroboration limits (tests drive actions by verdicts alone)."""
    text = resources.files("distillguard.policy").joinpath("default.yaml").read_text()
    for old, new in (
        ("verdict_weight: 0.5", "verdict_weight: 1.0"),
        ("follow_verdict_action: false", "follow_verdict_action: true"),
        ("single_family_max: monitor", "single_family_max: block"),
        ("block_min_families: 3", "block_min_families: 1"),
    ):
        assert old in text, f"default.yaml no longer has {old!r}"
        text = text.replace(old, new)
    path = folder / "strict-policy.yaml"
    path.write_text(text)
    return path
