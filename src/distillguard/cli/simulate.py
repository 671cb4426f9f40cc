"""``distillguard simulate``: write realistic traffic with ground truth to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import ConfigError
from ..simulate import FORMATS, builtin_scenarios, load_scenario, simulate
from ._app import app, console

__all__ = ["simulate_command"]


@app.command("simulate")
def simulate_command(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder to write exchanges, accounts and truth into."),
    ] = None,
    scenario: Annotated[
        str, typer.Option("--scenario", help="Built-in scenario name or a YAML file.")
    ] = "default",
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed (default: the scenario's).")
    ] = None,
    scale: Annotated[
        float, typer.Option("--scale", help="Multiply accounts and volumes by this factor.")
    ] = 1.0,
    fmt: Annotated[
        str, typer.Option("--format", help=f"Exchange log format: {', '.join(FORMATS)}.")
    ] = "jsonl",
    periods: Annotated[
        int | None,
        typer.Option("--period", help="Number of periods (2: actors return under fresh accounts)."),
    ] = None,
    without: Annotated[
        list[str] | None,
        typer.Option(
            "--without", help="Disable a campaign archetype (repeatable): leave-one-archetype-out."
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Render in this many processes (JSON Lines formats).")
    ] = 1,
    list_: Annotated[
        bool, typer.Option("--list", help="List the built-in scenarios and exit.")
    ] = False,
) -> None:
    """Simulate API traffic: benign populations, distillation campaigns, and the truth."""
    if list_:
        for name in builtin_scenarios():
            console.print(f"{name}: {load_scenario(name).description.strip()}")
        return
    if out is None:
        raise ConfigError("--out DIR is required")
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if scale <= 0:
        raise ConfigError("--scale must be positive")
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    sc = load_scenario(scenario)
    update: dict[str, object] = {}
    if periods is not None:
        if periods not in (1, 2):
            raise ConfigError("--period must be 1 or 2")
        update["periods"] = periods
    without = without or []
    if without:
        from ..simulate import ARCHETYPES

        bad = [a for a in without if a not in ARCHETYPES]
        if bad:
            raise ConfigError(f"--without: unknown archetype(s) {bad}; use {', '.join(ARCHETYPES)}")
        update["disable_archetypes"] = sorted({*sc.disable_archetypes, *without})
    if update:
        from ..simulate import scenario_from_dict

        sc = scenario_from_dict(
            {**sc.model_dump(), **update}, file=f"{scenario} (with CLI options)"
        )
    with Progress(
        TextColumn("[bold]simulate[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days · {task.fields[n]:,} exchanges"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(sc.name, total=None, n=0)

        def on_progress(done: int, total: int, n: int) -> None:
            bar.update(task, completed=done, total=total, n=n)

        res = simulate(
            sc, out, seed=seed, scale=scale, fmt=fmt, progress=on_progress, workers=workers
        )
    table = Table(title=f"{sc.name} → {out}")
    table.add_column("group")
    table.add_column("exchanges", justify="right")
    for g, c in res.by_group.items():
        table.add_row(g, f"{c:,}")
    console.print(table)
    rate = res.exchanges / res.seconds if res.seconds else 0.0
    console.print(
        f"{res.exchanges:,} exchanges ({res.attack_exchanges:,} attack), {res.accounts:,} accounts "
        f"({res.attack_accounts:,} attack) in {res.seconds:.1f}s ({rate:,.0f}/s); files: {', '.join(res.files)}"
    )
