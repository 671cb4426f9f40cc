"""The policy's ``mark`` section: which decisions carry the text-level watermark."""

from __future__ import annotations

import pytest

from distillguard.online.context import RequestContext
from distillguard.online.decide import decide
from distillguard.online.state import StateView
from distillguard.policy import PolicyError, parse_policy

BASE = """
version: 1
tiers:
  - {name: low, min_risk: 0.0, action: allow}
  - {name: high, min_risk: 0.5, action: degrade}
  - {name: critical, min_risk: 0.9, action: block}
evidence:
  campaign_ip: {risk: 0.6}
  banned_account: {risk: 1.0, min_action: block}
look_alike_cap: 1.0
allowlist: {accounts: [acct_vip]}
throttle: {from_tier: high}
"""


def _view(account: str, *kinds: str) -> StateView:
    from distillguard.online.state import Evidence

    return StateView(
        account_id=account,
        now=1000.0,
        evidence=[Evidence(kind=k, value="v", weight=1.0) for k in kinds],
    )


def _ctx(account: str) -> RequestContext:
    return RequestContext(account_id=account, api="openai.chat_completions", body={})


def test_marking_is_off_unless_the_policy_turns_it_on() -> None:
    pol = parse_policy(BASE)
    d = decide(_ctx("a"), _view("a", "campaign_ip"), pol)
    assert d.action == "degrade" and d.mark is None
    assert decide(_ctx("a"), _view("a"), pol).to_dict()["mark"] is None


def test_high_tier_is_marked_and_ordinary_customers_are_not() -> None:
    pol = parse_policy(BASE + "mark: {method: lexical, tiers: [high]}\n")
    risky = decide(_ctx("a"), _view("a", "campaign_ip"), pol)
    assert risky.tier == "high" and risky.mark == "lexical"
    assert risky.to_dict()["mark"] == "lexical"
    clean = decide(_ctx("b"), _view("b"), pol)
    assert clean.action == "allow" and clean.mark is None
    blocked = decide(_ctx("c"), _view("c", "banned_account"), pol)
    assert blocked.action == "block" and blocked.mark is None  # nothing served, nothing marked


def test_action_and_opt_in_select_marking() -> None:
    pol = parse_policy(
        BASE + "mark: {method: lexical, actions: [degrade], opt_in_accounts: [acct_vip, b]}\n"
    )
    assert decide(_ctx("a"), _view("a", "campaign_ip"), pol).mark == "lexical"
    assert decide(_ctx("b"), _view("b"), pol).mark == "lexical"  # asked for it
    vip = decide(_ctx("acct_vip"), _view("acct_vip"), pol)
    assert vip.reasons == ["allowlisted"] and vip.mark == "lexical"
    assert decide(_ctx("c"), _view("c"), pol).mark is None


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("mark: {method: lexical, tiers: [nope]}\n", "mark.tiers"),
        ("mark: {method: lexical, key_env: null}\n", "key_env or key_file"),
        ("mark: {method: synthid}\n", "method"),
        ("mark: {method: lexical, key: s3cret}\n", "key"),
    ],
)
def test_bad_mark_sections_fail_at_load_naming_the_key(extra: str, needle: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(BASE + extra, file="p.yaml")
    assert needle in str(err.value)
    assert "p.yaml" in str(err.value)
