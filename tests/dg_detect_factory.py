"""A tiny hand-made population for the detection tests: benign users plus one campaign.

Not the simulator: just enough structure (shared payment, a rare client fingerprint,
one hosting /24, a shared system prompt, lock-step timing) to check that each stage
does what it says, with no other area's code involved.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA
from distillguard.store import Store

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _row(**kw: object) -> dict[str, object]:
    row: dict[str, object] = {f.name: None for f in EXCHANGE_SCHEMA}
    row.update(kw)
    return row


def population(
    n_benign: int = 60, n_attack: int = 24, seed: int = 7, shared_payment: bool = True
) -> tuple[pa.Table, pa.Table, set[str]]:
    """Return ``(exchanges, accounts, attack_ids)``."""
    rng = random.Random(seed)
    ex: list[dict[str, object]] = []
    acc: list[dict[str, object]] = []
    attack: set[str] = set()
    for i in range(n_benign):
        aid = f"acct_b{i:03d}"
        acc.append(
            {
                "account_id": aid,
                "created_at": T0
                - timedelta(days=rng.randint(30, 400), minutes=rng.randint(0, 999)),
                "account_type": rng.choice(["individual", "enterprise", "education"]),
                "email_domain": f"d{i}.example.com",
                "payment_fingerprint": f"pm_b{i}",
                "billing_country": "US",
                "verification": "card",
                "status": "active",
            }
        )
        ip = f"{rng.randint(11, 200)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        for j in range(rng.randint(5, 30)):
            ex.append(
                _row(
                    exchange_id=f"b{i}_{j}",
                    timestamp=T0 + timedelta(minutes=rng.randint(0, 60 * 24 * 7)),
                    account_id=aid,
                    client_ip=ip,
                    user_agent="Anthropic/Python 0.121.0",
                    client_headers='{"x-stainless-lang":"python"}',
                    system_text=rng.choice([None, "You are a helpful assistant."]),
                    last_user_text=f"question {rng.random()}",
                    input_tokens=rng.randint(20, 800),
                    output_tokens=rng.randint(50, 900),
                    n_user_turns=rng.randint(1, 4),
                )
            )
    for i in range(n_attack):
        aid = f"acct_x{i:03d}"
        attack.add(aid)
        acc.append(
            {
                "account_id": aid,
                "created_at": T0 - timedelta(days=2, minutes=i),
                "account_type": "education",
                "email_domain": "freemail.example",
                "payment_fingerprint": f"pm_x{i // 6}" if shared_payment else f"pm_xu{i}",
                "billing_country": "SG",
                "verification": "email",
                "status": "banned" if i == 0 else "active",
            }
        )
        for j in range(40):
            slot = T0 + timedelta(hours=j * 3, seconds=rng.randint(0, 120))
            ex.append(
                _row(
                    exchange_id=f"x{i}_{j}",
                    timestamp=slot,
                    account_id=aid,
                    client_ip=f"45.77.12.{(i * 7 + j) % 50 + 1}",
                    user_agent="python-httpx/0.27.0",
                    client_headers='{"x-harvest":"1"}',
                    system_text="Think step by step and show all reasoning before answering.",
                    last_user_text=f"Solve problem {rng.randint(0, 10**6)} step by step",
                    input_tokens=rng.randint(100, 300),
                    output_tokens=rng.randint(2000, 6000),
                    n_user_turns=1,
                )
            )
    exchanges = pa.Table.from_pylist(ex, schema=EXCHANGE_SCHEMA)
    accounts = pa.Table.from_pylist(acc, schema=ACCOUNT_SCHEMA)
    return exchanges, accounts, attack


def filled_store(**kw: object) -> tuple[Store, set[str]]:
    """An in-memory store holding :func:`population`."""
    exchanges, accounts, attack = population(**kw)  # type: ignore[arg-type]
    store = Store(":memory:")
    store.append_exchanges(exchanges)
    store.upsert_accounts(accounts)
    return store, attack


def toy_features(store: Store) -> tuple[pa.Table, list[str]]:
    """A few per-account aggregates in plain SQL, standing in for the features stage."""
    cols = ["volume", "output_input_ratio", "single_turn_share", "elicitation_share"]
    table = store.query(
        """SELECT account_id, ln(1 + count(*)) AS volume,
                  sum(output_tokens) / greatest(sum(input_tokens), 1) AS output_input_ratio,
                  avg((n_user_turns = 1)::INTEGER) AS single_turn_share,
                  avg((last_user_text ILIKE '%step by step%')::INTEGER) AS elicitation_share
           FROM exchanges GROUP BY account_id"""
    )
    return table, cols
