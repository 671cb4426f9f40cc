"""Redis state against a real redis-server: shared replicas, HyperLogLog, outages."""

from __future__ import annotations

import time
from typing import Any

import pytest

from distillguard.contracts import Campaign, InfrastructureIndicators, Verdict
from distillguard.online import AccountRecord, Enforcer, RequestContext
from distillguard.online.engine import default_batch_signals
from distillguard.online.redis_state import RedisState
from distillguard.policy import default_policy

pytestmark = pytest.mark.server

#: The default policy, but trusting scan verdicts fully (these tests drive actions by verdicts).
POL = default_policy().model_copy(update={"verdict_weight": 1.0, "follow_verdict_action": True})


def _ctx(
    account: str, ip: str = "203.0.113.7", ts: float | None = None, key: str = "k1"
) -> RequestContext:
    return RequestContext(
        account_id=account,
        api="openai.chat_completions",
        body={"model": "frontier-1", "messages": [{"role": "user", "content": "hi"}]},
        ts=ts if ts is not None else time.time(),
        client_ip=ip,
        api_key_id=key,
        user_agent="OpenAI/Python 2.0.0",
    )


RESPONSE = {"status": 200, "usage": {"prompt_tokens": 5, "completion_tokens": 100}}


def test_two_replicas_share_windows_features_and_enforcements(redis_server: Any) -> None:
    a = RedisState(redis_server.url, window_s=60)
    b = RedisState(redis_server.url, window_s=60)
    a.load_verdicts(
        [Verdict(account_id="bad", risk=0.95, flagged=True, campaign_id="c1", action="block")],
        [],
        time.time(),
    )
    ea = Enforcer(a, POL, batch_signals=default_batch_signals())
    eb = Enforcer(b, POL)
    now = time.time()
    for i in range(3):
        ctx = _ctx("u1", ip=f"198.51.100.{i}", ts=now + i, key=f"key{i}")
        ea.decide(ctx)
        ea.observe_many([(ctx, RESPONSE)])
    view = b.view(_ctx("u1", ts=now + 3), now + 3)
    assert view.window_requests == 3
    assert view.events == 3
    assert view.distinct["ip"] == 3 and view.distinct["api_key"] == 3  # HyperLogLog counts
    assert view.features.get("n_exchanges") == 3  # the shared feature definitions
    d = eb.decide(_ctx("bad", ts=now))
    assert d.action == "block"
    # the block is sticky and visible from the other replica, even without the verdict
    a.load_verdicts([], [], time.time())
    assert ea.decide(_ctx("bad", ts=now + 1)).action == "block"


def test_indicators_from_campaigns_and_registry_links(redis_server: Any) -> None:
    st = RedisState(redis_server.url)
    camp = Campaign(
        id="c9",
        members=["m1"],
        first_seen="2026-03-01T00:00:00Z",  # type: ignore[arg-type]
        last_seen="2026-03-02T00:00:00Z",  # type: ignore[arg-type]
        exchanges=10,
        output_tokens=1000,
        infrastructure=InfrastructureIndicators(
            ip_ranges=["192.0.2.0/24"], payment_fingerprints=["pm_campaign"]
        ),
    )
    st.load_verdicts([], [camp], time.time())
    st.load_accounts(
        [
            AccountRecord("banned1", status="banned", payment_fingerprint="pm_x"),
            AccountRecord("new1", payment_fingerprint="pm_x"),
            AccountRecord("new2", payment_fingerprint="pm_campaign"),
        ]
    )
    now = time.time()
    kinds = {e.kind for e in st.view(_ctx("new1", ts=now), now).evidence}
    assert "banned_link" in kinds
    v2 = st.view(_ctx("new2", ip="192.0.2.44", ts=now), now)
    assert {"shared_payment", "campaign_ip"} <= {e.kind for e in v2.evidence}
    assert {e.campaign_id for e in v2.evidence} == {"c9"}
    assert "banned_account" in {e.kind for e in st.view(_ctx("banned1", ts=now), now).evidence}


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_outage_follows_fail_mode_and_recovers_persisted_state(
    redis_server: Any, mode: str
) -> None:
    pol = POL.model_copy(update={"fail_mode": mode})
    st = RedisState(redis_server.url, timeout_s=0.2)
    enf = Enforcer(st, pol)
    st.load_verdicts(
        [Verdict(account_id="bad", risk=0.95, flagged=True, action="block")], [], time.time()
    )
    assert enf.decide(_ctx("bad")).action == "block"  # persisted as a sticky enforcement

    redis_server.kill()
    down = enf.decide(_ctx("bad"))
    assert down.reasons == ["state_unavailable"]
    assert down.action == ("allow" if mode == "open" else "throttle")
    assert not st.healthy()
    assert enf.state_errors >= 1

    redis_server.start()  # same data dir: the AOF is replayed
    assert st.healthy()
    st.load_verdicts([], [], time.time())  # even without the verdict, the block persisted
    back = enf.decide(_ctx("bad"))
    assert back.action == "block" and "enforced:block" in back.reasons
