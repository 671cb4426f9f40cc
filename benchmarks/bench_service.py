"""The HTTP decision service under a fixed open-loop load from a second process.

``distillguard serve`` runs as one process (uvicorn, one worker) on 127.0.0.1; a load
generator runs as another process and sends ``POST /v1/decide`` over keep-alive
connections in two phases:

1. *first sight*: every account once (up to 20,000, each from its own address), as fast
   as the server takes them. Per-account state and the address cache grow here:
   memory per tracked account is the server's RSS growth over this phase divided by the
   accounts (with Redis state also Redis's own ``used_memory`` growth), and
   ``first_sight_cpu_ms_per_request`` what a never-seen account and address cost
   (request-time signals enrich the address once).
2. *steady state*: the fixed rate (default 2,000 requests per second for 10 s, then it
   stops by itself) over the same accounts. Latency is measured from each request's
   *scheduled* send time, so a slow server cannot hide queueing (no coordinated
   omission). Target: p99 < 10 ms, no errors.

The first row is the floor of the web stack under the same load: uvicorn serving a bare
ASGI app that reads the body and answers a fixed JSON (``benchmarks/_service_floor.py``).
The same runs with Redis state follow when ``redis-server`` is installed, with one
worker and with ``--workers 2``. With several workers each keeps its own address cache,
so the first-sight pass is repeated (new connections each time) until nearly every
worker knows nearly every account; ``first_sight_cpu_ms_per_request`` is the first pass.
Every request carries a prompt of its own (no cache of repeated prompts helps).
``server_cpu_ms_per_request`` (server CPU time / requests, all worker processes) says
what one dedicated core sustains (1000 / it requests per second) when the machine is
shared. The table is wide: ``COLUMNS=200 python -m benchmarks service``.

Run the load generator alone: ``python -m benchmarks.bench_service --loadgen PORT RATE SECONDS [PHASE]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ACCOUNTS = 20_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _body(i: int, phase: str = "") -> bytes:
    """Request ``i``: account ``i % ACCOUNTS`` on its own address, a prompt of its own.

    Every request's prompt is new (``phase`` keeps the steady state's prompts apart from
    the first-sight pass's), so the template fields are computed for each request, as
    for real traffic, not served from the service's cache of repeated prompts.
    """
    acct = i % ACCOUNTS
    return json.dumps(
        {
            "account_id": f"acct_{acct}",
            "api": "openai.chat_completions",
            "client": {
                "ip": f"10.{acct >> 8 & 255}.{acct & 255}.7",
                "user_agent": "OpenAI/Python 2.1.0",
            },
            "request": {
                "model": "frontier-1",
                "max_tokens": 4000,
                "messages": [
                    {"role": "user", "content": f"Explain topic {i}{phase} step by step."}
                ],
            },
        }
    ).encode()


async def _load(
    port: int, rate: float, seconds: float, conns: int, phase: str = ""
) -> dict[str, Any]:
    n = round(rate * seconds)
    bodies = [_body(i, phase) for i in range(n)]  # one prompt per request
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(conns):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    lat: list[float] = []
    errors = 0
    statuses: dict[int, int] = {}

    async def one(i: int, due: float) -> None:
        nonlocal errors
        r, w = await pool.get()
        try:
            body = bodies[i % len(bodies)]
            w.write(
                b"POST /v1/decide HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            head = await r.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await r.readexactly(length)
            statuses[status] = statuses.get(status, 0) + 1
            if status != 200:
                errors += 1
            lat.append(time.perf_counter() - due)
        except Exception:
            errors += 1
        finally:
            pool.put_nowait((r, w))

    loop_start = time.perf_counter() + 0.05
    tasks = []
    for i in range(n):
        due = loop_start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - loop_start
    a = np.asarray(lat) * 1000 if lat else np.asarray([float("nan")])
    return {
        "requests": n,
        "achieved_rps": n / elapsed,
        "p50_ms": float(np.percentile(a, 50)),
        "p99_ms": float(np.percentile(a, 99)),
        "max_ms": float(a.max()),
        "errors": errors,
        "statuses": statuses,
    }


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _tree(pid: int) -> list[int]:
    """The server process and its worker processes."""
    out = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        out.extend(_tree(int(child)))
    return out


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("distillguard serve exited at start")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("distillguard serve did not become ready")


def _redis_used_bytes(url: str) -> int:
    """Memory Redis holds for its data (``INFO memory`` ``used_memory``)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


