"""The service decides with the same per-request signals as replay and the batch code."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from distillguard.contracts import Verdict, write_verdicts
from distillguard.online.engine import default_batch_signals
from distillguard.online.setup import build_enforcer
from distillguard.serve import create_app

TEMPLATE = (
    "You are an expert data analyst. Use the provided tools to load the table, compute "
    "the requested statistics step by step, and report the final numbers as JSON. "
    "Dataset item {item}: quarterly revenue by region for the retail chain. Return the "
    "answer as a JSON object with keys region and growth, and explain each step you took."
)


def _rec(account: str, prompt: str, ip: str, i: int = 0) -> dict[str, Any]:
    return {
        "id": f"ex_{account}_{i}",
        "timestamp": 1_772_500_000.0 + i,
        "account_id": account,
        "api": "openai.chat_completions",
        "client": {
            "ip": ip,
            "user_agent": "OpenAI/Python 1.40.0",
            "headers": {"x-stainless-lang": "python", "x-stainless-os": "Linux"},
        },
        "request": {"model": "frontier-1", "messages": [{"role": "user", "content": prompt}]},
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def _client(tmp_path: Path) -> tuple[TestClient, Any, list[dict[str, Any]]]:
    folder = tmp_path / "scan"
    write_verdicts(
        folder / "verdicts.csv",
        [Verdict(account_id="acct_bad", risk=0.97, flagged=True, action="block")],
    )
    policy = tmp_path / "policy.yaml"
    from importlib import resources

    text = resources.files("distillguard.policy").joinpath("default.yaml").read_text()
    policy.write_text(
        text.replace("verdict_weight: 0.5", "verdict_weight: 1.0").replace(
            "follow_verdict_action: false", "follow_verdict_action: true"
        )
    )
    enforcer, watcher = build_enforcer(verdicts=folder, policy=policy)
    assert enforcer.signals is not None, "the service must decide with request-time signals"
    seen: list[dict[str, Any]] = []
    inner = enforcer.signals

    def recording(record: dict[str, Any]) -> dict[str, Any]:
        out = inner(record)
        seen.append(out)
        return out

    enforcer.signals = recording
    app = create_app(enforcer, watcher=watcher, observe_every_s=0.05)
    return TestClient(app), enforcer, seen


def test_service_signals_equal_the_batch_signals_of_the_same_exchange(tmp_path: Path) -> None:
    client, _enf, seen = _client(tmp_path)
    rec = _rec("acct_a", TEMPLATE.format(item=7), "198.51.100.23")
    with client:
        assert client.post("/v1/decide", json=rec).status_code == 200
    assert len(seen) == 1
    online = seen[0]
    batch = default_batch_signals()([rec])[0]
    # the request-time subset (address, client, template, shape): every value is the batch's
    assert set(online) <= set(batch)
    assert [k for k in online if not _same(online[k], batch[k])] == []
    needed = {"ip_prefix", "is_hosting", "client_fp", "template_id", "templated"}
    needed |= {"template_frame", "template_head", "system_hash", "shape_fp", "asn"}
    assert needed <= set(online)
    assert online["template_id"] and online["client_fp"]


def test_observe_after_a_subset_decide_still_has_the_content_features(tmp_path: Path) -> None:
    from distillguard.online import RequestContext

    _c, enf, _seen = _client(tmp_path)
    rec = _rec("acct_obs", TEMPLATE.format(item=3), "198.51.100.23")
    ctx = RequestContext.from_native(rec)
    enf.decide(ctx)
    enf.observe(ctx, {"status": 200, "usage": {"prompt_tokens": 50, "completion_tokens": 700}})
    feats = enf.state.view(ctx, rec["timestamp"] + 1).features
    assert feats["capability_top_share"] == 1.0  # capability detector ran at observe
    assert feats["output_tokens"] == 700


def test_template_of_an_enforced_account_is_evidence_over_http(tmp_path: Path) -> None:
    client, _enf, _seen = _client(tmp_path)
    with client:
        bad = client.post("/v1/decide", json=_rec("acct_bad", TEMPLATE.format(item=1), "192.0.2.1"))
        assert bad.json()["action"] == "block"
        # a fresh account, another address, the same template with another item
        twin = client.post(
            "/v1/decide", json=_rec("acct_twin", TEMPLATE.format(item=2), "198.51.100.77")
        ).json()
        assert "campaign_template" in twin["reasons"]


def test_a_short_common_prompt_is_never_a_campaign_template(tmp_path: Path) -> None:
    """The root cause of the look-alike escalation: 'hi' from a blocked account."""
    client, _enf, _seen = _client(tmp_path)
    with client:
        client.post("/v1/decide", json=_rec("acct_bad", "hi", "192.0.2.1"))
        other = client.post("/v1/decide", json=_rec("acct_other", "hi", "198.51.100.77")).json()
    assert "campaign_template" not in other["reasons"]
    assert other["action"] == "allow"


def test_raw_body_routes_report_fields_like_fastapi(tmp_path: Path) -> None:
    client, _enf, _seen = _client(tmp_path)
    with client:
        r = client.post("/v1/decide?enforce=maybe", json=_rec("acct_a", "hi", "192.0.2.1"))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "enforce"]
        r = client.post("/v1/observe", json={"account_id": "a", "client": {"ip": 5}})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "client", "ip"]
        spec = client.get("/openapi.json").json()
        body = spec["paths"]["/v1/decide"]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["$ref"] == "#/components/schemas/DecideRequest"
        assert "account_id" in spec["components"]["schemas"]["DecideRequest"]["properties"]
