"""The LiteLLM guardrail inside a REAL LiteLLM proxy, with a fake upstream on loopback.

The proxy runs from its own environment (``.venv/litellm-proxy``, made by ``make
install`` from the ``litellm`` extra; or ``DISTILLGUARD_LITELLM_BIN``) because
``litellm[proxy]`` pins versions of rich and polars that the main environment does not
use. Each action's effect is asserted: status, error body, and the request that reaches
the upstream.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from dg_litellm_harness import completion, free_port, proxy_env, running_proxy, send_json
from distillguard.contracts import Verdict, write_verdicts

pytestmark = [pytest.mark.server, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


class _Upstream(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        n = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        type(self).seen.append(body)
        send_json(self, completion(body.get("model", "x"), "fake answer", 11, 7))

    def log_message(self, *args: Any) -> None:
        pass


MASTER_KEY = "sk-" + secrets.token_hex(32)

POLICY = """
version: 1
name: litellm-test
tiers:
  - {name: low, min_risk: 0.0, action: allow}
  - {name: elevated, min_risk: 0.5, action: monitor}
  - {name: high, min_risk: 0.75, action: degrade}
  - {name: critical, min_risk: 0.9, action: block}
account_types:
  education: {step_up: true}
throttle: {window_s: 3600, requests: 1000, flagged_requests: 1, from_tier: elevated}
degrade: {max_tokens: 256, route_models: {frontier-1: small-1}}
"""


def _setup(tmp: Path) -> tuple[ThreadingHTTPServer, str, Path]:
    up = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    up_url = f"http://127.0.0.1:{up.server_address[1]}/v1"
    verdicts = tmp / "scan"
    write_verdicts(
        verdicts / "verdicts.csv",
        [
            Verdict(account_id="acct_block", risk=0.95, flagged=True, action="block"),
            Verdict(account_id="acct_edu", risk=0.95, flagged=True, action="block"),
            Verdict(account_id="acct_degrade", risk=0.8, flagged=True, action="degrade"),
            Verdict(account_id="acct_throttle", risk=0.72, flagged=True, action="monitor"),
        ],
    )
    (tmp / "accounts.jsonl").write_text(
        json.dumps({"account_id": "acct_edu", "account_type": "education"}) + "\n"
    )
    (tmp / "policy.yaml").write_text(POLICY)
    return up, up_url, verdicts


def _launch(
    tmp: Path, up_url: str, guardrail_extra: str, env_extra: dict[str, str]
) -> Iterator[str]:
    models = "\n".join(
        f"  - model_name: {m}\n    litellm_params: {{model: openai/{m}, api_base: {up_url}, "
        "api_key: sk-fake}"
        for m in ("frontier-1", "small-1")
    )
    (tmp / "config.yaml").write_text(
        f"model_list:\n{models}\n"
        "guardrails:\n"
        "  - guardrail_name: distillguard\n"
        "    litellm_params: {guardrail: distillguard.gateways.litellm_guardrail."
        f"DistillguardGuardrail, mode: pre_call, default_on: true{guardrail_extra}}}\n"
        "litellm_settings:\n"
        '  callbacks: ["distillguard.gateways.litellm_logger.distillguard_logger"]\n'
    )
    env = proxy_env(MASTER_KEY, **env_extra)
    with running_proxy(tmp, env) as base:
        yield base


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A LiteLLM proxy deciding in-process."""
    tmp = tmp_path_factory.mktemp("litellm")
    up, up_url, verdicts = _setup(tmp)
    env = {
        "DISTILLGUARD_POLICY": str(tmp / "policy.yaml"),
        "DISTILLGUARD_VERDICTS": str(verdicts),
        "DISTILLGUARD_ACCOUNTS": str(tmp / "accounts.jsonl"),
    }
    try:
        for base in _launch(tmp, up_url, "", env):
            yield base, _Upstream.seen
    finally:
        up.shutdown()


