"""A scanned campaign's own system prompts and templates degrade its fresh accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from distillguard.contracts import Campaign, Verdict, write_campaigns, write_verdicts
from distillguard.online import AccountRecord, RequestContext
from distillguard.online.engine import default_signals
from distillguard.online.fingerprints import CampaignFingerprints, fingerprint_index
from distillguard.online.setup import build_enforcer
from distillguard.signals import SIGNAL_SCHEMA
from distillguard.store import Store

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CAMPAIGN_SYSTEM = "You are an autonomous harvesting agent. Plan, call tools, never stop."
STOCK_SYSTEM = "You are a coding agent. Use the tools to edit files and run tests."


def _record(account: str, system: str, ts: datetime) -> dict[str, Any]:
    return {
        "id": f"ex_{account}_{int(ts.timestamp())}",
        "timestamp": ts.isoformat().replace("+00:00", "Z"),
        "account_id": account,
        "api": "anthropic.messages",
        "access_path": "api",
        "client": {"ip": "192.0.2.10", "user_agent": "python-httpx/0.27"},
        "request": {
            "model": "frontier-1",
            "system": system,
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": "Find the cheapest flight to Lisbon."}],
        },
    }


def _system_hash(system: str) -> str:
    sig = default_signals()(_record("x", system, T0))
    assert sig["system_hash"], "the request signals carry the system prompt's hash"
    return str(sig["system_hash"])


def _store(path: Path, users: dict[str, list[str]]) -> None:
    """exchange_signals rows: value -> the accounts that sent it in the scanned period."""
    with Store(path) as st:
        st.con.register("empty_signals", SIGNAL_SCHEMA.empty_table())
        st.con.execute("CREATE TABLE exchange_signals AS SELECT * FROM empty_signals")
        rows = [
            (f"ex_{value}_{acct}", acct, T0, value)
            for value, accts in users.items()
            for acct in accts
        ]
        st.con.executemany(
            "INSERT INTO exchange_signals (exchange_id, account_id, timestamp, system_hash) "
            "VALUES (?, ?, ?, ?)",
            rows,
        )


def _campaign(members: list[str], values: list[str]) -> Campaign:
    return Campaign(
        id="camp_1",
        members=members,
        first_seen=T0,
        last_seen=T0,
        exchanges=100,
        output_tokens=10_000,
        evidence=[
            {"kind": "system_prompt", "value": v, "accounts": len(members), "weight": 0.4}
            for v in values
        ],
    )


def test_only_values_the_campaign_owns_are_indexed(tmp_path: Path) -> None:
    members = [f"m{i}" for i in range(8)]
    _store(
        tmp_path / "s.duckdb",
        {
            "pure": members[:6],
            "shared": members[:6] + [f"dev{i}" for i in range(6)],  # a stock agent prompt
            "rare": members[:2],
        },
    )
    with Store(tmp_path / "s.duckdb", read_only=True) as st:
        idx = fingerprint_index(
            [_campaign(members, ["pure", "shared", "rare"])],
            [Verdict(account_id=m, risk=0.99, flagged=True) for m in members],
            st,
        )
    assert set(idx) == {("system_hash", "pure")}
    with Store(tmp_path / "empty.duckdb") as st:  # a store that was never scanned
        assert fingerprint_index([_campaign(members, ["pure"])], [], st) == {}
    fp = idx[("system_hash", "pure")]
    assert (fp.campaign_id, fp.accounts, fp.flagged, fp.purity) == ("camp_1", 6, 6, 1.0)
    src = CampaignFingerprints(idx)
    hit = RequestContext("a", "anthropic.messages", {}, signals={"system_hash": "pure"})
    miss = RequestContext("a", "anthropic.messages", {}, signals={"system_hash": "shared"})
    (ev,) = src.lookup(hit, None)
    assert ev.kind == "campaign_fingerprint" and ev.campaign_id == "camp_1"
    assert src.lookup(miss, None) == []


def test_served_end_to_end_and_rebuilt_when_verdicts_reload(tmp_path: Path) -> None:
    members = [f"m{i}" for i in range(6)]
    devs = [f"dev{i}" for i in range(6)]
    camp_h, stock_h = _system_hash(CAMPAIGN_SYSTEM), _system_hash(STOCK_SYSTEM)
    _store(tmp_path / "p1.duckdb", {camp_h: members, stock_h: members + devs})
    scan = tmp_path / "scan"
    scan.mkdir()
    write_verdicts(
        scan / "verdicts.csv", [Verdict(account_id=m, risk=0.99, flagged=True) for m in members]
    )
    write_campaigns(scan / "campaigns.json", [_campaign(members, [camp_h, stock_h])])
    now = T0 + timedelta(days=6)
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_text(
        "\n".join(
            f'{{"account_id": "{a}", "created_at": "{c}", "account_type": "individual"}}'
            for a, c in (
                ("fresh", (now - timedelta(days=2)).isoformat()),
                ("fresh_dev", (now - timedelta(days=2)).isoformat()),
                ("old", "2024-01-01T00:00:00Z"),
            )
        )
    )
    enforcer, watcher = build_enforcer(
        verdicts=scan, accounts=accounts, intel_store=tmp_path / "p1.duckdb"
    )
    assert watcher is not None

    def action(account: str, system: str) -> tuple[str, list[str]]:
        d = enforcer.decide(RequestContext.from_native(_record(account, system, now)))
        return d.action, d.reasons

    act, reasons = action("fresh", CAMPAIGN_SYSTEM)
    assert act == "degrade" and "campaign_fingerprint" in reasons
    # the same new account with the stock prompt ordinary developers share: served
    assert action("fresh_dev", STOCK_SYSTEM)[0] == "allow"
    # an established account with the campaign's prompt is watched, not degraded
    assert action("old", CAMPAIGN_SYSTEM)[0] == "monitor"
    # the scan no longer lists the prompt: the index follows the reload
    write_campaigns(scan / "campaigns.json", [_campaign(members, [])])
    watcher.reload()
    assert "campaign_fingerprint" not in action("fresh_dev", CAMPAIGN_SYSTEM)[1]


def test_a_value_pure_only_among_fresh_accounts_speaks_only_for_fresh_ones(
    tmp_path: Path,
) -> None:
    members = [f"m{i}" for i in range(6)]  # the campaign's sign-ups, days old at first use
    firms = [f"firm{i}" for i in range(6)]  # established customers with the same prompt
    _store(tmp_path / "s.duckdb", {"agent_prompt": members + firms})
    with Store(tmp_path / "s.duckdb") as st:
        st.con.executemany(
            "INSERT INTO accounts (account_id, created_at) VALUES (?, ?)",
            [(m, T0 - timedelta(days=3)) for m in members]
            + [(f, T0 - timedelta(days=700)) for f in firms],
        )
        verdicts = [Verdict(account_id=m, risk=0.99, flagged=True) for m in members]
        camp = [_campaign(members, ["agent_prompt"])]
        assert fingerprint_index(camp, verdicts, st) == {}  # 50% pure overall
        idx = fingerprint_index(camp, verdicts, st, fresh_days=30)
    fp = idx[("system_hash", "agent_prompt")]
    assert fp.fresh_only and (fp.accounts, fp.flagged) == (6, 6)
    src = CampaignFingerprints(idx, fresh_days=30)
    now = (T0 + timedelta(days=5)).timestamp()
    ctx = RequestContext(
        "a", "anthropic.messages", {}, ts=now, signals={"system_hash": "agent_prompt"}
    )
    young = AccountRecord("a", created_at=now - 2 * 86400)
    old = AccountRecord("a", created_at=now - 400 * 86400)
    assert [e.kind for e in src.lookup(ctx, young)] == ["campaign_fingerprint"]
    assert src.lookup(ctx, old) == [] and src.lookup(ctx, None) == []


def test_client_builds_and_templates_are_looked_up_too(tmp_path: Path) -> None:
    members = [f"m{i}" for i in range(5)]
    with Store(tmp_path / "c.duckdb") as st:
        st.con.register("empty_signals", SIGNAL_SCHEMA.empty_table())
        st.con.execute("CREATE TABLE exchange_signals AS SELECT * FROM empty_signals")
        st.con.executemany(
            "INSERT INTO exchange_signals (exchange_id, account_id, timestamp, client_fp) "
            "VALUES (?, ?, ?, ?)",
            [(f"e{m}", m, T0, "sdk/1.2|CPython 3.9|Linux") for m in members]
            + [(f"h{i}", f"hobby{i}", T0, "sdk/1.0|CPython 3.12|MacOS") for i in range(9)]
            + [(f"g{m}", m, T0, "sdk/1.0|CPython 3.12|MacOS") for m in members],
        )
        camp = Campaign(
            id="camp_2",
            members=members,
            first_seen=T0,
            last_seen=T0,
            exchanges=5,
            output_tokens=5,
            evidence=[
                {"kind": "client_fp", "value": v, "accounts": 5, "weight": 0.5}
                for v in ("sdk/1.2|CPython 3.9|Linux", "sdk/1.0|CPython 3.12|MacOS")
            ],
        )
        idx = fingerprint_index([camp], [], st, kinds=("client_fp", "system_prompt"))
    # the actor's own build is kept, the stock build ordinary users share is not
    assert set(idx) == {("client_fp", "sdk/1.2|CPython 3.9|Linux")}
    src = CampaignFingerprints(idx)
    own = RequestContext(
        "a", "openai.chat_completions", {}, signals={"client_fp": "sdk/1.2|CPython 3.9|Linux"}
    )
    stock = RequestContext(
        "a", "openai.chat_completions", {}, signals={"client_fp": "sdk/1.0|CPython 3.12|MacOS"}
    )
    assert [e.campaign_id for e in src.lookup(own, None)] == ["camp_2"]
    assert src.lookup(stock, None) == []
    # a template id counts only where it is a real template (not a short prompt's text)
    tpl_idx = {("template_id", "t1"): idx[("client_fp", "sdk/1.2|CPython 3.9|Linux")]}
    tsrc = CampaignFingerprints(tpl_idx)
    framed = {"template_id": "t1", "templated": True}
    bare = {"template_id": "t1", "template_frame": "hi", "template_head": "hi"}
    assert len(tsrc.lookup(RequestContext("a", "x", {}, signals=framed), None)) == 1
    assert tsrc.lookup(RequestContext("a", "x", {}, signals=bare), None) == []
