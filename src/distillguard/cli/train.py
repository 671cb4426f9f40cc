"""``distillguard train``: fit the supervised account model on labelled traffic.

Labels come from the simulator (a folder with the logs, ``accounts.jsonl`` and
``truth.csv``) or from the provider's own history (``--store`` plus a ``truth.csv`` of
accounts banned earlier and accounts known to be fine).
"""

from __future__ import annotations

import shlex
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
import yaml

from ..contracts import read_truth
from ..errors import InputError
from ..scan import features_with_releases, labelled_matrix
from ..scoring import MODEL_EXCLUDED, train_model
from ..store import Store
from ._app import app, console


def _labels(path: Path) -> dict[str, bool]:
    if not path.is_file():
        raise InputError("missing labels", "no truth.csv", file=str(path))
    return {r.account_id: r.is_attack for r in read_truth(path)}


def _folder_rows(folder: Path, memory_limit: str) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    from ..ingest import ingest_paths

    labels = _labels(folder / "truth.csv")
    with (
        tempfile.TemporaryDirectory(prefix="dg-train-") as tmp,
        Store(Path(tmp) / "store.duckdb", memory_limit=memory_limit) as store,
    ):
        logs = sorted(p for p in folder.iterdir() if p.name.startswith("exchanges"))
        acc = folder / "accounts.jsonl"
        ingest_paths(logs, store, accounts=acc if acc.is_file() else None)
        rel = folder / "model_releases.json"
        x, y, cols = labelled_matrix(
            store, labels, features=features_with_releases(rel if rel.is_file() else None)
        )
    info: dict[str, object] = {"path": folder.name, "accounts": int(y.size), "attack": int(y.sum())}
    meta = folder / "scenario.yaml"
    if meta.is_file():
        doc = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
        info["scenario"] = {
            k: doc.get(k) for k in ("name", "seed", "scale", "days", "disable_archetypes")
        }
    return x, y, cols, info


def _command() -> str | None:
    """The training command as typed, with paths reduced to their last part, so the
    same command run from another folder writes the same model file."""
    args = sys.argv[1:]
    if args[:1] != ["train"]:
        return None
    return "distillguard " + shlex.join(Path(a).name if "/" in a else a for a in args)


def _version() -> str:
    from .. import __version__

    return str(__version__)


@app.command()
def train(
    out: Annotated[Path, typer.Option("--out", help="Model file to write (JSON).")],
    truth: Annotated[
        list[Path] | None,
        typer.Option(
            "--truth",
            help="Labelled folder (logs + accounts.jsonl + truth.csv), or a truth.csv with --store. Repeatable.",
        ),
    ] = None,
    store_path: Annotated[
        Path | None,
        typer.Option("--store", help="Store holding the traffic the --truth file labels."),
    ] = None,
    releases: Annotated[
        Path | None,
        typer.Option("--releases", help="Model release dates (JSON), with --store."),
    ] = None,
    rounds: Annotated[int, typer.Option("--rounds", help="Boosting rounds.")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Training seed.")] = 13,
    memory_limit: Annotated[
        str, typer.Option("--memory-limit", help="DuckDB memory limit.")
    ] = "3GB",
) -> int:
    """Train the account model on labelled data and write it to ``--out``."""
    if not truth:
        raise typer.BadParameter("give at least one --truth")
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    sources: list[dict] = []
    columns: list[str] | None = None
    for t in truth:
        if store_path is not None and t.is_file():
            with Store(store_path, memory_limit=memory_limit) as store:
                x, y, cols = labelled_matrix(
                    store, _labels(t), features=features_with_releases(releases)
                )
            info: dict = {
                "path": str(t),
                "store": str(store_path),
                "accounts": int(y.size),
                "attack": int(y.sum()),
            }
        elif t.is_dir():
            with console.status(f"featurising {t}…"):
                x, y, cols, info = _folder_rows(t, memory_limit)
        else:
            raise InputError(
                "bad --truth",
                "expected a simulator folder, or a truth.csv with --store",
                file=str(t),
            )
        if columns is not None and cols != columns:
            raise InputError(
                "feature mismatch", "sources produced different feature sets", file=str(t)
            )
        columns = cols
        parts.append((x, y))
        sources.append(info)
        console.print(f"[green]✓[/] {t}: {info['accounts']:,} accounts, {info['attack']:,} attack")
    assert columns is not None
    keep = [j for j, c in enumerate(columns) if c not in MODEL_EXCLUDED]
    x = np.vstack([p[0] for p in parts])[:, keep]
    y = np.concatenate([p[1] for p in parts])
    columns = [columns[j] for j in keep]
    manifest = {
        "command": _command(),
        "sources": sources,
        "seed": seed,
        "excluded": list(MODEL_EXCLUDED),
        "distillguard": _version(),
    }
    model = train_model(x, y, columns, rounds=rounds, seed=seed, manifest=manifest)
    model.save(out)
    console.print(
        f"wrote {out}: {len(columns)} features, {y.size:,} accounts ({int(y.sum()):,} attack)"
    )
    return 0