def _run_case(
    label: str, state: str, rate: float, seconds: float, workers: int = 1
) -> dict[str, Any]:
    port = _free_port()
    exe = Path(sys.executable).parent / "distillguard"
    if state != "memory":
        import redis

        redis.Redis.from_url(state).flushdb()  # each case counts its own accounts
    server = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--state", state, "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    accounts = min(ACCOUNTS, round(rate * seconds))
    try:
        _wait_ready(port, server)
        procs = _tree(server.pid)

        def usage() -> tuple[int, float, int]:
            rss = sum(_rss_kb(p) for p in procs)
            cpu = sum(_cpu_s(p) for p in procs)
            red = _redis_used_bytes(state) if state != "memory" else 0
            return rss, cpu, red

        rss0, cpu0, redis0 = usage()
        load0 = os.getloadavg()[0]
        # first sight: every account (and its address) once, as fast as it goes; this
        # is where per-account state and the address cache grow
        cold = _loadgen(port, 10 * rate, accounts / (10 * rate), " (first sight)")
        rss1, cpu1, redis1 = usage()
        cpu_first = cpu1
        # with several workers each keeps its own address cache, and an account's
        # requests land on whichever worker holds the connection: more passes (new
        # connections each) so that nearly every worker knows nearly every account
        # (1 - 2**-passes of them) before the steady state is measured
        for extra in range(2 * workers - 1 if workers > 1 else 0):
            _loadgen(port, 10 * rate, accounts / (10 * rate), f" (warm {extra})")
        _rss, cpu1, _red = usage()
        # steady state: the fixed open-loop rate over accounts the service already knows
        res = _loadgen(port, rate, seconds, " (steady)")
        rss2, cpu2, _redis2 = usage()
    finally:
        server.terminate()
        server.wait(timeout=15)
    return {
        "case": label,
        "achieved_rps": res["achieved_rps"],
        "p50_ms": res["p50_ms"],
        "p99_ms": res["p99_ms"],
        "errors": res["errors"] + cold["errors"],
        "server_cpu_ms_per_request": (cpu2 - cpu1) * 1000 / max(res["requests"], 1),
        "first_sight_cpu_ms_per_request": (cpu_first - cpu0) * 1000 / max(cold["requests"], 1),
        "client_cpu_ms_per_request": res.get("client_cpu_ms_per_request"),
        "rss_bytes_per_account": (rss1 - rss0) * 1024 / accounts,
        "redis_bytes_per_account": (redis1 - redis0) / accounts if redis1 else None,
        "load_avg_1m": f"{load0:.1f} -> {os.getloadavg()[0]:.1f}",
        "requests": res["requests"],
        "server_rss_mb": rss2 / 1024,
    }


def _run_floor(rate: float, seconds: float) -> dict[str, Any]:
    """The same steady load on uvicorn serving a bare ASGI app (``_service_floor``)."""
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks._service_floor:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        _wait_ready(port, server)
        load0 = os.getloadavg()[0]
        cpu0 = _cpu_s(server.pid)
        res = _loadgen(port, rate, seconds, " (floor)")
        cpu1 = _cpu_s(server.pid)
        rss_mb = _rss_kb(server.pid) / 1024
    finally:
        server.terminate()
        server.wait(timeout=15)
    return {
        "case": "floor: uvicorn + bare ASGI app",
        "achieved_rps": res["achieved_rps"],
        "p50_ms": res["p50_ms"],
        "p99_ms": res["p99_ms"],
        "errors": res["errors"],
        "server_cpu_ms_per_request": (cpu1 - cpu0) * 1000 / max(res["requests"], 1),
        "first_sight_cpu_ms_per_request": None,
        "client_cpu_ms_per_request": res.get("client_cpu_ms_per_request"),
        "rss_bytes_per_account": None,
        "redis_bytes_per_account": None,
        "load_avg_1m": f"{load0:.1f} -> {os.getloadavg()[0]:.1f}",
        "requests": res["requests"],
        "server_rss_mb": rss_mb,
    }


def _loadgen(port: int, rate: float, seconds: float, phase: str = "") -> dict[str, Any]:
    """Run the open-loop load generator in its own process; its JSON result."""
    gen = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_service",
            "--loadgen",
            str(port),
            str(rate),
            str(seconds),
            phase,
        ],
        capture_output=True,
        text=True,
        timeout=seconds * 6 + 120,
        cwd=Path(__file__).resolve().parents[1],
    )
    if gen.returncode != 0:
        raise RuntimeError(gen.stderr[-2000:])
    return dict(json.loads(gen.stdout.strip().splitlines()[-1]))


def run(scale: float) -> list[dict[str, Any]]:
    """Memory state, then Redis state when redis-server is installed."""
    rate = 2000.0
    seconds = max(2.0, 10.0 * scale)
    rows = [
        _run_floor(rate, seconds),
        _run_case("serve, memory state", "memory", rate, seconds),
    ]
    if shutil.which("redis-server"):
        port = _free_port()
        folder = tempfile.mkdtemp(prefix="dg-bench-redis-")
        redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                folder,
                "--save",
                "",
                "--unixsocket",
                os.path.join(folder, "redis.sock"),
                "--unixsocketperm",
                "700",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.3)
            url = f"redis://127.0.0.1:{port}/0"
            rows.append(_run_case("serve, redis state", url, rate, seconds))
            rows.append(_run_case("serve, redis state, 2 workers", url, rate, seconds, workers=2))
            # the same Redis over a Unix socket (a gateway replica next to its Redis)
            sock = f"unix://{os.path.join(folder, 'redis.sock')}?db=0"
            rows.append(
                _run_case(
                    "serve, redis over unix socket, 2 workers", sock, rate, seconds, workers=2
                )
            )
        finally:
            redis.kill()
            redis.wait()
            shutil.rmtree(folder, ignore_errors=True)
    return rows


def _main(argv: list[str]) -> int:
    port, rate, seconds = int(argv[1]), float(argv[2]), float(argv[3])
    phase = argv[4] if len(argv) > 4 else ""
    conns = int(os.environ.get("DG_BENCH_CONNS", "64"))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    import resource

    res = asyncio.run(_load(port, rate, seconds, conns, phase))
    ru = resource.getrusage(resource.RUSAGE_SELF)
    # the load generator's own CPU: when it nears a core, the client is the bottleneck
    res["client_cpu_ms_per_request"] = (ru.ru_utime + ru.ru_stime) * 1000 / max(res["requests"], 1)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--loadgen":
        sys.exit(_main(sys.argv[1:]))
    print(__doc__)
