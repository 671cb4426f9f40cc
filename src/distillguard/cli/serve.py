"""``distillguard serve``: the decision service (FastAPI + uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import app, console


@app.command()
def serve(
    policy: Annotated[
        Path | None, typer.Option("--policy", help="YAML policy (default: packaged)")
    ] = None,
    state: Annotated[
        str, typer.Option("--state", help="memory or redis://host:port/db")
    ] = "memory",
    verdicts: Annotated[
        Path | None,
        typer.Option("--verdicts", help="scan output folder; reloaded when its files change"),
    ] = None,
    accounts: Annotated[
        Path | None, typer.Option("--accounts", help="account registry (jsonl)")
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="scan's DuckDB store: returning-actor evidence (intel)"),
    ] = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8787,
    verify_url: Annotated[
        str | None, typer.Option("--verify-url", help="shown in verify refusals")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="worker processes (needs --state redis://...)")
    ] = 1,
    log_level: Annotated[str, typer.Option("--log-level")] = "warning",
) -> None:
    """Serve online decisions: POST /v1/decide, /v1/observe, GET /healthz, /metrics."""
    import os
    import sys

    import uvicorn

    from ..errors import ConfigError
    from ..online.setup import build_enforcer
    from ..serve.app import create_app

    if workers > 1:
        if not state.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("--workers > 1 needs shared state: --state redis://host:port/db")
        settings = {
            "DISTILLGUARD_POLICY": policy,
            "DISTILLGUARD_STATE": state,
            "DISTILLGUARD_VERDICTS": verdicts,
            "DISTILLGUARD_ACCOUNTS": accounts,
            "DISTILLGUARD_INTEL_STORE": store,
            "DISTILLGUARD_VERIFY_URL": verify_url,
        }
        for key, value in settings.items():
            if value is not None:
                os.environ[key] = str(value)
        build_enforcer(policy=policy, state=state)  # fail here, once, on a bad setting
        console.print(f"distillguard serve: {workers} workers, state {state}, port {port}")
        # hand over to uvicorn's own launcher: worker processes then import the app
        # factory cleanly instead of re-running this console script
        args = [
            sys.executable, "-m", "uvicorn", "distillguard.serve.app:app_from_env", "--factory",
            "--host", host, "--port", str(port), "--workers", str(workers),
            "--log-level", log_level, "--no-access-log",
        ]  # fmt: skip
        os.execv(sys.executable, args)
        return

    enforcer, watcher = build_enforcer(
        policy=policy, state=state, verdicts=verdicts, accounts=accounts, intel_store=store
    )
    api = create_app(enforcer, watcher=watcher, verify_url=verify_url)
    console.print(
        f"distillguard serve: policy {enforcer.policy.name!r}, state {state}, "
        f"http://{host}:{port}/docs"
    )
    uvicorn.run(api, host=host, port=port, log_level=log_level, access_log=False)
