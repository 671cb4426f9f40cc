"""``distillguard mark``: add the lexical watermark to responses (no model needed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from ..errors import InputError
from ..watermark.lexical import LexicalKey, mark_text
from ..watermark.trace import TEXT_FIELD
from ._app import app

KEY_ENV = "DISTILLGUARD_WATERMARK_KEY"


def _read(file: Path | None) -> tuple[str, bytes]:
    if file is None or str(file) == "-":
        return "<stdin>", sys.stdin.buffer.read()
    try:
        return str(file), file.read_bytes()
    except OSError as exc:
        raise InputError("unreadable", str(exc), file=str(file)) from exc


def _mark_jsonl(name: str, raw: bytes, key: LexicalKey, field: str) -> None:
    out = sys.stdout.buffer
    for line_no, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError("bad JSON", str(exc), file=name, line=line_no) from exc
        if not isinstance(record, dict) or not isinstance(record.get(field), str):
            raise InputError(
                "missing answer",
                f"expected a string field {field!r}",
                file=name,
                line=line_no,
                field=field,
            )
        try:
            record[field] = mark_text(record[field], key)
        except InputError as exc:
            raise InputError(exc.reason, str(exc), file=name, line=line_no, field=field) from exc
        out.write(orjson.dumps(record) + b"\n")
    out.flush()


@app.command()
def mark(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="JSON Lines of responses (one per line) or plain text; '-' or none: stdin."
        ),
    ] = None,
    key: Annotated[
        str, typer.Option("--key", envvar=KEY_ENV, help="The provider's watermark secret.")
    ] = "",
    field: Annotated[
        str, typer.Option("--field", help="JSON Lines field that holds the response text.")
    ] = TEXT_FIELD,
) -> int:
    """Mark responses with the keyed lexical watermark; writes them to stdout.

    Input whose first non-blank character is '{' is JSON Lines and comes back as JSON
    Lines with FIELD rewritten; any other input is one response, written back marked.
    """
    lexical_key = LexicalKey(key)
    name, raw = _read(file)
    if b"\x00" in raw:
        raise InputError("binary input", "input contains NUL bytes", file=name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("binary input", f"not UTF-8 at byte {exc.start}", file=name) from exc
    if not text.strip():
        raise InputError("no answers", "the input is empty", file=name)
    if text.lstrip().startswith("{"):
        _mark_jsonl(name, raw, lexical_key, field)
    else:
        try:
            sys.stdout.write(mark_text(text, lexical_key))
        except InputError as exc:
            raise InputError(exc.reason, str(exc), file=name) from exc
        sys.stdout.flush()
    return 0
