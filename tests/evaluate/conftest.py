"""A small, hand-built truth folder: a known benign population and one burst campaign."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from distillguard.contracts import CampaignTruth, TruthRow, write_truth

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

BENIGN_TOPICS = [
    "my tomato plants have yellow leaves, what should I do",
    "suggest a name for a grey cat",
    "write a birthday poem for my grandmother",
    "how long should I boil an egg",
    "recommend a novel like the hobbit",
    "plan a weekend trip to the lake district",
]
ATTACK_TOPICS = [
    "Solve step by step and show every reasoning step: integral of x^{n} sin x",
    "Grade the following answer on a 1-10 rubric and explain your reasoning step by step: proof {n}",
    "Think step by step. Implement a function that parses JSON AST node {n} with tool calls",
]


def _record(i: int, acct: str, ts: datetime, text: str, out_tok: int, ip: str) -> dict:
    return {
        "id": f"ex_{i:07d}",
        "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "account_id": acct,
        "access_path": "api",
        "client": {"ip": ip, "user_agent": "Anthropic/Python 0.40.0"},
        "api": "anthropic.messages",
        "request": {
            "model": "frontier-1",
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": text}],
        },
        "response": {
            "status": 200,
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 40, "output_tokens": out_tok},
        },
    }


def build_truth_dir(root: Path) -> Path:
    """hobby_1..8 and enterprise_1..4 benign; hydra_1..6 of actor 'alpha' (campaign c_alpha).

    Benign accounts send 12 exchanges each, one every 30 minutes; hydra accounts send 90
    exchanges each within 30 minutes (3 a minute) with long outputs.
    """
    root.mkdir(parents=True, exist_ok=True)
    rows: list[TruthRow] = []
    records: list[dict] = []
    i = 0
    for n in range(8):
        acct = f"hobby_{n}"
        rows.append(TruthRow(account_id=acct, group="hobby", actor="", is_attack=False))
        for k in range(12):
            text = BENIGN_TOPICS[(n + k) % len(BENIGN_TOPICS)] + f" (take {k})"
            records.append(
                _record(i, acct, T0 + timedelta(minutes=30 * k + n), text, 200, f"81.2.{n}.10")
            )
            i += 1
    for n in range(4):
        acct = f"enterprise_{n}"
        rows.append(TruthRow(account_id=acct, group="enterprise", actor="", is_attack=False))
        for k in range(12):
            text = BENIGN_TOPICS[k % len(BENIGN_TOPICS)] + f" for the team wiki {k}"
            records.append(
                _record(i, acct, T0 + timedelta(minutes=30 * k + 7 * n), text, 300, "20.1.1.5")
            )
            i += 1
    for n in range(6):
        acct = f"hydra_{n}"
        rows.append(TruthRow(account_id=acct, group="hydra", actor="alpha", is_attack=True))
        for k in range(90):
            text = ATTACK_TOPICS[k % 3].format(n=k * 7 + n)
            ts = T0 + timedelta(hours=1, seconds=20 * k + n)
            records.append(_record(i, acct, ts, text, 3000, f"45.9.{n}.{k % 200}"))
            i += 1
    rows.append(
        TruthRow(account_id="idle_0", group="hobby", actor="", is_attack=False)
    )  # no traffic
    write_truth(root / "truth.csv", rows)
    (root / "campaigns_truth.json").write_text(
        json.dumps(
            [
                CampaignTruth(
                    campaign_id="c_alpha",
                    actor="alpha",
                    archetype="hydra",
                    members=[f"hydra_{n}" for n in range(6)],
                ).model_dump(mode="json")
            ]
        )
    )
    with (root / "exchanges.jsonl").open("w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    return root


@pytest.fixture(scope="session")
def truth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-built truth folder, shared read-only by the tests."""
    return build_truth_dir(tmp_path_factory.mktemp("truth"))