@pytest.fixture(scope="module")
def proxy_http(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, list[dict[str, Any]], Any]]:
    """A LiteLLM proxy asking a separate `distillguard serve` (api_base) and observing to it."""
    import uvicorn

    from distillguard.online.setup import build_enforcer
    from distillguard.serve import create_app

    tmp = tmp_path_factory.mktemp("litellm-http")
    up, up_url, verdicts = _setup(tmp)
    enforcer, watcher = build_enforcer(
        policy=tmp / "policy.yaml", verdicts=verdicts, accounts=tmp / "accounts.jsonl"
    )
    port = free_port()
    app = create_app(enforcer, watcher=watcher, observe_every_s=0.05)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        for base in _launch(tmp, up_url, f", api_base: {url}", {"DISTILLGUARD_URL": url}):
            yield base, _Upstream.seen, enforcer
    finally:
        server.should_exit = True
        th.join(timeout=10)
        up.shutdown()


def _chat(base: str, account: str, **extra: Any) -> httpx.Response:
    body = {
        "model": "frontier-1",
        "messages": [{"role": "user", "content": "Explain step by step how quicksort works."}],
        **extra,
    }
    return httpx.post(
        f"{base}/v1/chat/completions",
        json=body,
        headers={"x-distillguard-account": account, "authorization": f"Bearer {MASTER_KEY}"},
        timeout=30,
    )


def test_allow_passes_the_request_unchanged(proxy: Any) -> None:
    base, seen = proxy
    before = len(seen)
    r = _chat(base, "acct_clean", max_tokens=4000, n=2)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "fake answer"
    sent = seen[before]
    assert sent["model"] == "frontier-1"
    assert sent["max_tokens"] == 4000
    assert sent["n"] == 2


def test_block_is_a_403_with_an_openai_error_body(proxy: Any) -> None:
    base, seen = proxy
    before = len(seen)
    r = _chat(base, "acct_block")
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["type"] == "permission_denied"
    assert "not permitted" in err["message"]
    assert err["provider_specific_fields"]["distillguard"]["action"] == "block"
    assert len(seen) == before  # nothing reached the model


def test_education_account_gets_verification_before_block(proxy: Any) -> None:
    base, seen = proxy
    before = len(seen)
    r = _chat(base, "acct_edu")
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["provider_specific_fields"]["distillguard"]["code"] == "verification_required"
    assert r.headers["x-distillguard-action"] == "verify"
    assert len(seen) == before


def test_degrade_rewrites_the_request_that_reaches_the_model(proxy: Any) -> None:
    base, seen = proxy
    before = len(seen)
    r = _chat(base, "acct_degrade", max_tokens=8000, n=3, logprobs=True, top_logprobs=5)
    assert r.status_code == 200, r.text
    sent = seen[before]
    assert sent["model"] == "small-1"
    assert sent.get("max_tokens", sent.get("max_completion_tokens")) == 256
    assert sent.get("n", 1) == 1
    assert "logprobs" not in sent and "top_logprobs" not in sent


def test_throttle_is_a_429_with_retry_after(proxy: Any) -> None:
    base, seen = proxy
    first = _chat(base, "acct_throttle")
    assert first.status_code == 200, first.text
    before = len(seen)
    r = _chat(base, "acct_throttle")
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["type"] == "rate_limit_exceeded"
    assert len(seen) == before


def test_http_mode_decides_in_the_service_and_the_logger_observes(proxy_http: Any) -> None:
    base, seen, enforcer = proxy_http
    before = len(seen)
    blocked = _chat(base, "acct_block")
    assert blocked.status_code == 403, blocked.text
    assert blocked.json()["error"]["type"] == "permission_denied"
    r = _chat(base, "acct_degrade", max_tokens=8000, n=3)
    assert r.status_code == 200, r.text
    sent = seen[before]
    assert sent["model"] == "small-1" and sent.get("n", 1) == 1
    assert sent.get("max_tokens", sent.get("max_completion_tokens")) == 256
    ok = _chat(base, "acct_seen")
    assert ok.status_code == 200
    from distillguard.online import RequestContext

    ctx = RequestContext(account_id="acct_seen", api="openai.chat_completions", body={})
    deadline = time.time() + 20
    while time.time() < deadline and enforcer.state.view(ctx, time.time()).events == 0:
        time.sleep(0.2)
    view = enforcer.state.view(ctx, time.time())
    assert view.events == 1  # the CustomLogger fed /v1/observe with the served call
    assert view.features.get("output_tokens") == 7  # usage from the fake upstream
