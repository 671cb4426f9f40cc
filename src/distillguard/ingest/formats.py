"""Which reader a file needs, decided from its content (not its name).

Parquet is recognised by its magic bytes; JSON Lines (plain or gzip) by the first
record that parses: ``resourceSpans`` -> ``otel``; a LiteLLM payload -> ``litellm``;
``api`` / ``request`` with an ``account_id`` -> ``native``; an account registry
record -> ``accounts``. A whole-file JSON document (a pretty-printed OTLP export) is
recognised too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import orjson

from .chunks import read_head
from .litellm import is_litellm_payload

__all__ = ["EXCHANGE_FORMATS", "FORMATS", "INPUT_SUFFIXES", "Format", "detect_format", "sniff"]

Format = Literal["native", "litellm", "otel", "accounts"]

#: Formats that hold exchanges (``--format`` choices besides ``auto``).
EXCHANGE_FORMATS: tuple[str, ...] = ("native", "litellm", "otel")

#: Every format a file may be detected as.
FORMATS: tuple[str, ...] = (*EXCHANGE_FORMATS, "accounts")

#: File names picked up when a folder is ingested.
INPUT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".gz", ".parquet", ".pq")

_ACCOUNT_KEYS = frozenset({"account_type", "created_at", "verification", "payment_fingerprint"})


def sniff(obj: object) -> Format | None:
    """The format one parsed record belongs to, or None when it fits none."""
    if not isinstance(obj, dict):
        return None
    if "resourceSpans" in obj:
        return "otel"
    if is_litellm_payload(obj):
        return "litellm"
    if "api" in obj or "request" in obj:
        return "native"
    if "account_id" in obj and _ACCOUNT_KEYS & obj.keys():
        return "accounts"
    return None


def is_parquet(path: str | Path) -> bool:
    """True when the file starts with Parquet's magic bytes."""
    with open(path, "rb") as f:
        return f.read(4) == b"PAR1"


def detect_format(path: str | Path) -> tuple[Format | None, bool]:
    """``(format, is_document)`` of a file; ``is_document`` means one whole-file JSON value."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        names = set(pq.read_schema(path).names)
        if "api" in names or "request" in names:
            return "native", False
        if "account_id" in names and _ACCOUNT_KEYS & names:
            return "accounts", False
        return None, False
    head = read_head(path, 1 << 20)
    for line in head.split(b"\n")[:200]:
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            try:
                obj = orjson.loads(line.decode("utf-8", "replace"))
            except orjson.JSONDecodeError:
                continue  # a broken line (reported later) or a pretty-printed document
        fmt = sniff(obj)
        if fmt is not None:
            return fmt, False
    stripped = head.lstrip()
    if stripped.startswith(b"{") and b'"resourceSpans"' in head:
        return "otel", True
    return None, False
