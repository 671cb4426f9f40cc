"""A fresh account that resembles an enforced one is degraded from its first request."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillguard.online import AccountRecord, MemoryState, RequestContext
from distillguard.online.decide import decide
from distillguard.online.engine import Enforcer
from distillguard.online.state import Evidence, StateView
from distillguard.policy import PolicyError, default_policy, load_policy, parse_policy

DAY = 86400.0
NOW = 1_780_000_000.0


def _ctx(account: str, ip: str = "198.51.100.4") -> RequestContext:
    return RequestContext.from_native(
        {
            "account_id": account,
            "timestamp": NOW,
            "api": "openai.chat_completions",
            "client": {"ip": ip, "user_agent": "python-httpx/0.27"},
            "request": {"model": "m", "messages": [{"role": "user", "content": "hello"}]},
        }
    )


def _view(age_days: float | None, evidence: list[Evidence]) -> StateView:
    created = None if age_days is None else NOW - age_days * DAY
    return StateView(
        account_id="acct_x",
        now=NOW,
        account=AccountRecord("acct_x", account_type="individual", created_at=created),
        evidence=evidence,
    )


IP = Evidence("campaign_ip", "198.51.100.0/24", campaign_id="c1", detail="online")
CLIENT = Evidence("campaign_client", "fp", campaign_id="c1", detail="online")
TEMPLATE = Evidence("campaign_template", "t", campaign_id="c1", detail="online")


def test_fresh_account_on_an_enforced_address_is_degraded_at_once() -> None:
    d = decide(_ctx("acct_x"), _view(2, [IP]), default_policy())
    assert d.action == "degrade"
    assert "new_account_look_alike" in d.reasons and d.rewrite is not None


def test_old_account_on_the_same_address_is_only_monitored() -> None:
    d = decide(_ctx("acct_x"), _view(400, [IP]), default_policy())
    assert d.action == "monitor" and "new_account_look_alike" not in d.reasons


def test_fresh_account_without_look_alike_or_with_only_a_template_is_left_alone() -> None:
    assert decide(_ctx("acct_x"), _view(1, []), default_policy()).action == "allow"
    d = decide(_ctx("acct_x"), _view(1, [TEMPLATE]), default_policy())
    assert "new_account_look_alike" not in d.reasons and d.action in ("allow", "monitor")


def test_unknown_age_never_counts_as_new() -> None:
    d = decide(_ctx("acct_x"), _view(None, [IP, CLIENT]), default_policy())
    assert "new_account_look_alike" not in d.reasons


def test_rule_can_be_switched_off_and_bad_values_name_the_key(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "src/distillguard/policy/default.yaml").read_text()
    off = parse_policy(text.replace("max_age_days: 30", "max_age_days: 0"))
    assert decide(_ctx("acct_x"), _view(2, [IP]), off).action == "monitor"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("max_age_days: 30", "max_age_days: -3"))
    with pytest.raises(PolicyError) as ei:
        load_policy(bad)
    assert "new_accounts" in str(ei.value) and ei.value.line is not None


def test_replacement_is_degraded_on_its_first_request_through_the_state() -> None:
    """End to end: an enforced account lends its address; a fresh one arriving there is hit."""
    state = MemoryState()
    state.load_accounts(
        [
            AccountRecord("acct_banned", status="banned", created_at=NOW - 90 * DAY),
            AccountRecord("acct_new", account_type="individual", created_at=NOW - 1 * DAY),
            AccountRecord("acct_old", account_type="individual", created_at=NOW - 900 * DAY),
        ]
    )
    enf = Enforcer(state, default_policy())
    assert enf.decide(_ctx("acct_banned", ip="203.0.113.50")).action == "block"
    new = enf.decide(_ctx("acct_new", ip="203.0.113.50"))
    old = enf.decide(_ctx("acct_old", ip="203.0.113.50"))
    assert new.action == "degrade" and "new_account_look_alike" in new.reasons
    assert old.action == "monitor"


def test_registry_age_survives_the_redis_backend(redis_server: object) -> None:
    from distillguard.online.redis_state import RedisState

    state = RedisState(redis_server.url)  # type: ignore[attr-defined]
    try:
        state.load_accounts([AccountRecord("acct_r", created_at=NOW - 3 * DAY)])
        view = state.view(_ctx("acct_r"), NOW)
        assert view.account is not None and view.account.created_at == NOW - 3 * DAY
    finally:
        state.close()
