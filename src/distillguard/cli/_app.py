"""The typer application and the shared console every command prints to."""

from __future__ import annotations

import typer
from rich.console import Console

__all__ = ["app", "console", "err_console"]

app = typer.Typer(
    name="distillguard",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Find and stop distillation campaigns against an LLM API.",
)
console = Console()
err_console = Console(stderr=True)
