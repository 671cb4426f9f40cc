"""``distillguard scan``: find the campaigns in a log and write verdicts, campaigns, report."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..scan import features_with_releases, run_scan
from ..store import DEFAULT_STORE, Store
from ._app import app, console


@contextmanager
def _stage(name: str) -> Iterator[None]:
    with console.status(f"[bold]{name}[/]…"):
        yield
    console.print(f"[green]✓[/] {name}")


@app.command()
def scan(
    logs: Annotated[
        list[Path] | None,
        typer.Argument(help="Exchange logs to ingest first (JSONL, .gz, Parquet)."),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for verdicts.csv, campaigns.json, report.html.")
    ] = Path("scan-out"),
    store_path: Annotated[
        Path, typer.Option("--store", help="DuckDB store to read (and ingest into).")
    ] = DEFAULT_STORE,
    accounts: Annotated[
        Path | None, typer.Option("--accounts", help="Account registry (accounts.jsonl).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="Account model file (default: the shipped one).")
    ] = None,
    releases: Annotated[
        Path | None,
        typer.Option(
            "--releases", help="Model release dates (JSON) for the release-reaction features."
        ),
    ] = None,
    memory_limit: Annotated[
        str, typer.Option("--memory-limit", help="DuckDB memory limit.")
    ] = "3GB",
) -> int:
    """Scan API traffic for distillation campaigns and write the verdict contract."""
    for p in [*(logs or []), *([accounts] if accounts else [])]:
        if not p.exists():
            raise typer.BadParameter(f"{p} does not exist")
    with Store(store_path, memory_limit=memory_limit) as store:
        summary = run_scan(
            store,
            out,
            logs=logs or [],
            accounts=accounts,
            model_path=model,
            on_stage=_stage,
            features=features_with_releases(releases),
        )
    t = Table(title="scan summary", show_header=False)
    for key in (
        "exchanges",
        "accounts",
        "flagged",
        "campaigns",
        "campaign_accounts",
        "edges",
        "model",
    ):
        t.add_row(key, f"{summary[key]:,}" if isinstance(summary[key], int) else str(summary[key]))
    t.add_row("actions", ", ".join(f"{k} {v:,}" for k, v in summary["actions"].items() if v))
    slow = max(summary["timings"].items(), key=lambda kv: kv[1] if kv[0] != "total" else -1)
    t.add_row(
        "time", f"{summary['timings']['total']:.1f} s (slowest stage: {slow[0]} {slow[1]:.1f} s)"
    )
    t.add_row("peak memory", f"{summary['peak_rss_mb']:,.0f} MiB")
    console.print(t)
    if "report_error" in summary:
        console.print(f"[yellow]no report.html:[/] {summary['report_error']}")
    console.print(f"wrote {out}/verdicts.csv, campaigns.json, summary.json")
    return 0
