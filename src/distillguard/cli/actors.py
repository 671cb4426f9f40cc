"""``distillguard actors``: name a scanned campaign as an actor, list and show actors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..contracts import AttributedActor, read_campaigns, write_campaigns
from ..errors import InputError
from ..intel.actors import list_actors, load_actor, name_actor
from ..store import DEFAULT_STORE, Store
from ._app import app, console

actors_app = typer.Typer(
    no_args_is_help=True, help="Remember the actors behind campaigns across scans."
)
app.add_typer(actors_app, name="actors")

_STORE = typer.Option("--store", help="DuckDB store holding the actor memory.")


@actors_app.command("name")
def name_cmd(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id from campaigns.json.")],
    name: Annotated[
        str | None, typer.Argument(help="Actor name (omit for a new UNNAMED-NNNN actor).")
    ] = None,
    store_path: Annotated[Path, _STORE] = DEFAULT_STORE,
    campaigns: Annotated[
        Path, typer.Option("--campaigns", help="campaigns.json written by scan.")
    ] = Path("scan-out/campaigns.json"),
    description: Annotated[str, typer.Option("--description", help="Analyst note.")] = "",
) -> int:
    """Name CAMPAIGN_ID as actor NAME: store its fingerprint (a new version if NAME exists)."""
    if not campaigns.exists():
        raise InputError("missing file", "run scan first or pass --campaigns", file=str(campaigns))
    items = read_campaigns(campaigns)
    found = next((c for c in items if c.id == campaign_id), None)
    if found is None:
        known = ", ".join(c.id for c in items[:10]) or "none"
        raise InputError(
            "unknown campaign", f"{campaign_id!r} is not in it (campaigns: {known})",
            file=str(campaigns), field="id",
        )  # fmt: skip
    with Store(store_path) as store:
        fp = name_actor(store, found, name, description=description)
    found.attributed_actor = AttributedActor(
        actor=fp.name, confidence=1.0, evidence=["named by an analyst"]
    )
    write_campaigns(campaigns, items)
    console.print(
        f"actor [bold]{fp.name}[/] version {fp.version}: {len(fp.members)} accounts, "
        f"{fp.n_values()} evidence values, campaigns {', '.join(fp.campaigns)}"
    )
    return 0


@actors_app.command("list")
def list_cmd(store_path: Annotated[Path, _STORE] = DEFAULT_STORE) -> int:
    """List the known actors."""
    with Store(store_path) as store:
        rows = list_actors(store)
    if not rows:
        console.print("no actors yet: name one with `distillguard actors name CAMPAIGN_ID NAME`")
        return 0
    t = Table(title="actors")
    for col in ("actor", "version", "source", "accounts", "values", "campaigns"):
        t.add_column(col)
    for r in rows:
        camps = list(r["campaigns"] or [])  # type: ignore[call-overload]
        t.add_row(
            str(r["actor"]) + ("" if r["named"] else " (unnamed)"),
            str(r["version"]),
            str(r["source"]),
            str(r["accounts"]),
            str(r["values"]),
            ", ".join(camps[:4]) + (f" +{len(camps) - 4}" if len(camps) > 4 else ""),
        )
    console.print(t)
    return 0


@actors_app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="Actor name.")],
    store_path: Annotated[Path, _STORE] = DEFAULT_STORE,
    version: Annotated[int | None, typer.Option("--version", help="An older version.")] = None,
    top: Annotated[int, typer.Option("--top", help="Values shown per kind.")] = 5,
) -> int:
    """Show an actor's fingerprint: evidence values by kind (with purity) and profiles."""
    with Store(store_path) as store:
        fp = load_actor(store, name, version)
    console.print(
        f"[bold]{fp.name}[/] version {fp.version} ({fp.source}"
        f"{'' if fp.named else ', unnamed'}): {len(fp.members)} accounts, "
        f"campaigns {', '.join(fp.campaigns) or 'none'}"
    )
    if fp.description:
        console.print(fp.description)
    t = Table(title="evidence (purity: share of the value's users that are this actor's)")
    for col in ("kind", "values", "strongest"):
        t.add_column(col)
    for kind, vals in sorted(fp.values.items()):
        best = sorted(vals.items(), key=lambda kv: -kv[1])[:top]
        t.add_row(kind, str(len(vals)), ", ".join(f"{v} ({w:.2f})" for v, w in best))
    console.print(t)
    p = Table(title="profiles")
    p.add_column("profile")
    p.add_column("shares")
    for kind, dist in sorted(fp.profiles.items()):
        best = sorted(dist.items(), key=lambda kv: -kv[1])[:8]
        p.add_row(kind, ", ".join(f"{k} {v:g}" for k, v in best))
    console.print(p)
    return 0
