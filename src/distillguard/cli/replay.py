"""``distillguard replay``: feed a log through online enforcement, write decisions.csv."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from ._app import app, console


@app.command()
def replay(
    logs: Annotated[Path, typer.Argument(help="exchanges.jsonl(.gz) or a folder of them")],
    out: Annotated[Path, typer.Option("--out", help="folder for decisions.csv")],
    policy: Annotated[
        Path | None, typer.Option("--policy", help="YAML policy (default: packaged)")
    ] = None,
    service: Annotated[
        str | None,
        typer.Option(
            "--service", help="URL of a running `distillguard serve` (default: in-process)"
        ),
    ] = None,
    state: Annotated[
        str, typer.Option("--state", help="memory or redis://host:port/db")
    ] = "memory",
    verdicts: Annotated[Path | None, typer.Option("--verdicts", help="scan output folder")] = None,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="scan's DuckDB store: returning-actor evidence (intel)"),
    ] = None,
    accounts: Annotated[
        Path | None,
        typer.Option("--accounts", help="account registry (default: accounts.jsonl beside LOGS)"),
    ] = None,
) -> int:
    """Replay LOGS in time order through decide + observe; write OUT/decisions.csv."""
    from ..online.setup import build_enforcer
    from ..replay import replay as run_replay

    enforcer = None
    if service is None:
        if accounts is None:
            beside = (logs if logs.is_dir() else logs.parent) / "accounts.jsonl"
            accounts = beside if beside.exists() else None
        enforcer, _ = build_enforcer(
            policy=policy, state=state, verdicts=verdicts, accounts=accounts, intel_store=store
        )
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("replay", total=None)
        summary = run_replay(
            logs,
            out,
            enforcer=enforcer,
            service_url=service,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(
        f"replayed {summary.exchanges:,} exchanges ({summary.mode}) in {summary.seconds:.1f}s; "
        f"actions {dict(summary.actions)}; wrote {out / 'decisions.csv'}"
    )
    return 0
