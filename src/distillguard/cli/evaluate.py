"""``distillguard evaluate``: score verdicts and the built-in baselines against ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..evaluate import BASELINES, print_tables
from ..evaluate import evaluate as run_evaluation
from ..report import render_evaluation_report
from ._app import app, console


@app.command()
def evaluate(
    truth: Annotated[
        Path, typer.Option("--truth", help="simulate output folder (truth.csv, exchanges log)")
    ],
    verdicts: Annotated[
        Path | None,
        typer.Option(
            "--verdicts", help="scan output folder (verdicts.csv, campaigns.json, decisions.csv)"
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="write the HTML evaluation report here")
    ] = None,
    baselines: Annotated[
        bool,
        typer.Option(
            "--baselines", help="also run rate limits, Isolation Forest and the MMD window test"
        ),
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--baseline", help=f"run only these baselines (repeatable): {BASELINES}"),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write every number as JSON here")
    ] = None,
    mmd_accounts: Annotated[
        int, typer.Option(help="MMD baseline: most accounts to embed and score")
    ] = 1500,
    mmd_window: Annotated[int, typer.Option(help="MMD baseline: prompts per account window")] = 32,
) -> int:
    """Score a scan's verdicts against the simulator's truth, beside the baselines users have today."""
    if verdicts is None and not (baselines or only):
        console.print("[red]error:[/] give --verdicts, --baselines, or both")
        return 2
    chosen = list(only) if only else (list(BASELINES) if baselines else [])
    result = run_evaluation(
        truth,
        verdicts,
        baselines=chosen,
        progress=lambda msg: console.print(f"[dim]… {msg}[/]"),
        mmd_options={"max_accounts": mmd_accounts, "window": mmd_window},
    )
    print_tables(result, console)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
        console.print(f"JSON: {json_out}")
    if report is not None:
        console.print(f"report: {render_evaluation_report(result, report)}")
    return 0
