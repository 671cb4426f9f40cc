"""A small hand-built world for the intel tests: benign customers and two actors.

Period one: 60 benign accounts, actor LAB-A (12 accounts, residential proxies in two
/24s, one SDK build, one reasoning system prompt, three shared cards), actor HYDRA-B
(15 accounts, four hosting /24s, its own client and template). After period one every
LAB-A account and every other HYDRA-B account is banned. Period two: the benign
customers continue and both actors return under fresh accounts on the same
infrastructure (LAB-A partly on its old cards). ``make_campaign`` stands in for
``scan``: it builds the contracts.Campaign of a set of accounts from the store.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from distillguard.contracts import Campaign, InfrastructureIndicators
from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA
from distillguard.store import Store

P1 = datetime(2026, 3, 1, tzinfo=UTC)
P2 = datetime(2026, 3, 15, tzinfo=UTC)
PROMPT_MARK = "PROMPT-TEXT-MUST-NOT-LEAK"
SYSTEM_MARK = "SYSTEM-TEXT-MUST-NOT-LEAK"

ACTORS = {
    "LAB-A": {
        "n": 12,
        "prefixes": ["45.10.20", "45.10.21"],
        "ua": "OpenAI/Python 1.40.2",
        "headers": {"x-stainless-os": "Linux", "x-stainless-runtime-version": "3.10.4"},
        "system": f"{SYSTEM_MARK} You are a meticulous reasoning engine. Think step by step.",
        "email": "mail.lab-a-research.example",
        "hours": range(0, 8),
    },
    "HYDRA-B": {
        "n": 15,
        "prefixes": ["103.5.0", "103.5.1", "103.5.2", "103.5.3"],
        "ua": "Anthropic/Python 0.118.0",
        "headers": {"x-stainless-os": "Windows", "x-stainless-runtime-version": "3.12.1"},
        "system": f"{SYSTEM_MARK} Grade the following answer and explain the grade.",
        "email": "proxy-mail.example",
        "hours": range(10, 18),
    },
}
COMMON_UA = "Anthropic/Python 0.121.0"
COMMON_HEADERS = {"x-stainless-os": "MacOS", "x-stainless-runtime-version": "3.11.9"}


def _table(rows: list[dict[str, object]], schema: pa.Schema) -> pa.Table:
    cols = {f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in schema}
    return pa.table(cols, schema=schema)


class World:
    """Builds the two periods into a store and remembers the truth."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.truth: dict[str, str] = {}
        self.period_of: dict[str, int] = {}
        self._n = 0
        self.benign = [f"acct_b{i:03d}" for i in range(60)]

    def _exchanges(self, account: str, start: datetime, spec: dict[str, object] | None, n: int):
        rows = []
        rng = self.rng
        for _ in range(n):
            self._n += 1
            if spec is None:  # a benign customer
                hour = rng.randrange(24)
                ip = (
                    f"34.100.{rng.randrange(4)}.{rng.randrange(256)}"
                    if rng.random() < 0.3
                    else f"{rng.randrange(11, 220)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
                )
                ua, headers = COMMON_UA, COMMON_HEADERS
                system = (
                    f"You help the customers of shop {account}." if rng.random() < 0.5 else None
                )
            else:
                hour = rng.choice(list(spec["hours"]))  # type: ignore[call-overload]
                ip = f"{rng.choice(spec['prefixes'])}.{rng.randrange(256)}"  # type: ignore[arg-type]
                ua, headers, system = spec["ua"], spec["headers"], spec["system"]
            ts = start + timedelta(days=rng.randrange(10), hours=hour, minutes=rng.randrange(60))
            rows.append(
                {
                    "exchange_id": f"ex_{self._n:07d}",
                    "timestamp": ts,
                    "account_id": account,
                    "client_ip": ip,
                    "user_agent": ua,
                    "client_headers": json.dumps(headers, sort_keys=True),
                    "api": "anthropic.messages",
                    "model": "frontier-1",
                    "system_text": system,
                    "user_text": f"{PROMPT_MARK} question {rng.randrange(10**6)}",
                    "last_user_text": f"{PROMPT_MARK} question",
                    "output_tokens": rng.randrange(100, 4000),
                    "status": 200,
                }
            )
        return rows

    def _account(self, account: str, created: datetime, payment: str, email: str, **kw: object):
        return {
            "account_id": account,
            "created_at": created,
            "account_type": kw.get("account_type", "individual"),
            "email_domain": email,
            "payment_fingerprint": payment,
            "billing_country": kw.get("country", "US"),
            "verification": "email",
            "status": kw.get("status", "active"),
            "status_changed_at": kw.get("changed"),
        }

    def period(self, store: Store, period: int, n_exchanges: int = 25) -> None:
        """Write one period's exchanges and accounts into ``store``."""
        start = P1 if period == 1 else P2
        ex: list[dict[str, object]] = []
        acc: list[dict[str, object]] = []
        for i, a in enumerate(self.benign):
            self.truth.setdefault(a, "")
            self.period_of.setdefault(a, 1)
            ex += self._exchanges(a, start, None, n_exchanges // 2)
            acc.append(self._account(a, P1 - timedelta(days=30 + i), f"pm_benign_{i}", "gmail.com"))
        for name, spec in ACTORS.items():
            tag = name.split("-")[0].lower()
            for j in range(int(spec["n"])):  # type: ignore[call-overload]
                a = f"acct_{tag}{period}_{j:02d}"
                self.truth[a] = name
                self.period_of[a] = period
                ex += self._exchanges(a, start, spec, n_exchanges)
                if period == 1:
                    pay = f"pm_{tag}_{j % 3}" if name == "LAB-A" else f"pm_{tag}_{j}"
                else:  # LAB-A reuses its old cards on a third of the new accounts
                    pay = (
                        f"pm_{tag}_{j % 3}"
                        if name == "LAB-A" and j % 3 == 0
                        else f"pm_{tag}_p2_{j}"
                    )
                acc.append(
                    self._account(
                        a,
                        start - timedelta(days=1, hours=j),
                        pay,
                        str(spec["email"]),
                        account_type="education" if name == "LAB-A" else "startup",
                    )
                )
        store.append_exchanges(_table(ex, EXCHANGE_SCHEMA))
        store.upsert_accounts(_table(acc, ACCOUNT_SCHEMA))
        banned: list[str] = []
        if period == 2:  # the bans that happened at the end of period one
            for a, actor in self.truth.items():
                if self.period_of[a] != 1 or not actor or a in self.benign:
                    continue
                if actor == "LAB-A" or int(a[-2:]) % 2 == 0:
                    banned.append(a)
        if banned:
            store.con.execute(
                "UPDATE accounts SET status = 'banned', status_changed_at = ? "
                f"WHERE account_id IN ({','.join('?' * len(banned))})",
                [P2 - timedelta(hours=1), *banned],
            )

    def members(self, actor: str, period: int) -> list[str]:
        """The accounts of ``actor`` created in ``period``."""
        return sorted(
            a for a, t in self.truth.items() if t == actor and self.period_of[a] == period
        )


def make_campaign(store: Store, cid: str, members: list[str]) -> Campaign:
    """What a scan would report for these accounts (stands in for the scan stage)."""
    tbl = pa.table({"account_id": members})
    store.con.register("_m", tbl)
    try:
        first, last, n, out = store.con.execute(
            "SELECT min(timestamp), max(timestamp), count(*), sum(output_tokens) "
            "FROM exchanges JOIN _m USING (account_id)"
        ).fetchone()  # type: ignore[misc]
        prefixes = store.con.execute(
            "SELECT regexp_extract(client_ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1) || '.0/24' p, "
            "count(DISTINCT account_id) k FROM exchanges JOIN _m USING (account_id) "
            "GROUP BY p HAVING k >= 2 ORDER BY k DESC"
        ).fetchall()
        pays = store.con.execute(
            "SELECT DISTINCT payment_fingerprint FROM accounts JOIN _m USING (account_id)"
        ).fetchall()
    finally:
        store.con.unregister("_m")
    return Campaign(
        id=cid,
        members=members,
        first_seen=first,
        last_seen=last,
        exchanges=int(n),
        output_tokens=int(out or 0),
        capability_profile={"reasoning": 0.7, "coding": 0.3},
        infrastructure=InfrastructureIndicators(
            ip_ranges=[p for p, _ in prefixes],
            asns=sorted({64500 + int(p.split(".")[0]) % 100 for p, _ in prefixes}),
            asn_orgs=["Example Proxy Hosting"],
            payment_fingerprints=[p for (p,) in pays],
        ),
        risk=0.9,
    )


@pytest.fixture
def world() -> World:
    """A fresh world description (nothing written yet)."""
    return World()


@pytest.fixture
def store_factory(tmp_path: Path) -> Callable[[str], Store]:
    """Opens stores under the test's temporary folder; closes them afterwards."""
    opened: list[Store] = []

    def make(name: str = "store") -> Store:
        s = Store(tmp_path / f"{name}.duckdb")
        opened.append(s)
        return s

    yield make  # type: ignore[misc]
    for s in opened:
        s.close()
