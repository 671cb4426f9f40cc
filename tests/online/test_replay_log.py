"""replay: a log in time order through decide then observe; decisions.csv per exchange."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from dg_policy_helpers import strict_policy_file
from distillguard.cli import main
from distillguard.contracts import Verdict, read_decisions, write_verdicts
from distillguard.online.setup import build_enforcer
from distillguard.replay import replay
from distillguard.serve import create_app


def _rec(i: int, account: str, minute: int) -> dict[str, Any]:
    bad = account == "acct_bad"
    return {
        "id": f"ex_{i:03d}",
        "timestamp": f"2026-03-03T10:{minute:02d}:00Z",
        "account_id": account,
        "client": {
            "ip": f"198.51.100.{i}" if bad else "203.0.113.10",
            "user_agent": "OpenAI/Python 2.1.0" if bad else "Mozilla/5.0",
        },
        "api": "openai.chat_completions",
        "request": {
            "model": "frontier-1",
            "messages": [
                {
                    "role": "user",
                    "content": f"Solve step by step: task {i}" if bad else "Plan a picnic menu.",
                }
            ],
        },
        "response": {"status": 200, "usage": {"prompt_tokens": 10, "completion_tokens": 50}},
    }


def _log(tmp: Path) -> tuple[Path, Path]:
    recs = [_rec(i, "acct_bad" if i % 3 == 0 else "acct_ok", 59 - i) for i in range(30)]
    log = tmp / "logs" / "exchanges.jsonl"
    log.parent.mkdir()
    lines = [json.dumps(r) for r in recs]
    lines.insert(5, "{broken json")
    log.write_text("\n".join(lines) + "\n")
    scan = tmp / "scan"
    write_verdicts(
        scan / "verdicts.csv",
        [Verdict(account_id="acct_bad", risk=0.95, flagged=True, action="block")],
    )
    return log, scan


def test_replay_in_process_writes_one_decision_per_exchange_in_time_order(tmp_path: Path) -> None:
    log, scan = _log(tmp_path)
    enforcer, _ = build_enforcer(verdicts=scan, policy=strict_policy_file(tmp_path))
    summary = replay(log, tmp_path / "out", enforcer=enforcer)
    assert summary.exchanges == 30 and summary.rejected == 1
    rows = list(read_decisions(tmp_path / "out" / "decisions.csv"))
    assert len(rows) == 30 and len({r.exchange_id for r in rows}) == 30
    assert [r.timestamp for r in rows] == sorted(r.timestamp for r in rows)
    assert {r.action for r in rows if r.account_id == "acct_bad"} == {"block"}
    assert {r.action for r in rows if r.account_id == "acct_ok"} <= {"allow", "monitor"}
    # observe ran after each decision: the online state saw every exchange
    ctx_view = enforcer.state.view  # type: ignore[attr-defined]
    from distillguard.online import RequestContext

    assert ctx_view(RequestContext.from_native(_rec(1, "acct_ok", 0)), time.time()).events == 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_replay_over_http_matches_in_process(tmp_path: Path) -> None:
    log, scan = _log(tmp_path)
    local = replay(
        log,
        tmp_path / "local",
        enforcer=build_enforcer(verdicts=scan, policy=strict_policy_file(tmp_path))[0],
    )
    enforcer, watcher = build_enforcer(verdicts=scan, policy=strict_policy_file(tmp_path))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(enforcer, watcher=watcher), host="127.0.0.1", port=port, log_level="error"
        )
    )
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    try:
        while not server.started:
            time.sleep(0.02)
        code = main(
            [
                "replay",
                str(log),
                "--out",
                str(tmp_path / "http"),
                "--service",
                f"http://127.0.0.1:{port}",
            ]
        )
        assert code == 0
    finally:
        server.should_exit = True
        th.join(timeout=10)
    a = [(r.exchange_id, r.action) for r in read_decisions(tmp_path / "local" / "decisions.csv")]
    b = [(r.exchange_id, r.action) for r in read_decisions(tmp_path / "http" / "decisions.csv")]
    assert a == b and local.exchanges == 30
