"""scan flags accounts that come back after a ban (issue 5: ban evasion works in scan)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from distillguard.cli import main
from distillguard.intel import returning_accounts
from distillguard.resources import shared_data_dir
from distillguard.store import Store


def test_replacements_of_banned_accounts_are_flagged_with_the_link(tmp_path: Path) -> None:
    if shared_data_dir() is None:
        # Without the network lists every simulated exit reads as a residential address,
        # which counts half (docs/intel.md): at this scale the hydra's replacements then
        # reach a link of about 2.3 with payment + prompting, under the 3.0 flag. A known
        # gap of the list-less install, stated in docs/intel.md, not a passing case.
        pytest.skip("needs the shared network lists (hosting / proxy ranges)")
    sim, out, store_path = tmp_path / "sim", tmp_path / "out", tmp_path / "st.duckdb"
    assert (
        main(
            [
                "simulate",
                "--scenario",
                "default",
                "--seed",
                "5",
                "--scale",
                "0.05",
                "--out",
                str(sim),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "scan",
                str(sim / "exchanges.jsonl"),
                "--accounts",
                str(sim / "accounts.jsonl"),
                "--store",
                str(store_path),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    with Store(store_path) as store:
        back = {r.account_id for r in returning_accounts(store)}
    assert back, "the default scenario replaces banned hydra accounts: some must link back"
    verdicts = {v["account_id"]: v for v in csv.DictReader((out / "verdicts.csv").open())}
    truth = {t["account_id"]: t for t in csv.DictReader((sim / "truth.csv").open())}
    for acc in back & verdicts.keys():
        v = verdicts[acc]
        assert v["flagged"] == "true" and "returning_actor" in v["reasons"].split(";")
        assert float(v["risk"]) >= 0.9 and v["action"] != "allow"
    # the link is evidence, not a guess: every account flagged this way is an attacker
    assert all(truth[a]["is_attack"] == "true" for a in back & verdicts.keys())
