"""Each benign population shows the behaviour it claims (the hard negatives of detection)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

import numpy as np
from sim_world import SMALL, World

from distillguard.simulate import build_sources, scenario_from_dict
from distillguard.simulate.network import network_pools


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _user_texts(e: dict) -> list[str]:
    msgs = e["request"]["messages"]
    return [m["content"] for m in msgs if m["role"] == "user" and isinstance(m["content"], str)]


def test_hobby_users_are_diurnal_in_their_own_timezone_on_home_networks(small_world: World) -> None:
    _, sources = build_sources(scenario_from_dict(SMALL), SMALL["seed"], 1.0)
    tz = {a.account_id: a.tz for s in sources if s.group == "hobby" for a in s.accounts}
    ex = small_world.of_group("hobby")
    local = np.array(
        [
            (_t(e["timestamp"]).hour + _t(e["timestamp"]).minute / 60 + tz[e["account_id"]]) % 24
            for e in ex
        ]
    )
    night = np.mean((local >= 1) & (local < 6))
    evening = np.mean((local >= 17) & (local < 23))
    assert night < 0.08 and evening > 0.25
    net = network_pools()
    res = [k for k in net.kinds() if k.startswith("res:")]
    assert all(any(net.contains(k, e["client"]["ip"]) for k in res) for e in ex[:300])
    assert any(len(_user_texts(e)) > 1 for e in ex)  # multi-turn conversations
    assert len({e["client"]["ip"] for e in ex}) > 0.8 * len({e["account_id"] for e in ex})


def test_production_apps_repeat_one_system_prompt_at_volume_from_one_cloud(
    small_world: World,
) -> None:
    by_acct = defaultdict(list)
    for e in small_world.of_group("production_app"):
        by_acct[e["account_id"]].append(e)
    net = network_pools()
    clouds = [k for k in net.kinds() if k.startswith("cloud:")]
    for ex in by_acct.values():
        systems = {e["request"].get("system") or e["request"]["messages"][0]["content"] for e in ex}
        assert len(systems) == 1
        assert len(ex) >= 50 * SMALL["days"]
        ips = {e["client"]["ip"] for e in ex}
        assert len(ips) <= 6 and all(any(net.contains(k, ip) for k in clouds) for ip in ips)


def test_enterprise_accounts_share_an_invoice_and_run_tool_agents(small_world: World) -> None:
    orgs = defaultdict(list)
    for a in small_world.accounts_of("enterprise"):
        orgs[a["org_id"]].append(a)
    assert len(orgs) == SMALL["populations"]["enterprise"]["orgs"]
    for accts in orgs.values():
        assert len(accts) >= 15
        assert len({a["payment_fingerprint"] for a in accts}) == 1
        assert accts[0]["payment_fingerprint"].startswith("inv_")
        created = sorted(_t(a["created_at"]) for a in accts)
        assert (created[-1] - created[0]).total_seconds() < 4 * 3600
    ex = small_world.of_group("enterprise")
    assert all(e["request"].get("tools") for e in ex)
    assert (
        np.mean([e["response"].get("stop_reason") in ("tool_use", "tool_calls") for e in ex]) > 0.4
    )


def test_eval_labs_send_the_same_benchmark_prompts_each_run_at_temperature_zero(
    small_world: World,
) -> None:
    pay = {a["account_id"]: a["payment_fingerprint"] for a in small_world.accounts_of("eval_lab")}
    labs = defaultdict(list)
    for e in small_world.of_group("eval_lab"):
        labs[pay[e["account_id"]]].append(e)
    multi_run = 0
    for ex in labs.values():
        assert all(e["request"]["temperature"] == 0.0 for e in ex)
        runs: list[set[str]] = []
        last = None
        for e in sorted(ex, key=lambda e: e["timestamp"]):
            t = _t(e["timestamp"])
            if last is None or (t - last).total_seconds() > 1800:
                runs.append(set())
            runs[-1].add(_user_texts(e)[-1])
            last = t
        multi_run += len(runs) >= 2
        assert all(r == runs[0] for r in runs[1:])
        texts = [_user_texts(e)[-1] for e in ex]
        assert np.mean(["step by step" in t for t in texts]) > 0.3
        span = (
            _t(max(e["timestamp"] for e in ex)) - _t(min(e["timestamp"] for e in ex))
        ).total_seconds()
        assert len(ex) / max(span, 1.0) > 0.001  # bursts: many exchanges in little time
    assert multi_run >= 1


def test_university_class_shares_a_grant_campus_nat_and_deadline_rushes(small_world: World) -> None:
    accts = small_world.accounts_of("university_class")
    assert len(accts) >= 80
    assert {a["account_type"] for a in accts} == {"education"}
    assert len({a["payment_fingerprint"] for a in accts}) == 1
    assert accts[0]["payment_fingerprint"].startswith("grant_")
    assert len({a["email_domain"] for a in accts}) == 1
    created = sorted(_t(a["created_at"]) for a in accts)
    assert (created[-1] - created[0]).total_seconds() < 24 * 3600
    ex = small_world.of_group("university_class")
    ips = {e["client"]["ip"] for e in ex}
    assert len(ips) <= 4
    assert all(network_pools().contains("campus", ip) for ip in ips)
    per_day = Counter(e["timestamp"][:10] for e in ex)
    assert max(per_day.values()) >= 2 * min(per_day.values())
    assert len({e["client"]["user_agent"] for e in ex}) == 1  # the course notebook's SDK


def test_coding_agents_run_long_growing_tool_loops_with_big_outputs(small_world: World) -> None:
    ex = [e for e in small_world.of_group("coding_agent") if e["response"]["status"] == 200]
    n_msgs = [len(e["request"]["messages"]) for e in ex]
    assert max(n_msgs) >= 15
    inputs = [
        e["response"]["usage"].get("input_tokens", 0)
        + e["response"]["usage"].get("cache_read_input_tokens", 0)
        + e["response"]["usage"].get("prompt_tokens", 0)
        for e in ex
    ]
    assert np.corrcoef(n_msgs, inputs)[0, 1] > 0.5  # the session grows
    outs = [
        e["response"]["usage"].get("output_tokens", e["response"]["usage"].get("completion_tokens"))
        for e in ex
    ]
    assert np.median(outs) > 400
    assert np.mean([e["response"]["stop_reason"] in ("tool_use", "tool_calls") for e in ex]) > 0.6
    assert any(e["client"]["user_agent"].startswith("claude-cli/") for e in ex)


def test_resellers_have_many_keys_and_many_end_users(small_world: World) -> None:
    ex = small_world.of_group("reseller")
    keys = defaultdict(set)
    for e in ex:
        keys[e["account_id"]].add(e["api_key_id"])
    assert max(len(k) for k in keys.values()) >= 15
    users = {
        e["request"].get("safety_identifier") or (e["request"].get("metadata") or {}).get("user_id")
        for e in ex
    }
    assert None not in users and len(users) >= 100
    assert len({e["request"]["model"] for e in ex}) == 2  # adopts the new release


def test_bursty_eval_labs_hit_rate_limits_more_than_chat_users(small_world: World) -> None:
    def limited(ex: list[dict]) -> float:
        return float(np.mean([e["response"]["status"] == 429 for e in ex]))

    others = [
        g
        for g in (
            "hobby",
            "production_app",
            "enterprise",
            "university_class",
            "coding_agent",
            "reseller",
        )
    ]
    rest = [e for g in others for e in small_world.of_group(g)]
    assert limited(small_world.of_group("eval_lab")) > 3 * limited(rest)
    assert all(
        "usage" not in e["response"]
        for e in small_world.exchanges
        if e["response"]["status"] != 200
    )
