"""Run benchmark modules and print their tables (see ``benchmarks/__init__.py``)."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table


def _modules() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name[len("bench_") :]
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {_modules()})")
    ap.add_argument(
        "--scale", type=float, default=1.0, help="multiply each benchmark's default size"
    )
    ap.add_argument("--json", type=Path, help="also write all rows as JSON here")
    args = ap.parse_args(argv)
    console = Console()
    names = args.names or _modules()
    unknown = set(names) - set(_modules())
    if unknown:
        console.print(f"[red]unknown benchmark(s): {sorted(unknown)}; have {_modules()}[/]")
        return 2
    results: dict[str, list[dict[str, object]]] = {}
    for name in names:
        mod = importlib.import_module(f"benchmarks.bench_{name}")
        console.rule(f"[bold]{name}")
        rows = mod.run(args.scale)
        results[name] = rows
        if not rows:
            continue
        table = Table(title=name)
        for key in rows[0]:
            table.add_column(str(key))
        for row in rows:
            table.add_row(*(f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row.values()))
        console.print(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
