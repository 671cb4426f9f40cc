"""``distillguard train`` and ``distillguard scan`` through the CLI entry point, with the
real signals and features stages (tiny hand-made population)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dg_detect_factory import population
from distillguard.cli import main
from distillguard.contracts import TruthRow, read_campaigns, read_verdicts, write_truth
from distillguard.scoring import AccountModel
from distillguard.store import Store


@pytest.fixture()
def labelled_store(tmp_path: Path) -> tuple[Path, Path, set[str]]:
    exchanges, accounts, attack = population(n_benign=40, n_attack=12, seed=3)
    path = tmp_path / "store.duckdb"
    with Store(path) as store:
        store.append_exchanges(exchanges)
        store.upsert_accounts(accounts)
    truth = tmp_path / "truth.csv"
    write_truth(
        truth,
        [
            TruthRow(
                account_id=a,
                group="x" if a in attack else "b",
                actor="x" if a in attack else "",
                is_attack=a in attack,
            )
            for a in accounts.column("account_id").to_pylist()
        ],
    )
    return path, truth, attack


def test_train_then_scan_with_the_model(
    tmp_path: Path, labelled_store: tuple[Path, Path, set[str]]
) -> None:
    store, truth, attack = labelled_store
    model = tmp_path / "model.json"
    rc = main(
        [
            "train",
            "--store",
            str(store),
            "--truth",
            str(truth),
            "--out",
            str(model),
            "--rounds",
            "40",
        ]
    )
    assert rc == 0
    m = AccountModel.load(model)
    assert "g_max_payment" in m.features and m.manifest["sources"][0]["attack"] == len(attack)
    out = tmp_path / "out"
    rc = main(["scan", "--store", str(store), "--out", str(out), "--model", str(model)])
    assert rc == 0
    verdicts = {v.account_id: v for v in read_verdicts(out / "verdicts.csv")}
    flagged = {a for a, v in verdicts.items() if v.flagged}
    assert flagged == attack
    assert all(v.reasons for a, v in verdicts.items() if a in attack)
    camps = read_campaigns(out / "campaigns.json")
    assert len(camps) == 1 and set(camps[0].members) == attack
    assert camps[0].capability_profile and camps[0].infrastructure.client_fingerprints
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == str(model) and summary["flagged"] == len(attack)


def test_scan_rejects_a_bad_model_file(
    tmp_path: Path, labelled_store: tuple[Path, Path, set[str]]
) -> None:
    store, _, _ = labelled_store
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    rc = main(["scan", "--store", str(store), "--out", str(tmp_path / "o"), "--model", str(bad)])
    assert rc == 2
