"""``distillguard evaluate`` end to end on the hand-built truth folder."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from distillguard.cli import main
from distillguard.contracts import (
    AttributedActor,
    Campaign,
    Decision,
    Verdict,
    write_campaigns,
    write_decisions,
    write_verdicts,
)
from distillguard.errors import InputError
from distillguard.evaluate import evaluate


def _scan_out(root: Path, with_decisions: bool = False) -> Path:
    """Verdicts that catch hydra_0..4 (not hydra_5) and wrongly flag enterprise_0."""
    root.mkdir(parents=True, exist_ok=True)
    flagged = [f"hydra_{n}" for n in range(5)] + ["enterprise_0"]
    write_verdicts(
        root / "verdicts.csv",
        [
            Verdict(account_id=a, risk=0.9, flagged=True, campaign_id="C1", action="block")
            for a in flagged
        ]
        + [Verdict(account_id="hobby_0", risk=0.1, flagged=False)],  # others: missing
    )
    t = datetime(2026, 3, 2, tzinfo=UTC)
    write_campaigns(
        root / "campaigns.json",
        [
            Campaign(
                id="C1",
                members=flagged,
                first_seen=t,
                last_seen=t,
                exchanges=1,
                output_tokens=1,
                attributed_actor=AttributedActor(actor="alpha", confidence=0.8),
            )
        ],
    )
    if with_decisions:
        write_decisions(
            root / "decisions.csv",
            [
                Decision(
                    exchange_id="ex_0000000",
                    account_id="hobby_0",
                    timestamp=t,
                    action="allow",
                    risk=0.0,
                ),
                Decision(
                    exchange_id="ex_0000096",
                    account_id="enterprise_0",
                    timestamp=t,
                    action="block",
                    risk=0.9,
                ),
            ],
        )
    return root


def test_evaluate_scores_verdicts(truth_dir: Path, tmp_path: Path) -> None:
    out = _scan_out(tmp_path / "scan")
    result = evaluate(truth_dir, out)
    pop = result["population"]
    # idle_0 has no traffic: not in the population
    assert (pop["accounts"], pop["attack"], pop["benign"]) == (18, 6, 12)
    assert pop["truth_accounts_without_traffic"] == 1
    (dg,) = result["detectors"]
    acc = dg["accounts"]
    assert (acc["tp"], acc["fp"], acc["fn"], acc["tn"]) == (5, 1, 1, 11)
    assert acc["recall"] == pytest.approx(5 / 6) and acc["fpr"] == pytest.approx(1 / 12)
    assert dg["groups"]["enterprise"]["rate"] == pytest.approx(1 / 4)
    camp = dg["campaigns"]
    assert camp["purity"] == pytest.approx(5 / 6)
    assert camp["actor_completeness"] == pytest.approx(5 / 6)
    assert camp["attribution"]["accuracy"] == 1.0
    assert dg["enforcement"] is None
    assert not any("not in the truth" in n for n in dg["notes"])


def test_cli_writes_json_and_report(truth_dir: Path, tmp_path: Path) -> None:
    out = _scan_out(tmp_path / "scan", with_decisions=True)
    js, html = tmp_path / "r.json", tmp_path / "r.html"
    rc = main(
        [
            "evaluate",
            "--truth",
            str(truth_dir),
            "--verdicts",
            str(out),
            "--baseline",
            "ratelimit",
            "--baseline",
            "isolation",
            "--json",
            str(js),
            "--report",
            str(html),
        ]
    )
    assert rc == 0
    result = json.loads(js.read_text())
    names = [d["name"] for d in result["detectors"]]
    assert names == [
        "distillguard",
        "rate limits (user)",
        "rate limits (oracle)",
        "isolation forest",
    ]
    enf = result["detectors"][0]["enforcement"]
    assert enf["benign_groups"]["enterprise"]["blocked_exchanges"] == 1
    assert enf["enterprise_blocked"] is True
    assert enf["campaigns"]["c_alpha"]["undecided"] == 540  # no decision: served as allowed
    text = html.read_text()
    assert "rate limits (oracle)" in text and "isolation forest" in text
    assert "<script" not in text


def test_cli_needs_something_to_score(truth_dir: Path) -> None:
    assert main(["evaluate", "--truth", str(truth_dir)]) == 2


def test_missing_truth_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"truth\.csv"):
        evaluate(tmp_path, None, baselines=["ratelimit"])
    assert main(["evaluate", "--truth", str(tmp_path), "--baselines"]) == 2


def test_bad_decisions_name_the_field(truth_dir: Path, tmp_path: Path) -> None:
    out = _scan_out(tmp_path / "scan")
    (out / "decisions.csv").write_text("exchange,verdict\nex_1,allow\n")
    with pytest.raises(InputError) as info:
        evaluate(truth_dir, out)
    assert "decisions.csv" in str(info.value) and "exchange_id" in str(info.value)


def test_unknown_baseline_is_rejected(truth_dir: Path) -> None:
    with pytest.raises(InputError, match="unknown_baseline"):
        evaluate(truth_dir, None, baselines=["magic"])
