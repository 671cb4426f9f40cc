"""``distillguard export``: share campaigns as a STIX 2.1 bundle or a MISP event."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated

import typer

from ..contracts import Campaign, read_campaigns
from ..errors import InputError
from ..intel.stix import KEY_ENV, community_key, export_stix
from ..store import DEFAULT_STORE, Store
from ._app import app, console

export_app = typer.Typer(no_args_is_help=True, help="Share campaigns with partners.")
app.add_typer(export_app, name="export")

_CAMPAIGNS = typer.Option("--campaigns", help="campaigns.json written by scan.")
_ONLY = typer.Option("--campaign", help="Export only this campaign (repeatable).")
_TLP = typer.Option("--tlp", help="TLP marking: clear, green, amber or red.")
_KEY = typer.Option("--key", envvar=KEY_ENV, help=f"Community key (or ${KEY_ENV}).")
_PRODUCER = typer.Option("--producer", help="Your organisation's name in the bundle.")
_STORE = typer.Option("--store", help="Store for fingerprints (skipped if missing).")


def _campaigns(path: Path, only: list[str] | None) -> list[Campaign]:
    if not path.exists():
        raise InputError("missing file", "run scan first or pass --campaigns", file=str(path))
    items = read_campaigns(path)
    if only:
        missing = sorted(set(only) - {c.id for c in items})
        if missing:
            raise InputError(
                "unknown campaign", f"{', '.join(missing)} not in it", file=str(path), field="id"
            )
        items = [c for c in items if c.id in set(only)]
    return items


def _optional_store(path: Path) -> AbstractContextManager[Store | None]:
    """The store when it exists (actor names, fingerprints), else nothing to read."""
    return Store(path) if path.exists() else nullcontext(None)


@export_app.command("stix")
def stix_cmd(
    out: Annotated[Path, typer.Argument(help="Bundle to write (JSON).")],
    campaigns: Annotated[Path, _CAMPAIGNS] = Path("scan-out/campaigns.json"),
    campaign: Annotated[list[str] | None, _ONLY] = None,
    tlp: Annotated[str, _TLP] = "amber",
    key: Annotated[str | None, _KEY] = None,
    producer: Annotated[str, _PRODUCER] = "distillguard operator",
    store_path: Annotated[Path, _STORE] = DEFAULT_STORE,
) -> int:
    """Write a STIX 2.1 bundle (validated with stix2-validator before it is written)."""
    items = _campaigns(campaigns, campaign)
    k = community_key(key)
    with _optional_store(store_path) as store:
        counts = export_stix(out, items, key=k, store=store, tlp=tlp, producer=producer)
    summary = ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
    console.print(f"wrote {out} ({len(items)} campaigns; {summary}); valid STIX 2.1")
    return 0


@export_app.command("misp")
def misp_cmd(
    out: Annotated[Path, typer.Argument(help="MISP event to write (JSON).")],
    campaigns: Annotated[Path, _CAMPAIGNS] = Path("scan-out/campaigns.json"),
    campaign: Annotated[list[str] | None, _ONLY] = None,
    tlp: Annotated[str, _TLP] = "amber",
    key: Annotated[str | None, _KEY] = None,
    producer: Annotated[str, _PRODUCER] = "distillguard operator",
    store_path: Annotated[Path, _STORE] = DEFAULT_STORE,
) -> int:
    """Write the same content as one MISP event (needs the 'misp' extra; no server)."""
    from ..intel.misp import export_misp

    items = _campaigns(campaigns, campaign)
    k = community_key(key)
    with _optional_store(store_path) as store:
        n = export_misp(out, items, key=k, store=store, tlp=tlp, producer=producer)
    console.print(f"wrote {out} ({len(items)} campaigns, {n} attributes)")
    return 0
