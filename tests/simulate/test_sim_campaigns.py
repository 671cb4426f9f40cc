"""Each campaign archetype and evasion knob shows the behaviour it claims."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from sim_world import RELEASE, SMALL, World, load_world

from distillguard.simulate import scenario_from_dict, simulate
from distillguard.simulate.prompts import ELICITATION_STYLES

NO_BENIGN = {k: {next(iter(v)): 0} for k, v in SMALL["populations"].items()}


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _first_user(e: dict[str, Any]) -> str:
    for m in e["request"]["messages"]:
        if m["role"] == "user" and isinstance(m["content"], str):
            return m["content"]
    return ""


def _last_user(e: dict[str, Any]) -> str:
    for m in reversed(e["request"]["messages"]):
        if m["role"] == "user" and isinstance(m["content"], str):
            return m["content"]
    return ""


def _solo(tmp: Path, campaign: dict[str, Any], **extra: Any) -> World:
    """Simulate one campaign alone (no benign traffic) and read it back."""
    spec = {**SMALL, "populations": NO_BENIGN, "campaigns": [campaign], **extra}
    simulate(scenario_from_dict(spec), tmp)
    return load_world(tmp)


def test_reasoning_grader_is_synchronised_on_shared_payment_and_elicits_reasoning(
    small_world: World,
) -> None:
    accts = small_world.accounts_of("reasoning_grader")
    assert len({a["payment_fingerprint"] for a in accts}) <= len(accts) // 10 + 1
    ex = small_world.of_group("reasoning_grader")
    texts = [_first_user(e).lower() for e in ex]
    assert (
        np.mean(
            [("step" in t) or ("grade" in t) or ("evaluate" in t) or ("reason" in t) for t in texts]
        )
        > 0.95
    )
    assert any("thinking" in e["request"] or "reasoning_effort" in e["request"] for e in ex)
    # synchronised shifts: many hours of each day have no traffic at all, unlike the hydra
    hours = Counter(e["timestamp"][:13] for e in ex)
    n_hours = SMALL["days"] * 24
    hydra_hours = Counter(e["timestamp"][:13] for e in small_world.of_group("hydra"))
    assert len(hours) < 0.75 * n_hours
    assert len(hydra_hours) > len(hours)


def test_agentic_campaign_spans_access_paths_with_tool_loops(small_world: World) -> None:
    ex = small_world.of_group("agentic")
    paths = Counter(e["access_path"] for e in ex)
    assert {"api", "cloud:aws", "cloud:gcp"} <= set(paths)
    assert np.mean([bool(e["request"].get("tools")) for e in ex]) > 0.95
    tool_results = 0
    for e in ex:
        for m in e["request"]["messages"]:
            c = m.get("content")
            tool_results += m["role"] == "tool" or (
                isinstance(c, list) and any(b.get("type") == "tool_result" for b in c)
            )
    assert tool_results > 0
    names = {t.get("name") or t["function"]["name"] for e in ex for t in e["request"]["tools"]}
    assert "computer" in names  # computer-use style tasks


def test_coding_campaign_pivots_about_half_to_the_new_model_within_a_day(
    small_world: World,
) -> None:
    rel = _t(RELEASE)
    ex = small_world.of_group("agentic_coding")
    before = [e for e in ex if _t(e["timestamp"]) < rel]
    after_day = [e for e in ex if _t(e["timestamp"]) >= rel + timedelta(hours=24)]
    late_first_day = [
        e for e in ex if rel + timedelta(hours=20) <= _t(e["timestamp"]) < rel + timedelta(hours=24)
    ]
    assert before and after_day and late_first_day
    share = lambda xs: np.mean([e["request"]["model"] == "frontier-2" for e in xs])  # noqa: E731
    assert share(before) == 0.0
    assert 0.35 <= share(late_first_day) <= 0.65  # the pivot is complete within 24 hours
    assert 0.4 <= share(after_day) <= 0.6
    # benign coding agents adopt the new model too, but gradually (not a step within a day)
    hobby_after = [
        e
        for e in small_world.of_group("hobby")
        if rel <= _t(e["timestamp"]) < rel + timedelta(hours=24)
    ]
    assert share(hobby_after) < 0.35


def test_hydra_replaces_banned_accounts_and_mixes_resold_traffic(small_world: World) -> None:
    accts = small_world.accounts_of("hydra")
    banned = [a for a in accts if a["status"] == "banned"]
    assert banned, "the scenario bans hydra accounts"
    created = sorted(_t(a["created_at"]) for a in accts)
    for a in banned:
        t = _t(a["status_changed_at"])
        # a replacement appears within the configured delay (0.5-6 h) unless the ban was too late
        if t < _t(SMALL["start"]) + timedelta(days=SMALL["days"]) - timedelta(hours=6):
            assert any(t < c <= t + timedelta(hours=6) for c in created)
    assert len(accts) > SMALL["campaigns"][3]["accounts"]
    ex = small_world.of_group("hydra")
    end_users = [
        e["request"].get("safety_identifier") or (e["request"].get("metadata") or {}).get("user_id")
        for e in ex
    ]
    assert 0.3 < np.mean([u is not None for u in end_users]) < 0.7  # resold ordinary traffic
    by_acct = defaultdict(list)
    for e in ex:
        by_acct[e["account_id"]].append(e["client"]["ip"])
    busy = [ips for ips in by_acct.values() if len(ips) >= 5]
    assert np.mean([len(set(ips)) / len(ips) for ips in busy]) > 0.8  # rotating exits per request


def test_attackers_carry_no_artefact_benign_traffic_lacks(small_world: World) -> None:
    attack = [
        e
        for e in small_world.exchanges
        if small_world.truth[e["account_id"]]["is_attack"] == "true"
    ]
    benign = [
        e
        for e in small_world.exchanges
        if small_world.truth[e["account_id"]]["is_attack"] == "false"
    ]
    family = lambda ua: re.split(r"[/ ]", ua)[0]  # noqa: E731
    assert {family(e["client"]["user_agent"]) for e in attack} <= {
        family(e["client"]["user_agent"]) for e in benign
    }
    assert {k for e in attack for k in e["client"]["headers"]} <= {
        k for e in benign for k in e["client"]["headers"]
    }
    assert {k for e in attack for k in e["request"]} <= {k for e in benign for k in e["request"]}
    blob = b"\n".join(orjson.dumps(e) for e in attack).lower()
    for label in [c["actor"] for c in SMALL["campaigns"]] + [
        "hydra",
        "reasoning_grader",
        "agentic_coding",
    ]:
        assert not re.search(rb"\b" + label.encode() + rb"\b", blob)  # no ground-truth label leaks


def test_paraphrase_knob_removes_the_canonical_wrappers(tmp_path: Path) -> None:
    base = {"actor": "p", "archetype": "reasoning_grader", "accounts": 10, "exchanges": 400}
    plain = _solo(tmp_path / "plain", {**base, "paraphrase": 0.0})
    para = _solo(tmp_path / "para", {**base, "paraphrase": 1.0})
    heads = [
        t.split("{")[0][:40]
        for t in ELICITATION_STYLES["cot"] + ELICITATION_STYLES["grader"]
        if not t.startswith("{")
    ]
    tails = [t.split("}")[-1][:40] for t in ELICITATION_STYLES["cot"] if t.startswith("{")]

    def canonical(w: World) -> float:
        texts = [_first_user(e) for e in w.exchanges]
        return float(
            np.mean(
                [any(t.startswith(h) for h in heads) or any(tl in t for tl in tails) for t in texts]
            )
        )

    assert canonical(plain) > 0.95
    assert canonical(para) < 0.05


def test_human_timing_and_low_volume_knobs(tmp_path: Path) -> None:
    base = {"actor": "h", "archetype": "agentic", "accounts": 60, "exchanges": 600}
    machine = _solo(tmp_path / "m", {**base, "timing": "machine", "synchronized": False})
    human = _solo(tmp_path / "h", {**base, "timing": "human", "synchronized": False})

    def median_gap(w: World) -> float:
        by = defaultdict(list)
        for e in w.exchanges:
            by[e["account_id"]].append(_t(e["timestamp"]).timestamp())
        gaps = [
            b - a for ts in by.values() for a, b in zip(sorted(ts), sorted(ts)[1:], strict=False)
        ]
        return float(np.median(gaps))

    assert median_gap(human) > 3 * median_gap(machine)
    per_acct = Counter(e["account_id"] for e in human.exchanges)
    assert max(per_acct.values()) < 100


def test_exit_knobs_choose_the_address_space(tmp_path: Path) -> None:
    from distillguard.simulate.network import network_pools

    net = network_pools()
    w = _solo(
        tmp_path / "v",
        {
            "actor": "v",
            "archetype": "reasoning_grader",
            "accounts": 10,
            "exchanges": 300,
            "exits": {"datacenter": 0, "vpn": 1.0},
        },
    )
    assert all(net.contains("vpn", e["client"]["ip"]) for e in w.exchanges)


def test_two_periods_bring_the_same_actors_back_under_fresh_accounts(tmp_path: Path) -> None:
    camps = [{**c, "exchanges": c["exchanges"] // 4} for c in SMALL["campaigns"]]
    spec = {
        **SMALL,
        "days": 2,
        "periods": 2,
        "period_ban_share": 0.6,
        "populations": NO_BENIGN,
        "campaigns": camps,
    }
    simulate(scenario_from_dict(spec), tmp_path)
    w = load_world(tmp_path)
    by_actor = defaultdict(dict)
    for c in w.campaigns:
        by_actor[c["actor"]][c["knobs"]["period"]] = set(c["members"])
    assert set(by_actor) == {c["actor"] for c in SMALL["campaigns"]}
    p2_start = _t(SMALL["start"]) + timedelta(days=2)
    for periods in by_actor.values():
        assert set(periods) == {1, 2} and not (periods[1] & periods[2])
        pays = [{w.accounts[a]["payment_fingerprint"] for a in periods[p]} for p in (1, 2)]
        assert not (pays[0] & pays[1])  # fresh payment instruments
        uas = [
            {e["client"]["user_agent"] for e in w.exchanges if e["account_id"] in periods[p]}
            for p in (1, 2)
        ]
        assert uas[0] & uas[1]  # the same tooling comes back
        p1 = [w.accounts[a] for a in periods[1]]
        banned_at_end = [
            a
            for a in p1
            if a["status"] == "banned"
            and _t(a["status_changed_at"]) >= p2_start - timedelta(hours=6)
        ]
        assert len(banned_at_end) > 0.3 * len(p1)
    for e in w.exchanges:
        actor = w.truth[e["account_id"]]["actor"]
        period = 1 if e["account_id"] in by_actor[actor][1] else 2
        assert (_t(e["timestamp"]) < p2_start) == (period == 1)


def test_leave_one_archetype_out(tmp_path: Path) -> None:
    spec = {
        **SMALL,
        "days": 1,
        "populations": NO_BENIGN,
        "disable_archetypes": ["hydra", "agentic"],
    }
    simulate(scenario_from_dict(spec), tmp_path)
    w = load_world(tmp_path)
    assert {r["group"] for r in w.truth.values()} == {"reasoning_grader", "agentic_coding"}


def test_builtin_fallbacks_work_without_shared_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISTILLGUARD_DATA", "none")
    from distillguard.simulate.network import network_pools
    from distillguard.simulate.prompts import prompt_library

    assert not network_pools().real and not prompt_library().real
    spec = {
        **SMALL,
        "days": 1,
        "populations": {**NO_BENIGN, "hobby": {"accounts": 30}},
        "campaigns": [{**c, "exchanges": 100} for c in SMALL["campaigns"]],
    }
    simulate(scenario_from_dict(spec), tmp_path)
    w = load_world(tmp_path)
    assert len(w.exchanges) > 200
    assert {r["group"] for r in w.truth.values()} >= {"hobby", "hydra", "agentic_coding"}
