"""``distillguard demo``: the whole loop on embedded defaults, in one command.

Simulates the built-in ``default`` scenario (benign heavy users and four campaign
archetypes with ground truth), scans it, evaluates the verdicts against the truth
beside the baselines, and writes the reports. It runs the very same commands a user
would type, in-process, so the demo can never drift from the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import app, console


def _step(title: str, argv: list[str]) -> None:
    from . import main  # late import: the CLI package is still loading when this module is

    console.rule(f"[bold]{title}[/]  [dim]distillguard {' '.join(argv)}[/]")
    code = main(argv)
    if code != 0:
        console.print(f"[bold red]demo stopped:[/] `distillguard {' '.join(argv)}` exited {code}")
        raise typer.Exit(code)


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for everything the demo writes.")
    ] = Path("demo-out"),
    scenario: Annotated[
        str, typer.Option("--scenario", help="Built-in scenario or YAML file.")
    ] = "default",
    seed: Annotated[int, typer.Option("--seed", help="Simulation seed.")] = 2026,
    scale: Annotated[float, typer.Option("--scale", help="Scale of the simulated traffic.")] = 0.5,
    baselines: Annotated[
        bool, typer.Option("--baselines/--no-baselines", help="Score the peers' baselines too.")
    ] = True,
) -> int:
    """Simulate traffic, scan it, evaluate against the truth, and write the reports."""
    sim, scan_out = out / "sim", out / "scan"
    store = out / "store.duckdb"
    if store.exists():  # a fresh demo every time: the store would otherwise keep old runs
        store.unlink()
    _step(
        "1/3 simulate",
        [
            "simulate",
            "--scenario",
            scenario,
            "--seed",
            str(seed),
            "--scale",
            str(scale),
            "--out",
            str(sim),
        ],
    )
    _step(
        "2/3 scan",
        [
            "scan",
            str(sim / "exchanges.jsonl"),
            "--accounts",
            str(sim / "accounts.jsonl"),
            "--store",
            str(store),
            "--out",
            str(scan_out),
        ],
    )
    ev = [
        "evaluate",
        "--truth",
        str(sim),
        "--verdicts",
        str(scan_out),
        "--report",
        str(out / "evaluation.html"),
        "--json",
        str(out / "evaluation.json"),
    ]
    # the MMD baseline embeds every prompt it scores with MiniLM on the CPU: the demo
    # scores a sample of accounts so it stays a demo (the table says how many)
    _step("3/3 evaluate", [*ev, "--baselines", "--mmd-accounts", "150"] if baselines else ev)
    console.rule("[bold green]done")
    console.print(f"campaign report:   {scan_out / 'report.html'}")
    console.print(f"evaluation report: {out / 'evaluation.html'}")
    console.print(
        f"verdicts:          {scan_out / 'verdicts.csv'}  campaigns: {scan_out / 'campaigns.json'}"
    )
    return 0
