"""Correlated evidence counts once, one family alone only monitors, blocks are graded."""

from __future__ import annotations

import pytest

from distillguard.contracts import Verdict
from distillguard.online import AccountRecord, Evidence, RequestContext, StateView
from distillguard.online.decide import decide
from distillguard.policy import PolicyError, default_policy, parse_policy

NOW = 1_790_000_000.0
DAY = 86400.0
POL = default_policy()


def _ctx() -> RequestContext:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8000}
    return RequestContext(account_id="a1", api="openai.chat_completions", body=body, ts=NOW)


def _view(
    *,
    evidence: list[Evidence] | None = None,
    verdict: Verdict | None = None,
    age_days: float | None = 900,
    account_type: str = "individual",
    features: dict[str, float] | None = None,
    events: int = 0,
) -> StateView:
    created = None if age_days is None else NOW - age_days * DAY
    return StateView(
        account_id="a1",
        now=NOW,
        account=AccountRecord("a1", account_type=account_type, created_at=created),
        verdict=verdict,
        verdict_loaded_at=NOW - 60,
        evidence=evidence or [],
        features=features or {},
        events=events,
    )


LINK = Evidence("banned_link", "pm_1", weight=1.0)
IP = Evidence("campaign_ip", "203.0.113.0/24", campaign_id="c1", detail="online")
FP = Evidence("campaign_fingerprint", "sys1", campaign_id="c1")
HARVEST = {"output_input_ratio": 30.0, "single_turn_share": 1.0}


def _returning_actor(risk: float = 0.9) -> Verdict:
    return Verdict(
        account_id="a1", risk=risk, flagged=True, action="degrade", reasons=["returning_actor"]
    )


def test_one_family_counts_once_and_alone_only_monitors() -> None:
    # the intel link, the scan's returning-actor verdict and the shared address all say
    # "linked to banned accounts": the strongest of them, not their noisy-or
    d = decide(_ctx(), _view(evidence=[LINK, IP], verdict=_returning_actor()), POL)
    assert d.risk == pytest.approx(POL.evidence["banned_link"].risk)
    assert d.action == "monitor" and "uncorroborated" in d.reasons
    # without families the same evidence added up to a block
    flat = POL.model_copy(update={"families": {}, "corroboration": type(POL.corroboration)()})
    assert decide(_ctx(), _view(evidence=[LINK, IP], verdict=_returning_actor()), flat).action in (
        "degrade",
        "block",
    )


def test_a_verdict_below_its_threshold_is_not_pushed_up_by_its_own_online_echo() -> None:
    unsure = Verdict(account_id="a1", risk=0.8, flagged=True, action="degrade", reasons=["f:x"])
    alone = decide(_ctx(), _view(verdict=unsure), POL)
    echoed = decide(
        _ctx(), _view(verdict=unsure, features=HARVEST, events=40), POL
    )  # the online behaviour rule measures what the scan's behaviour verdict did
    assert alone.action == echoed.action == "monitor"
    assert "long_answers_to_short_prompts" in echoed.reasons
    assert echoed.risk == pytest.approx(max(0.8 * POL.verdict_weight, 0.75))


def test_a_behaviour_rule_alone_never_goes_past_monitor() -> None:
    rules = {"output_input_ratio": 30.0, "single_turn_share": 1.0, "ip_churn": 1.0}
    d = decide(_ctx(), _view(features=rules, events=50), POL)
    assert "long_answers_to_short_prompts" in d.reasons and "address_rotation" in d.reasons
    assert d.action in ("monitor", "throttle")


def test_two_independent_families_degrade_three_block() -> None:
    fresh = decide(_ctx(), _view(evidence=[LINK], age_days=3), POL)
    assert fresh.action == "degrade" and "new_account_look_alike" in fresh.reasons
    assert "graded" in fresh.reasons  # its risk reached the block tier: graded to degrade
    assert fresh.rewrite is not None and fresh.rewrite.to_dict()
    three = decide(_ctx(), _view(evidence=[LINK], age_days=3, features=HARVEST, events=20), POL)
    assert three.action == "block"


