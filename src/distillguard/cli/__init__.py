"""The ``distillguard`` command line (typer + rich).

Each command lives in its own module under ``distillguard.cli`` and registers itself
on :data:`app` when imported; :data:`COMMAND_MODULES` lists them. A command is added
here only once it works: there are no stubs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import typer

from .. import __version__
from ..errors import DistillguardError
from ._app import app, console

__all__ = ["COMMAND_MODULES", "app", "main"]

#: Modules that define commands; one line per module.
COMMAND_MODULES: tuple[str, ...] = (
    # "ingest",  <- each command module adds its own line here
    "ingest",
    "scan",
    "train",
    "simulate",
    "mark",
    "trace",
    "evaluate",
    "serve",
    "replay",
    "actors",
    "intel",
    "export",
    "demo",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}")


def _version(value: bool) -> None:
    if value:
        console.print(f"distillguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Find and stop distillation campaigns against an LLM API."""


def _usage_errors() -> tuple[type[BaseException], ...]:
    """Click's exception classes: typer >= 0.29 bundles its own click, older uses click."""
    kinds: list[type[BaseException]] = []
    try:
        from typer._click.exceptions import ClickException as BundledClickException

        kinds.append(BundledClickException)
    except ImportError:  # pragma: no cover - older typer
        pass
    try:
        import click

        kinds.append(click.ClickException)
    except ImportError:  # pragma: no cover
        pass
    return tuple(kinds)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Usage errors print click's message and return 2; a :class:`DistillguardError`
    prints one line and returns 2; nothing else is swallowed.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        rv = app(args=args, prog_name="distillguard", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 1
    except DistillguardError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
    except _usage_errors() as exc:
        exc.show()  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    return rv if isinstance(rv, int) else 0
