"""``distillguard intel``: import partner STIX bundles; list returning accounts."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..intel.evasion import returning_accounts
from ..intel.stix_import import import_bundle
from ..store import DEFAULT_STORE, Store
from ._app import app, console

intel_app = typer.Typer(no_args_is_help=True, help="Threat intelligence in and out.")
app.add_typer(intel_app, name="intel")

_STORE = typer.Option("--store", help="DuckDB store.")


@intel_app.command("import")
def import_cmd(
    bundle: Annotated[Path, typer.Argument(help="STIX 2.1 bundle (JSON) from a partner.")],
    store_path: Annotated[Path, _STORE] = DEFAULT_STORE,
) -> int:
    """Load a partner's indicators and actors; a bad bundle changes nothing."""
    with Store(store_path) as store:
        rep = import_bundle(store, bundle)
    console.print(
        f"imported {rep.bundle_id} from [bold]{rep.source}[/]: {rep.indicators} indicators "
        f"({rep.values} values, {rep.unsupported} comparisons not understood), "
        f"actors: {', '.join(rep.actors) or 'none'}"
    )
    return 0


@intel_app.command("returning")
def returning_cmd(
    store_path: Annotated[Path, _STORE] = DEFAULT_STORE,
    out: Annotated[Path | None, typer.Option("--out", help="Write them to a CSV too.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows printed.")] = 20,
) -> int:
    """Accounts that share strong evidence with banned accounts or known actors."""
    with Store(store_path) as store:
        rows = returning_accounts(store)
    t = Table(title=f"{len(rows)} returning accounts")
    for col in ("account", "linked to", "score", "strongest reason"):
        t.add_column(col)
    for r in rows[:limit]:
        t.add_row(r.account_id, r.target, f"{r.score:.2f}", r.reasons[0] if r.reasons else "")
    console.print(t)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["account_id", "linked_to", "score", "reasons"])
            for r in rows:
                w.writerow([r.account_id, r.target, f"{r.score:.4f}", ";".join(r.reasons)])
        console.print(f"wrote {out}")
    return 0
