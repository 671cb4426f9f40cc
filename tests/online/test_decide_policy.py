"""The pure decision: each action, account-type shaping, rewrites, fail modes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from distillguard.contracts import Verdict
from distillguard.online import (
    AccountRecord,
    Enforcement,
    Evidence,
    RequestContext,
    StateView,
    apply_rewrite,
)
from distillguard.online import decide as _decide
from distillguard.policy import default_policy, parse_policy
from distillguard.policy.model import Corroboration

NOW = 1_800_000_000.0
#: The default policy, but trusting scan verdicts fully and weighing every kind of
#: evidence on its own (no families, no corroboration limits): these tests exercise
#: verdicts, tiers and account types; families have their own tests.
POL = default_policy().model_copy(
    update={
        "verdict_weight": 1.0,
        "follow_verdict_action": True,
        "families": {},
        "corroboration": Corroboration(),
    }
)


def decide(ctx: RequestContext, view: StateView, policy: Any = None) -> Any:
    """The pure decision under :data:`POL` unless a test gives its own policy."""
    return _decide(ctx, view, policy if policy is not None else POL)


def _ctx(
    account: str = "a1", api: str = "openai.chat_completions", **body: object
) -> RequestContext:
    req = {"model": "frontier-1", "messages": [{"role": "user", "content": "hi"}], **body}
    return RequestContext(account_id=account, api=api, body=req, ts=NOW)


def _view(account_id: str = "a1", **kw: object) -> StateView:
    kw.setdefault("verdict_loaded_at", NOW - 60)
    return StateView(account_id=account_id, now=NOW, **kw)  # type: ignore[arg-type]


def _verdict(risk: float, action: str = "allow", account: str = "a1") -> Verdict:
    return Verdict(account_id=account, risk=risk, flagged=risk >= 0.5, action=action)  # type: ignore[arg-type]


def test_clean_account_is_allowed_with_no_reasons() -> None:
    d = decide(_ctx(), _view())
    assert d.action == "allow" and d.risk == 0.0 and d.reasons == []


def test_verdict_risk_maps_to_tiers_and_reasons_carry_contributions() -> None:
    d = decide(_ctx(), _view(verdict=_verdict(0.8, "degrade")))
    assert d.action == "degrade"
    assert d.reasons[0] == "verdict_flagged"
    assert d.contributions[0] == ("verdict_flagged", 0.8)
    assert decide(_ctx(), _view(verdict=_verdict(0.95, "block"))).action == "block"
    assert decide(_ctx(), _view(verdict=_verdict(0.4))).action == "monitor"


def test_decide_is_pure_same_input_same_output_and_nothing_mutated() -> None:
    ctx = _ctx(max_tokens=9000, n=3)
    view = _view(verdict=_verdict(0.8, "degrade"), evidence=[Evidence("campaign_ip", "1.2.3.0/24")])
    before = (copy.deepcopy(ctx.body), copy.deepcopy(view))
    a, b = decide(ctx, view), decide(ctx, view)
    assert a == b
    assert (ctx.body, view) == before


def test_default_policy_treats_a_verdict_alone_as_evidence_not_a_sentence() -> None:
    d = _decide(_ctx(), _view(verdict=_verdict(0.9, "block")), default_policy())
    assert d.action == "monitor" and d.reasons == ["verdict_flagged"]
    corroborated = _view(verdict=_verdict(0.9, "block"), evidence=[Evidence("banned_link", "pm_1")])
    assert _decide(_ctx(), corroborated, default_policy()).action in ("degrade", "block")


def test_an_all_but_certain_verdict_counts_in_full() -> None:
    pol = default_policy()
    assert pol.verdict_full_weight_from == 0.95
    sure = _decide(_ctx(), _view(verdict=_verdict(0.99, "block")), pol)
    assert sure.action == "block" and sure.risk >= 0.99 * 0.999
    unsure = _decide(_ctx(), _view(verdict=_verdict(0.94, "block")), pol)
    assert unsure.action == "monitor" and abs(unsure.risk - 0.94 * pol.verdict_weight) < 1e-9


def test_batch_indicators_do_not_count_twice_for_accounts_the_scan_judged() -> None:
    ev = [Evidence("campaign_ip", "10.0.0.0/24", detail="batch")]
    judged = decide(_ctx(), _view(verdict=_verdict(0.3), evidence=ev))
    assert "campaign_ip" not in judged.reasons
    unjudged = decide(_ctx(), _view(evidence=ev))
    assert unjudged.reasons == ["campaign_ip"]


def test_evidence_floor_and_noisy_or() -> None:
    d = decide(_ctx(), _view(evidence=[Evidence("banned_account", "banned")]))
    assert d.action == "block" and "banned_account" in d.reasons
    two = decide(
        _ctx(),
        _view(evidence=[Evidence("campaign_ip", "x"), Evidence("campaign_template", "t")]),
    )
    r_ip = POL.evidence["campaign_ip"].risk
    r_tpl = POL.evidence["campaign_template"].risk
    # look-alike evidence is correlated: together it adds at most the policy's cap
    assert two.risk == pytest.approx(min(1 - (1 - r_ip) * (1 - r_tpl), POL.look_alike_cap))
    with_link = decide(
        _ctx(),
        _view(evidence=[Evidence("campaign_ip", "x"), Evidence("banned_link", "pm")]),
    )
    r_link = POL.evidence["banned_link"].risk
    assert with_link.risk == pytest.approx(1 - (1 - min(r_ip, POL.look_alike_cap)) * (1 - r_link))


def test_allowlist_wins_over_everything() -> None:
    pol = parse_policy(
        "tiers: [{name: low, min_risk: 0.0, action: allow}, {name: hi, min_risk: 0.5, action: block}]\n"
        "throttle: {from_tier: hi}\nallowlist: {orgs: [org_ok]}\n"
    )
    ctx = _ctx()
    ctx.org_id = "org_ok"
    d = decide(ctx, _view(verdict=_verdict(0.99, "block")), pol)
    assert d.action == "allow" and d.reasons == ["allowlisted"]


@pytest.mark.parametrize("kind", ["education", "research", "startup"])
def test_programme_accounts_get_verify_before_block(kind: str) -> None:
    acct = AccountRecord("a1", account_type=kind)
    first = decide(_ctx(), _view(account=acct, verdict=_verdict(0.95, "block")))
    assert first.action == "verify" and "step_up" in first.reasons
    assert first.ttl_s == POL.ttl.challenge_s
    still_open = _view(account=acct, verdict=_verdict(0.95, "block"), challenge_since=NOW - 60)
    assert decide(_ctx(), still_open).action == "verify"
    expired = _view(
        account=acct,
        verdict=_verdict(0.95, "block"),
        challenge_since=NOW - POL.ttl.challenge_s - 1,
    )
    late = decide(_ctx(), expired)
    assert late.action == "block" and "challenge_expired" in late.reasons


def test_enterprise_under_contract_is_capped_at_monitor_with_an_alert() -> None:
    kyb = AccountRecord("a1", account_type="enterprise", verification="kyb")
    d = decide(_ctx(), _view(account=kyb, verdict=_verdict(0.99, "block")))
    assert d.action == "monitor" and d.alert and "capped:enterprise" in d.reasons
    no_contract = AccountRecord("a1", account_type="enterprise", verification="email")
    assert (
        decide(_ctx(), _view(account=no_contract, verdict=_verdict(0.99, "block"))).action
        == "block"
    )


def test_rate_limits_throttle_with_a_retry_after() -> None:
    lim = POL.throttle
    busy = _view(window_requests=lim.requests, window_reset_s=12.3)
    d = decide(_ctx(), busy)
    assert d.action == "throttle" and d.retry_after_s == 13 and "rate_limit" in d.reasons
    elevated = _view(
        verdict=_verdict(0.72), window_requests=lim.flagged_requests, window_reset_s=0.2
    )
    e = decide(_ctx(), elevated)
    assert e.action == "throttle" and e.retry_after_s == lim.retry_after_min_s
    assert decide(_ctx(), _view(verdict=_verdict(0.72), window_requests=1)).action == "monitor"


def test_a_stale_verdict_is_ignored() -> None:
    stale = _view(verdict=_verdict(0.95, "block"), verdict_loaded_at=NOW - POL.ttl.verdict_s - 1)
    assert decide(_ctx(), stale).action == "allow"


def test_sticky_enforcement_holds_until_its_ttl() -> None:
    enf = Enforcement("block", NOW - 10, NOW + 100, ("verdict_flagged",))
    assert decide(_ctx(), _view(enforcement=enf)).action == "block"
    old = Enforcement("block", NOW - 200, NOW - 100, ())
    assert decide(_ctx(), _view(enforcement=old)).action == "allow"


def test_degrade_gives_the_concrete_openai_rewrite() -> None:
    pol = parse_policy(
        "tiers: [{name: low, min_risk: 0.0, action: allow}, {name: hi, min_risk: 0.5, action: degrade}]\n"
        "throttle: {from_tier: hi}\ndegrade: {max_tokens: 512, route_models: {frontier-1: small-1}}\n"
    )
    ctx = _ctx(
        max_completion_tokens=8000, n=4, logprobs=True, top_logprobs=5, reasoning_effort="high"
    )
    d = decide(ctx, _view(verdict=_verdict(0.7)), pol)
    assert d.action == "degrade" and d.rewrite is not None
    out = apply_rewrite(ctx.body, ctx.api, d.rewrite)
    assert out["max_completion_tokens"] == 512 and out["n"] == 1 and out["model"] == "small-1"
    assert "logprobs" not in out and "top_logprobs" not in out and "reasoning_effort" not in out
    assert ctx.body["n"] == 4  # the input is not modified


def test_degrade_drops_anthropic_thinking_and_keeps_small_requests() -> None:
    ctx = _ctx(
        api="anthropic.messages",
        max_tokens=16000,
        thinking={"type": "enabled", "budget_tokens": 9000},
    )
    d = decide(ctx, _view(verdict=_verdict(0.8, "degrade")))
    assert d.rewrite is not None
    out = apply_rewrite(ctx.body, ctx.api, d.rewrite)
    assert "thinking" not in out and out["max_tokens"] == POL.degrade.max_tokens
    small = _ctx(max_tokens=100)
    d2 = decide(small, _view(verdict=_verdict(0.8, "degrade")))
    assert d2.rewrite is not None and d2.rewrite.max_tokens is None  # already under the cap


def test_fail_open_and_fail_closed() -> None:
    down = _view(unavailable=True)
    assert decide(_ctx(), down).action == "allow"
    closed = POL.model_copy(update={"fail_mode": "closed"})
    assert default_policy().fail_mode == "open"
    d = decide(_ctx(), down, closed)
    assert d.action == "throttle" and d.retry_after_s and d.reasons == ["state_unavailable"]


def test_online_rules_need_every_condition_and_enough_events() -> None:
    pol = parse_policy(
        "tiers: [{name: low, min_risk: 0.0, action: allow}, {name: hi, min_risk: 0.5, action: degrade}]\n"
        "throttle: {from_tier: hi}\n"
        "online_rules:\n"
        "  - {reason: sweep, risk: 0.7, min_events: 5, when: [{feature: a, value: 0.5}, {feature: b, op: '<', value: 2}]}\n"
    )
    hit = decide(_ctx(), _view(features={"a": 0.9, "b": 1.0}, events=5), pol)
    assert hit.action == "degrade" and hit.reasons == ["sweep"]
    assert decide(_ctx(), _view(features={"a": 0.9, "b": 3.0}, events=5), pol).action == "allow"
    assert decide(_ctx(), _view(features={"a": 0.9}, events=5), pol).action == "allow"
    assert decide(_ctx(), _view(features={"a": 0.9, "b": 1.0}, events=4), pol).action == "allow"


def test_decision_row_matches_the_decisions_contract() -> None:
    d = decide(_ctx(), _view(verdict=_verdict(0.8, "degrade")))
    row = d.to_row("ex1", "a1", NOW)
    assert row.exchange_id == "ex1" and row.action == "degrade" and row.reasons == d.reasons
    assert row.timestamp.timestamp() == NOW
