"""The lean ASGI path of /v1/decide and /v1/observe answers exactly as the FastAPI routes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from distillguard.contracts import Verdict, write_verdicts
from distillguard.online.setup import build_enforcer
from distillguard.serve import create_app
from distillguard.serve import fast as lean

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dg_policy_helpers import strict_policy_file

BAD_BODIES: list[Any] = [
    {"account_id": "", "api": "openai.chat_completions"},
    {"account_id": "a", "api": "gemini"},
    {"account_id": "a", "client": {"ip": 7}},
    {"account_id": "a", "timestamp": "yesterday-ish"},
    b"{not json",
]


def _req(account: str, **extra: Any) -> dict[str, Any]:
    return {
        "account_id": account,
        "timestamp": 1_790_000_000.0,
        "client": {"ip": "203.0.113.9", "user_agent": "OpenAI/Python 2.1.0"},
        "request": {
            "model": "frontier-1",
            "max_tokens": 9000,
            "n": 3,
            "messages": [{"role": "user", "content": "Explain lists in Python."}],
        },
        **extra,
    }


def _app(tmp_path: Path) -> FastAPI:
    folder = tmp_path / "scan"
    write_verdicts(
        folder / "verdicts.csv",
        [
            Verdict(account_id="acct_block", risk=0.99, flagged=True, action="block"),
            Verdict(account_id="acct_degrade", risk=0.8, flagged=True, action="degrade"),
        ],
    )
    enforcer, watcher = build_enforcer(verdicts=folder, policy=strict_policy_file(tmp_path))
    return create_app(enforcer, watcher=watcher)


def _through_fastapi(app: FastAPI) -> Any:
    """The same app with the lean path bypassed: every request takes FastAPI's routes."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        await FastAPI.__call__(app, scope, receive, send)

    return asgi


def _exchange(client: TestClient) -> list[tuple[int, dict[str, str], Any]]:
    out = []
    calls: list[tuple[str, Any]] = [
        ("/v1/decide", _req("acct_clean")),
        ("/v1/decide", _req("acct_block")),
        ("/v1/decide?enforce=true", _req("acct_block", api="anthropic.messages")),
        ("/v1/decide?enforce=1&enforce=no", _req("acct_block")),
        ("/v1/decide", _req("acct_degrade")),
        ("/v1/decide?enforce=maybe", _req("acct_clean")),
        ("/v1/observe?sync=true", _req("acct_clean", response={"usage": {"completion_tokens": 9}})),
        ("/v1/observe?sync=perhaps", _req("acct_clean")),
        *(("/v1/decide", b) for b in BAD_BODIES),
        *(("/v1/observe", b) for b in BAD_BODIES),
    ]
    for path, body in calls:
        r = (
            client.post(path, content=body)
            if isinstance(body, bytes)
            else client.post(path, json=body)
        )
        keep = {k: v for k, v in r.headers.items() if k in ("retry-after", "x-distillguard-action")}
        out.append((r.status_code, keep | {"type": r.headers["content-type"]}, r.json()))
    return out


def test_lean_path_answers_as_the_fastapi_routes(tmp_path: Path) -> None:
    with TestClient(_app(tmp_path / "a")) as lean_client:
        fast = _exchange(lean_client)
    with TestClient(_through_fastapi(_app(tmp_path / "b"))) as slow_client:
        slow = _exchange(slow_client)
    assert fast == slow
    statuses = [s for s, _, _ in fast]
    assert statuses[:8] == [200, 200, 403, 200, 200, 422, 202, 422]
    assert fast[1][2]["action"] == "block" and fast[4][2]["action"] == "degrade"
    assert fast[4][2]["rewritten_request"]["n"] == 1
    assert fast[5][2]["detail"][0]["loc"] == ["query", "enforce"]
    assert fast[8][2]["detail"][0]["loc"] == ["body", "account_id"]
    assert fast[10][2]["detail"][0]["loc"] == ["body", "client", "ip"]
    assert all(s == 422 for s in statuses[8:])


def test_lean_path_counts_metrics_and_bounds_the_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path)
    with TestClient(app) as client:
        for _ in range(3):
            client.post("/v1/decide", json=_req("acct_block"))
        client.post("/v1/decide", json=_req("acct_clean"))
        text = client.get("/metrics").text
        assert 'distillguard_decisions_total{action="block"} 3.0' in text
        counts = {
            line.split('"')[1]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("distillguard_decisions_total{")
        }
        assert sum(counts.values()) == 4.0 and counts["block"] == 3.0
        assert "distillguard_decide_seconds_count 4.0" in text
        monkeypatch.setattr(lean, "MAX_BODY_BYTES", 64)

        def chunks() -> Any:
            yield b'{"account_id": "acct_clean", "request": {"messages": ['
            yield b'{"role": "user", "content": "' + b"x" * 200 + b'"}]}}'

        r = client.post("/v1/decide", content=chunks())
        assert r.status_code == 413
        monkeypatch.undo()
        # a handler that fails answers a plain 500 and the service keeps serving
        monkeypatch.setattr(app.state.core.enforcer, "decide", _boom)
        assert client.post("/v1/decide", json=_req("acct_clean")).status_code == 500
    spec = app.openapi()
    post = spec["paths"]["/v1/decide"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/DecideRequest"
    )
    assert (
        "DecideResponse"
        in post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    )


def _boom(*_a: Any, **_k: Any) -> Any:
    raise RuntimeError("state exploded")
