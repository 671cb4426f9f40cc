"""Start and stop a real LiteLLM proxy for the gateway and marking tests.

Shared by every test that runs the proxy, so they all find the binary, wait for
liveness and clean up the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def litellm_binary() -> str | None:
    """The proxy binary: ``DISTILLGUARD_LITELLM_BIN``, the project's own venv, or PATH."""
    env = os.environ.get("DISTILLGUARD_LITELLM_BIN")
    if env:
        return env
    local = ROOT / ".venv" / "litellm-proxy" / "bin" / "litellm"
    return str(local) if local.exists() else shutil.which("litellm")


def completion(
    model: str, content: str, prompt_tokens: int, completion_tokens: int
) -> dict[str, Any]:
    """An OpenAI chat completion, as the fake upstream model answers."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def send_json(handler: BaseHTTPRequestHandler, obj: dict[str, Any]) -> None:
    """Answer the fake upstream's request with ``obj`` as a 200 JSON body."""
    raw = json.dumps(obj).encode()
    handler.send_response(200)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(raw)))
    handler.end_headers()
    handler.wfile.write(raw)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proxy_env(master_key: str, **extra: str) -> dict[str, str]:
    """The environment a test proxy runs with: offline cost map, no database, no proxies."""
    env = dict(
        os.environ,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_MASTER_KEY=master_key,
        NO_PROXY="*",
        **extra,
    )
    env.pop("DATABASE_URL", None)
    return env


@contextmanager
def running_proxy(workdir: Path, env: dict[str, str], port: int | None = None) -> Iterator[str]:
    """Run ``litellm --config workdir/config.yaml`` until the block ends; yields its base URL.

    Skips the test when no proxy is installed and fails it, with the log's tail, when the
    proxy exits during start-up.
    """
    binary = litellm_binary()
    if binary is None:
        pytest.skip("no LiteLLM proxy: run `make install` (creates .venv/litellm-proxy)")
    port = port or free_port()
    log = (workdir / "proxy.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            "--config",
            str(workdir / "config.yaml"),
            "--host",
            "127.0.0.1",
            "--port",
            f"{port}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/health/liveliness", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        if proc.poll() is not None:
            sys.stderr.write((workdir / "proxy.log").read_text()[-4000:])
            pytest.fail("LiteLLM proxy exited at start")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
