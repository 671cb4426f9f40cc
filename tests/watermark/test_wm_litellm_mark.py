"""Policy-driven marking through a REAL LiteLLM proxy (guardrail post-call hooks).

A fake OpenAI upstream on loopback returns a fixed prose answer (plain or streamed). The
policy marks the ``high`` tier: that account's answer reaches the client marked and
``distillguard trace`` reports the key on it; an ordinary customer's answer is
byte-identical to what the upstream sent. Needs ``.venv/litellm-proxy`` (``make
install``), skipped otherwise.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from dg_litellm_harness import completion, proxy_env, running_proxy, send_json
from distillguard.cli import main
from distillguard.contracts import Verdict, write_verdicts
from distillguard.watermark.lexical import LexicalKey, detect_text

pytestmark = [pytest.mark.server, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MASTER = "sk-" + secrets.token_hex(16)
SECRET = "wm-proxy-test-" + secrets.token_hex(8)
KEY_VAR = "DG_TEST_MARK_KEY"

# prose with many distinct (context, pair) slots, as a chatty model writes it
ANSWER = (
    "Quicksort is often the main choice when we are sorting huge arrays. It begins by "
    "picking a pivot, and it is not difficult to see why that choice is important. The "
    "partition step quickly moves smaller items toward the left; it does not need extra "
    "memory, which is essential for large inputs. Perhaps the obvious worry is the worst "
    "case: it is rare but it cannot be ruled out entirely. Therefore we usually choose the "
    "pivot at random, which makes a bad split nearly impossible in practice. Moreover, the "
    "recursion is mainly shallow, and each call is roughly balanced. If you are careful "
    "you will find it is particularly fast on various kinds of data, and it eventually "
    "finished the whole array with appropriate effort. We do not recommend it when the "
    "data are mostly sorted already; it is certainly slower there. I am sure they are "
    "aware that it is not stable, so we will use merge sort whenever stability is vital. "
    "For example, a precise ordering of equal keys is sometimes a fundamental requirement, "
    "while the memory cost is usually sufficient reason to prefer quicksort. It allows "
    "in-place sorting and demonstrates good cache behaviour. We calculated that it is "
    "significantly faster and slightly simpler, and we bought nothing extra to get it."
)


class _Upstream(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        n = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        if body.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            words = ANSWER.split(" ")
            pieces = [" ".join(words[i : i + 7]) for i in range(0, len(words), 7)]
            pieces = [p if i == 0 else " " + p for i, p in enumerate(pieces)]
            for i, piece in enumerate([*pieces, None]):
                chunk = {
                    "id": "chatcmpl-s",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model", "x"),
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"content": piece} if piece else {},
                            "finish_reason": None if piece else "stop",
                        }
                    ],
                }
                if i == 0:
                    chunk["choices"][0]["delta"]["role"] = "assistant"
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            return
        send_json(self, completion(body.get("model", "x"), ANSWER, 11, 300))

    def log_message(self, *args: Any) -> None:
        pass


POLICY = f"""
version: 1
name: mark-test
tiers:
  - {{name: low, min_risk: 0.0, action: allow}}
  - {{name: high, min_risk: 0.5, action: monitor}}
  - {{name: critical, min_risk: 0.95, action: block}}
throttle: {{from_tier: high}}
mark: {{method: lexical, tiers: [high], key_env: {KEY_VAR}}}
"""


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A LiteLLM proxy whose guardrail runs pre- and post-call, marking the high tier."""
    tmp = tmp_path_factory.mktemp("litellm-mark")
    up = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    up_url = f"http://127.0.0.1:{up.server_address[1]}/v1"
    write_verdicts(
        tmp / "scan" / "verdicts.csv",
        [Verdict(account_id="acct_risky", risk=0.8, flagged=True, action="monitor")],
    )
    (tmp / "policy.yaml").write_text(POLICY)
    (tmp / "config.yaml").write_text(
        "model_list:\n"
        f"  - model_name: m1\n    litellm_params: {{model: openai/m1, api_base: {up_url}, "
        "api_key: sk-fake}\n"
        "guardrails:\n"
        "  - guardrail_name: distillguard\n"
        "    litellm_params: {guardrail: distillguard.gateways.litellm_guardrail."
        "DistillguardGuardrail, mode: [pre_call, post_call], default_on: true}\n"
    )
    env = proxy_env(
        MASTER,
        DISTILLGUARD_POLICY=str(tmp / "policy.yaml"),
        DISTILLGUARD_VERDICTS=str(tmp / "scan"),
        **{KEY_VAR: SECRET},
    )
    try:
        with running_proxy(tmp, env) as base:
            yield base
    finally:
        up.shutdown()


def _ask(base: str, account: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/chat/completions",
        json={"model": "m1", "messages": [{"role": "user", "content": "Explain quicksort."}]}
        | extra,
        headers={"x-distillguard-account": account, "authorization": f"Bearer {MASTER}"},
        timeout=60,
    )


def _trace(tmp: Path, texts: list[str], key: str) -> dict[str, Any]:
    path = tmp / "suspect.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = tmp / "report.json"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["trace", str(path), "--key", key, "--generation", "off", "--json"])
    assert rc == 0
    out.write_text(buf.getvalue())
    return dict(json.loads(buf.getvalue()))


def _lexical(report: dict[str, Any]) -> dict[str, Any]:
    rows = report.get("watermarks") or report.get("evidence") or []
    for row in rows:
        if row.get("watermark", row.get("name")) == "lexical":
            return dict(row)
    raise AssertionError(f"no lexical evidence in {report}")


def test_ordinary_customer_gets_the_upstream_answer_byte_for_byte(proxy: str) -> None:
    r = _ask(proxy, "acct_clean")
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"].encode() == ANSWER.encode()


def test_high_risk_answer_is_marked_and_trace_finds_the_key(proxy: str, tmp_path: Path) -> None:
    r = _ask(proxy, "acct_risky")
    assert r.status_code == 200, r.text
    text = r.json()["choices"][0]["message"]["content"]
    assert text != ANSWER
    assert detect_text(ANSWER, LexicalKey(SECRET)).rate < 1.0  # the original is not all-preferred
    found = _lexical(_trace(tmp_path, [text], SECRET))
    assert found["reported"] is True and found["p_value"] < 1e-4
    other = _lexical(_trace(tmp_path, [text], "some other key"))
    assert other["reported"] is False


def test_streamed_answer_to_a_high_risk_account_is_marked(proxy: str, tmp_path: Path) -> None:
    with httpx.stream(
        "POST",
        f"{proxy}/v1/chat/completions",
        json={"model": "m1", "stream": True, "messages": [{"role": "user", "content": "Hi"}]},
        headers={"x-distillguard-account": "acct_risky", "authorization": f"Bearer {MASTER}"},
        timeout=60,
    ) as resp:
        assert resp.status_code == 200
        parts = []
        for line in resp.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                for choice in json.loads(line[6:]).get("choices", []):
                    parts.append((choice.get("delta") or {}).get("content") or "")
    text = "".join(parts)
    assert text != ANSWER and len(text.split()) > 0.8 * len(ANSWER.split())
    assert _lexical(_trace(tmp_path, [text], SECRET))["p_value"] < 1e-4
