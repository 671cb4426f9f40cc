"""Policy files for the enforcement tests (online decisions, replay, the service)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def strict_policy_file(folder: Path) -> Path:
    """The packaged policy, but trusting scan verdicts fully (tests drive actions by verdicts)."""
    text = resources.files("distillguard.policy").joinpath("default.yaml").read_text()
    text = text.replace("verdict_weight: 0.5", "verdict_weight: 1.0").replace(
        "follow_verdict_action: false", "follow_verdict_action: true"
    )
    path = folder / "strict-policy.yaml"
    path.write_text(text)
    return path