def test_step_up_before_block_for_education_accounts() -> None:
    edu = _view(evidence=[LINK], age_days=3, features=HARVEST, events=20, account_type="education")
    assert decide(_ctx(), edu, POL).action == "verify"


def test_decisive_evidence_needs_no_corroboration() -> None:
    banned = decide(_ctx(), _view(evidence=[Evidence("banned_account", "banned")]), POL)
    assert banned.action == "block"
    sure = Verdict(account_id="a1", risk=0.99, flagged=True, action="block", reasons=["f:x"])
    assert decide(_ctx(), _view(verdict=sure), POL).action == "block"
    actor = decide(_ctx(), _view(evidence=[Evidence("known_actor", "LAB-A")]), POL)
    assert actor.action == "block"


def test_fresh_account_with_a_campaign_fingerprint_is_degraded_old_one_monitored() -> None:
    new = decide(_ctx(), _view(evidence=[FP], age_days=2), POL)
    assert new.action == "degrade" and new.campaign_id == "c1"
    old = decide(_ctx(), _view(evidence=[FP], age_days=400), POL)
    assert old.action == "monitor"
    # a fresh account with no evidence at all is served
    assert decide(_ctx(), _view(age_days=1), POL).action == "allow"


def test_enterprise_under_contract_is_never_blocked_by_corroborated_evidence() -> None:
    view = _view(evidence=[LINK], age_days=3, features=HARVEST, events=20)
    view.account = AccountRecord(
        "a1", account_type="enterprise", verification="kyb", created_at=NOW - 3 * DAY
    )
    d = decide(_ctx(), view, POL)
    assert d.action == "monitor" and d.alert


def test_a_kind_in_two_families_fails_at_load_with_line_and_key() -> None:
    text = (
        "tiers: [{name: low, min_risk: 0.0, action: allow}]\n"
        "throttle: {from_tier: low}\n"
        "families:\n"
        "  link: [banned_link, campaign_ip]\n"
        "  net: [campaign_ip]\n"
    )
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "p.yaml")
    msg = str(err.value)
    assert "p.yaml:3" in msg and "families" in msg and "campaign_ip" in msg


def test_corroboration_keys_are_validated() -> None:
    text = (
        "tiers: [{name: low, min_risk: 0.0, action: allow}]\n"
        "throttle: {from_tier: low}\n"
        "corroboration: {single_family_max: smite}\n"
    )
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "p.yaml")
    assert "p.yaml:3" in str(err.value) and "corroboration.single_family_max" in str(err.value)


def test_a_weak_look_alike_does_not_corroborate_a_behaviour_rule() -> None:
    tpl = Evidence("campaign_template", "t1", campaign_id="c1", detail="online")
    weak = decide(_ctx(), _view(evidence=[tpl], features=HARVEST, events=20), POL)
    assert POL.evidence["campaign_template"].risk < POL.corroboration.family_min_risk
    assert weak.action == "monitor" and "uncorroborated" in weak.reasons
    strong = decide(_ctx(), _view(evidence=[IP], features=HARVEST, events=20), POL)
    assert POL.evidence["campaign_ip"].risk >= POL.corroboration.family_min_risk
    assert strong.action == "degrade"


def test_a_campaign_fingerprint_does_not_echo_the_scans_own_verdict_back() -> None:
    fp = Evidence("campaign_fingerprint", "build", campaign_id="c1", detail="batch: client_fp")
    unsure = Verdict(account_id="a1", risk=0.75, flagged=True, campaign_id="c1", reasons=["x"])
    judged = decide(_ctx(), _view(evidence=[fp], verdict=unsure, age_days=20), POL)
    assert "campaign_fingerprint" not in judged.reasons and judged.action == "monitor"
    unjudged = decide(_ctx(), _view(evidence=[fp], age_days=20), POL)
    assert "campaign_fingerprint" in unjudged.reasons and unjudged.action == "degrade"
