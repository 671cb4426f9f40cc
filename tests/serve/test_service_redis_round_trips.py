"""Redis state: one round trip per decision and per observed exchange, replicas sharing."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from distillguard.online import Enforcer, RequestContext
from distillguard.online.engine import default_signals
from distillguard.online.redis_state import RedisState
from distillguard.policy import default_policy

pytestmark = pytest.mark.server


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A fresh redis-server for one test."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed (scripts/system-deps.sh installs it)")
    port = _port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.time() + 10
    while True:
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield url
    finally:
        client.close()
        proc.kill()
        proc.wait()


class _Sends:
    """Counts what this process sends to Redis: one send per round trip (pipelines too)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        original = redis.connection.AbstractConnection.send_packed_command

        def counting(conn: Any, command: Any, check_health: bool = True) -> None:
            self.n += 1
            original(conn, command, check_health)

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)


def _ctx(account: str, i: int = 0, ip: str = "203.0.113.7") -> RequestContext:
    return RequestContext(
        account_id=account,
        api="openai.chat_completions",
        body={"model": "frontier-1", "messages": [{"role": "user", "content": f"q {i}"}]},
        ts=time.time(),
        client_ip=ip,
        api_key_id=f"key{i % 3}",
        user_agent="OpenAI/Python 2.1.0",
    )


def test_a_decision_and_an_observation_are_one_round_trip_each(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = RedisState(redis_url, timeout_s=2.0)
    enf = Enforcer(state, default_policy(), signals=default_signals())
    enf.decide(_ctx("warm"))  # connected and the scripts loaded once, not per call
    sends = _Sends(monkeypatch)
    for i in range(5):
        assert enf.decide(_ctx("u1", i)).action in ("allow", "monitor")
    assert sends.n == 5
    for i in range(5):
        enf.observe(_ctx("u1", i), {"status": 200, "usage": {"completion_tokens": 50}})
    assert sends.n == 10
    monkeypatch.undo()
    view = state.view(_ctx("u1", 9), time.time())
    assert view.window_requests == 5  # counted once each, by the decision's own call
    assert view.events == 5 and view.features["n_exchanges"] == 5
    assert view.distinct["api_key"] == 3


def test_replicas_interleaving_observations_lose_no_update(redis_url: str) -> None:
    a = RedisState(redis_url, timeout_s=2.0)
    b = RedisState(redis_url, timeout_s=2.0)
    sig = default_signals(None)
    resp = {"status": 200, "usage": {"prompt_tokens": 5, "completion_tokens": 100}}
    for i in range(12):
        ctx = _ctx("shared", i, ip=f"198.51.100.{i}")
        (a if i % 3 else b).observe(ctx, sig(ctx.to_native(resp)), ctx.ts)
    for st in (a, b):
        view = st.view(_ctx("shared", 99), time.time())
        assert view.events == 12 and view.features["n_exchanges"] == 12
        assert view.distinct["ip"] == 12
    raw = redis.Redis.from_url(redis_url).hget("dg:a:shared", "ver")
    assert raw is not None and int(raw) == 12


def test_state_written_before_versions_is_kept(redis_url: str) -> None:
    st = RedisState(redis_url, timeout_s=2.0)
    sig = default_signals(None)
    resp = {"status": 200, "usage": {"prompt_tokens": 5, "completion_tokens": 100}}
    ctx = _ctx("old", 0)
    st.observe(ctx, sig(ctx.to_native(resp)), ctx.ts)
    client = redis.Redis.from_url(redis_url)
    client.hdel("dg:a:old", "ver")  # as an earlier release left it: state, no version
    fresh = RedisState(redis_url, timeout_s=2.0)  # another replica, nothing cached
    ctx2 = _ctx("old", 1)
    fresh.observe(ctx2, sig(ctx2.to_native(resp)), ctx2.ts)
    feats: dict[str, Any] = orjson.loads(client.hget("dg:a:old", "feat") or b"{}")
    assert feats["n_exchanges"] == 2
