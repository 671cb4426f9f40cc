"""``distillguard ingest``: read API logs into the embedded store and say what happened."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..ingest import IngestSummary, RejectedInput, expand_paths, ingest_paths
from ..store import DEFAULT_STORE, Store
from ._app import app, console

__all__ = ["ingest", "print_summary"]

_SHOWN_REJECTIONS = 50


def print_summary(summary: IngestSummary, store_path: Path, *, show_all: bool = False) -> None:
    """Print the run summary table and the rejected records (file:line [field] reason)."""
    table = Table(title=f"ingest -> {store_path}", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    fmts = ", ".join(f"{k} {v}" for k, v in sorted(summary.formats.items()))
    table.add_row("files", f"{len(summary.files)}" + (f" ({fmts})" if fmts else ""))
    table.add_row("records read", f"{summary.records_read:,}")
    table.add_row("[green]ingested", f"{summary.ingested:,}")
    table.add_row("duplicates skipped", f"{summary.duplicates:,}")
    if summary.accounts_upserted:
        table.add_row("accounts upserted", f"{summary.accounts_upserted:,}")
    style = "red" if summary.n_rejected else "green"
    table.add_row(f"[{style}]rejected", f"[{style}]{summary.n_rejected:,}")
    for reason, n in summary.rejected.most_common():
        table.add_row(f"  {reason}", f"{n:,}")
    for reason, n in summary.neutralised.most_common():
        table.add_row(f"[yellow]kept after repair: {reason}", f"{n:,}")
    console.print(table)
    if not summary.rejections:
        return
    rejections = sorted(summary.rejections, key=lambda r: (r.file, r.line or 0))
    shown = rejections if show_all else rejections[:_SHOWN_REJECTIONS]
    console.print("[bold]rejected records[/] (file:line \\[field] reason: detail)")
    for r in shown:
        console.print(f"  {r}", markup=False, highlight=False, soft_wrap=True)
    if len(rejections) > len(shown):
        console.print(f"  ... and {len(rejections) - len(shown):,} more (--all to list them)")
    if summary.n_rejected > len(summary.rejections):
        console.print(f"  ({summary.n_rejected - len(summary.rejections):,} more counted only)")


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Log files or folders (formats detected per file).")
    ],
    format: Annotated[
        str, typer.Option("--format", "-f", help="auto, native, litellm or otel.")
    ] = "auto",
    accounts: Annotated[
        Path | None, typer.Option("--accounts", help="Account registry (JSONL or Parquet).")
    ] = None,
    store: Annotated[Path, typer.Option("--store", help="DuckDB store file.")] = DEFAULT_STORE,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 if any record is rejected.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Parser processes (default: all cores for large inputs)."),
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="List every rejected record.")] = False,
) -> int:
    """Read exchange logs (native, LiteLLM, OpenTelemetry) into the store, idempotently."""
    if format not in ("auto", "native", "litellm", "otel"):
        console.print(
            f"[bold red]error:[/] --format must be auto, native, litellm or otel, not {format!r}"
        )
        raise typer.Exit(2)
    files, _ = expand_paths(paths)
    total = sum(f.stat().st_size for f in files)
    progress = Progress(
        TextColumn("[bold]ingest"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with Store(store) as st, progress:
        task = progress.add_task("ingest", total=total or None)
        try:
            summary = ingest_paths(
                paths,
                st,
                format=format,
                accounts=accounts,
                strict=strict,
                workers=workers,
                progress=lambda n: progress.advance(task, n),
            )
            failed = False
        except RejectedInput as exc:
            summary, failed = exc.summary, True
    print_summary(summary, store, show_all=show_all)
    if failed:
        console.print("[bold red]strict mode:[/] records were rejected; exit 1")
        raise typer.Exit(1)
    return 0
