"""``distillguard trace``: test a suspect's answers for our watermarks, with p-values."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from ..errors import ConfigError
from ..watermark.trace import (
    DEFAULT_ALPHA,
    DEFAULT_CONCLUSIVE_P,
    TEXT_FIELD,
    read_answers,
    trace_texts,
)
from ._app import app, console
from .mark import KEY_ENV


def _greenlist(key: str, mode: str, gguf: Path | None) -> Any | None:
    if mode == "off":
        return None
    have = all(importlib.util.find_spec(m) for m in ("torch", "transformers", "gguf"))
    if not have:
        if mode == "on":
            raise ConfigError(
                "--generation on needs the 'watermark' extra (torch, transformers, gguf)"
            )
        return None
    from ..watermark.generation import load_greenlist_detector

    try:
        return load_greenlist_detector(key, gguf)
    except ConfigError:
        if mode == "on":
            raise
        return None


@app.command()
def trace(
    file: Annotated[
        Path, typer.Argument(help="A suspect's answers: JSON Lines or one plain-text file.")
    ],
    key: Annotated[
        str, typer.Option("--key", envvar=KEY_ENV, help="The provider's watermark secret.")
    ] = "",
    field: Annotated[
        str, typer.Option("--field", help="JSON Lines field with the answer.")
    ] = TEXT_FIELD,
    generation: Annotated[
        str,
        typer.Option(
            "--generation",
            help="Test the generation watermarks (green list, SynthID Text) too: auto (when "
            "the 'watermark' extra and model are installed), on, off.",
        ),
    ] = "auto",
    gguf: Annotated[
        Path | None,
        typer.Option("--gguf", help="GGUF model whose tokenizer the mark used (default SmolLM2)."),
    ] = None,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Reporting threshold shared by all watermarks.")
    ] = DEFAULT_ALPHA,
    conclusive_p: Annotated[
        float, typer.Option("--conclusive-p", help="p-value called conclusive.")
    ] = DEFAULT_CONCLUSIVE_P,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> int:
    """Say, per watermark, whether FILE carries it: exact p-value, units, what would settle it."""
    if generation not in ("auto", "on", "off"):
        raise typer.BadParameter("--generation must be auto, on or off")
    if not 0 < alpha < 1 or not 0 < conclusive_p < 1:
        raise typer.BadParameter("--alpha and --conclusive-p must be in (0, 1)")
    texts = read_answers(file, text_field=field)
    greenlist = _greenlist(key, generation, gguf)
    synthid = None
    if greenlist is not None:  # same model tokens: test SynthID Text too
        from ..watermark.synthid import SynthIDDetector

        synthid = (SynthIDDetector(key), greenlist[1])
    report = trace_texts(
        texts,
        key,
        greenlist=greenlist,
        synthid=synthid,
        alpha=alpha,
        conclusive_p=conclusive_p,
    )
    if as_json:
        console.print_json(orjson.dumps(report.to_dict()).decode())
        return 0
    t = Table(title=f"trace: {file} ({report.answers} answers, alpha {alpha:g})")
    for col in ("watermark", "scored", "agreeing", "rate", "null", "p-value", "reported"):
        t.add_column(col)
    for e in report.evidence:
        t.add_row(
            e.watermark,
            f"{e.scored} {e.unit}",
            str(e.agreeing),
            f"{e.rate:.1%}",
            f"{e.null_rate:.0%}",
            f"{e.p_value:.3g}",
            "yes" if e.reported else "no",
        )
    console.print(t)
    for e in report.evidence:
        console.print(f"{e.watermark}: {e.note}")
    return 0
