"""The scan pipeline end to end on a hand-made population (features stubbed by SQL)."""

from __future__ import annotations

import json
from pathlib import Path

from dg_detect_factory import filled_store, toy_features
from distillguard.contracts import read_campaigns, read_verdicts
from distillguard.scan import run_scan


def test_scan_finds_the_campaign_and_leaves_benign_alone(tmp_path: Path) -> None:
    store, attack = filled_store()
    summary = run_scan(store, tmp_path, features=toy_features, report=False)
    verdicts = {v.account_id: v for v in read_verdicts(tmp_path / "verdicts.csv")}
    assert len(verdicts) == summary["accounts"] == 84
    flagged = {a for a, v in verdicts.items() if v.flagged}
    assert flagged == attack
    camps = read_campaigns(tmp_path / "campaigns.json")
    assert len(camps) == 1
    camp = camps[0]
    assert set(camp.members) == attack
    assert all(verdicts[a].campaign_id == camp.id for a in attack)
    assert camp.exchanges == 24 * 40
    assert "45.77.12.0/24" in camp.infrastructure.ip_ranges
    assert set(camp.infrastructure.payment_fingerprints) == {f"pm_x{i}" for i in range(4)}
    assert {e["kind"] for e in camp.evidence} >= {"payment", "client_fp"}
    assert camp.extra["timeline"] and camp.extra["edges"]
    # quiet members are explained by their campaign, actions follow the account type
    assert all(any(r.startswith("campaign:") for r in verdicts[a].reasons) for a in attack)
    assert {verdicts[a].action for a in attack} == {"verify"}  # education, e-mail only
    assert all(
        v.action == "allow" and not v.reasons for a, v in verdicts.items() if a not in attack
    )
    doc = json.loads((tmp_path / "summary.json").read_text())
    assert set(doc["timings"]) >= {"links", "communities", "scoring", "campaigns", "total"}


def test_scan_without_any_campaign(tmp_path: Path) -> None:
    store, _ = filled_store(n_attack=0)
    summary = run_scan(store, tmp_path, features=toy_features, report=False)
    assert summary["campaigns"] == 0 and summary["flagged"] == 0
    assert read_campaigns(tmp_path / "campaigns.json") == []
