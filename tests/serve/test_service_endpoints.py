"""The HTTP service: decisions, API-shaped refusals, observe, reload, metrics, Envoy."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from distillguard.contracts import Verdict, write_verdicts


def write_scan(folder: Path, verdicts: list[Verdict]) -> None:
    """Write verdicts.csv the way scan does."""
    write_verdicts(folder / "verdicts.csv", verdicts)


def _req(account: str, api: str = "openai.chat_completions", **body: Any) -> dict[str, Any]:
    return {
        "account_id": account,
        "api": api,
        "client": {"ip": "203.0.113.9", "user_agent": "OpenAI/Python 2.1.0"},
        "request": {"model": "frontier-1", "messages": [{"role": "user", "content": "hi"}], **body},
    }


def test_decide_returns_decision_refusal_and_rewrite(client: Any) -> None:
    ok = client.post("/v1/decide", json=_req("acct_clean"))
    assert ok.status_code == 200
    assert ok.json()["action"] == "allow" and ok.json()["refusal"] is None

    blocked = client.post("/v1/decide", json=_req("acct_block")).json()
    assert blocked["action"] == "block"
    assert blocked["refusal"]["status"] == 403
    assert blocked["refusal"]["body"]["error"]["code"] == "account_blocked"

    deg = client.post(
        "/v1/decide",
        json=_req(
            "acct_degrade",
            "anthropic.messages",
            max_tokens=9000,
            thinking={"type": "enabled", "budget_tokens": 4000},
        ),
    ).json()
    assert deg["action"] == "degrade"
    assert deg["rewrite"]["drop_thinking"] is True
    assert "thinking" not in deg["rewritten_request"]
    assert deg["rewritten_request"]["max_tokens"] == 1024


def test_enforce_mode_answers_with_the_callers_error_shape(client: Any) -> None:
    r = client.post("/v1/decide?enforce=true", json=_req("acct_block", "anthropic.messages"))
    assert r.status_code == 403
    assert r.json() == {
        "type": "error",
        "error": {"type": "permission_error", "message": r.json()["error"]["message"]},
    }
    pol = client.enforcer.policy
    busy = _req("acct_busy") | {"timestamp": (time.time() // 60) * 60 + 1.0}  # one window
    busy["client"] = {"ip": "192.0.2.50"}
    for _ in range(pol.throttle.requests):
        client.post("/v1/decide", json=busy)
    t = client.post("/v1/decide?enforce=true", json=busy)
    assert t.status_code == 429
    assert int(t.headers["retry-after"]) >= 1
    assert t.json()["error"]["type"] == "rate_limit_exceeded"


def test_bad_requests_are_422_with_the_field(client: Any) -> None:
    r = client.post("/v1/decide", json={"account_id": "", "api": "openai.chat_completions"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "account_id"]
    r = client.post("/v1/decide", content=b"{not json")
    assert r.status_code == 422
    r = client.post("/v1/decide", json={"account_id": "a", "api": "gemini"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "api"]


def test_observe_feeds_online_features(client: Any) -> None:
    rec = _req("acct_obs") | {
        "id": "ex1",
        "timestamp": "2026-03-03T03:14:58Z",
        "response": {"status": 200, "usage": {"prompt_tokens": 10, "completion_tokens": 500}},
    }
    r = client.post("/v1/observe?sync=true", json=rec)
    assert r.status_code == 202
    from distillguard.online import RequestContext

    view = client.enforcer.state.view(RequestContext.from_native(rec), time.time())
    assert view.events == 1 and view.features["output_tokens"] == 500


def test_verdicts_reload_on_file_change_and_on_request(client: Any, scan_dir: Path) -> None:
    assert client.post("/v1/decide", json=_req("acct_late")).json()["action"] == "allow"
    write_scan(scan_dir, [Verdict(account_id="acct_late", risk=0.97, flagged=True, action="block")])
    st = (scan_dir / "verdicts.csv").stat()
    os.utime(scan_dir / "verdicts.csv", (st.st_atime, st.st_mtime + 5))
    deadline = time.time() + 5
    while time.time() < deadline:
        if client.post("/v1/decide", json=_req("acct_late")).json()["action"] == "block":
            break
        time.sleep(0.05)
    assert client.post("/v1/decide", json=_req("acct_late")).json()["action"] == "block"
    write_scan(scan_dir, [])
    assert client.post("/v1/reload").json() == {"ok": True, "verdicts": 0}
    # the earlier block stays in force for its TTL: reloads never lift a running enforcement
    assert client.post("/v1/decide", json=_req("acct_late")).json()["action"] == "block"
    after = client.post("/v1/decide", json=_req("acct_degrade")).json()
    assert after["action"] in ("allow", "monitor") and "verdict_flagged" not in after["reasons"]


def test_health_and_prometheus_metrics(client: Any) -> None:
    h = client.get("/healthz")
    assert h.status_code == 200 and h.json()["state"] == "up" and h.json()["verdicts"] == 2
    client.post("/v1/decide", json=_req("acct_block"))
    text = client.get("/metrics").text
    assert 'distillguard_decisions_total{action="block"}' in text
    assert "distillguard_decide_seconds_bucket" in text


def test_verify_endpoint_lifts_the_challenge(client: Any) -> None:
    from distillguard.online import AccountRecord

    client.enforcer.state.load_accounts([AccountRecord("acct_edu", account_type="education")])
    write_scan(
        client.watcher.folder,
        [Verdict(account_id="acct_edu", risk=0.95, flagged=True, action="block")],
    )
    client.post("/v1/reload")
    assert client.post("/v1/decide", json=_req("acct_edu")).json()["action"] == "verify"
    assert client.post("/v1/verify", json={"account_id": "acct_edu"}).json()["ok"]
    # verified, still flagged critical: the step before a block has been taken
    assert client.post("/v1/decide", json=_req("acct_edu")).json()["action"] == "block"


def test_envoy_ext_authz_http_mode(client: Any) -> None:
    ok = client.post(
        "/envoy/authz/v1/chat/completions",
        headers={"x-distillguard-account": "acct_clean"},
        json={"model": "m"},
    )
    assert ok.status_code == 200 and ok.headers["x-distillguard-action"] == "allow"
    deg = client.post(
        "/envoy/authz/v1/chat/completions",
        headers={"x-distillguard-account": "acct_degrade"},
        json={"model": "m", "max_tokens": 5000, "n": 3},
    )
    assert deg.status_code == 200 and deg.headers["x-distillguard-action"] == "degrade"
    assert '"force_single_choice":true' in deg.headers["x-distillguard-rewrite"]
    blocked = client.post(
        "/envoy/authz/v1/messages", headers={"x-distillguard-account": "acct_block"}, json={}
    )
    assert blocked.status_code == 403 and blocked.json()["type"] == "error"
    anon = client.get("/envoy/authz/v1/models")
    assert anon.status_code == 401
    keyed = client.get("/envoy/authz/v1/models", headers={"authorization": "Bearer sk-secret"})
    assert keyed.status_code == 200  # the account is a keyed hash of the key, never the key
