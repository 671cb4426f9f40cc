"""Turn a chunk of JSON Lines into one canonical Arrow batch (runs in worker processes).

Each line is parsed with orjson into plain Python objects and mapped by the format's
normaliser; nothing here infers a nested schema. Bad lines become :class:`Rejection`
records with file, line and field. Invalid UTF-8 is neutralised (replaced by U+FFFD)
and the record kept; JSON nested deeper than orjson's limit is rejected as
``too_deep``.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from ..errors import InputError
from ..schema import EXCHANGE_SCHEMA
from ._fields import clean_row
from .chunks import MAX_LINE_BYTES
from .fastrow import fast_native_row
from .litellm import litellm_row
from .native import native_row
from .otel import is_genai_span, iter_otel_spans, normalize_otel_span
from .scrub import rows_to_batch, tuples_to_batch
from .summary import Rejection

__all__ = [
    "ChunkResult",
    "keep_heap",
    "loads_line",
    "parse_chunk",
    "parse_document",
    "records_of",
]

Record = dict[str, Any] | InputError

_EMPTY = pa.RecordBatch.from_pylist([], schema=EXCHANGE_SCHEMA)


@dataclass
class ChunkResult:
    """What one chunk produced: a batch, its rejections and counts."""

    batch: pa.RecordBatch
    rejections: list[Rejection] = field(default_factory=list)
    records_read: int = 0
    neutralised: Counter[str] = field(default_factory=Counter)


def loads_line(line: bytes, neutralised: Counter[str]) -> Any:
    """Parse one JSON line; repairs invalid UTF-8, raises InputError otherwise."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        msg = str(exc)
    if "UTF-8" in msg:
        try:
            obj = orjson.loads(line.decode("utf-8", "replace"))
        except orjson.JSONDecodeError as exc:
            msg = str(exc)
        else:
            neutralised["invalid_utf8"] += 1
            return obj
    reason = "too_deep" if "depth" in msg or "ecursion" in msg else "malformed_json"
    raise InputError(reason, msg[:200])


def _one(fn: Callable[[dict[str, Any]], dict[str, Any]], obj: Any, scrub: bool) -> Iterator[Record]:
    try:
        yield clean_row(fn(obj)) if scrub else fn(obj)
    except InputError as err:
        yield err
    except RecursionError:
        yield InputError("too_deep", "record nests too deeply")


def _spans(obj: Any) -> Iterator[Record]:
    try:
        for path, span, rattrs in iter_otel_spans(obj):
            if not is_genai_span(span):
                continue
            try:
                yield normalize_otel_span(span, rattrs)
            except InputError as err:
                err.field = f"{path}.{err.field}" if err.field else path
                yield err
    except InputError as err:
        yield err


def records_of(fmt: str, obj: Any, scrub: bool = True) -> Iterator[Record]:
    """Canonical rows (or InputErrors) from one parsed JSON value of format ``fmt``.

    ``scrub=False`` skips the per-value control-character pass (the batch reader
    scrubs whole columns instead, see :mod:`distillguard.ingest.scrub`).
    """
    if fmt == "native":
        return _one(native_row, obj, scrub)
    if fmt == "litellm":
        return _one(litellm_row, obj, scrub)
    if fmt == "otel":
        return _spans(obj)
    raise ValueError(f"not an exchange format: {fmt}")


def _to_batch(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    return rows_to_batch(rows)


def parse_chunk(
    fmt: str, file: str, start_line: int, data: bytes, max_line_bytes: int = MAX_LINE_BYTES
) -> ChunkResult:
    """Parse whole JSON lines starting at ``start_line`` into one EXCHANGE_SCHEMA batch."""
    gc_was_on = gc.isenabled()
    gc.disable()  # parsed records hold no cycles; collecting mid-chunk only costs time
    try:
        return _parse_lines(fmt, file, start_line, data, max_line_bytes)
    finally:
        if gc_was_on:
            gc.enable()


def _parse_lines(
    fmt: str, file: str, start_line: int, data: bytes, max_line_bytes: int
) -> ChunkResult:
    rows: list[tuple[Any, ...]] = []
    out = ChunkResult(batch=_EMPTY)
    fast = fast_native_row if fmt == "native" else None
    line_no = start_line - 1
    for line in data.split(b"\n"):
        line_no += 1
        if not line or line.isspace():
            continue
        if len(line) > max_line_bytes:
            out.records_read += 1
            out.rejections.append(
                Rejection(
                    file,
                    line_no,
                    None,
                    "line_too_long",
                    f"line longer than {max_line_bytes:,} bytes",
                )
            )
            continue
        try:
            obj = loads_line(line, out.neutralised)
        except InputError as err:
            out.records_read += 1
            out.rejections.append(Rejection.from_error(err, file, line_no))
            continue
        if fast is not None:
            row = fast(obj, file, line_no)
            if row is not None:
                out.records_read += 1
                rows.append(row)
                continue
        for rec in records_of(fmt, obj, scrub=False):  # the batch is scrubbed at once
            out.records_read += 1
            if isinstance(rec, InputError):
                out.rejections.append(Rejection.from_error(rec, file, line_no))
            else:
                rec["source_file"] = file
                rec["source_line"] = line_no
                rows.append(tuple(rec.values()))
    out.batch = tuples_to_batch(rows)
    return out


def parse_document(fmt: str, file: str, data: bytes) -> ChunkResult:
    """Parse a whole-file JSON document (e.g. a pretty-printed OTLP export)."""
    out = ChunkResult(batch=_EMPTY)
    rows: list[dict[str, Any]] = []
    try:
        obj = loads_line(data, out.neutralised)
    except InputError as err:
        out.records_read += 1
        out.rejections.append(Rejection.from_error(err, file, 1))
        obj = None
    if obj is not None:
        for rec in records_of(fmt, obj):
            out.records_read += 1
            if isinstance(rec, InputError):
                out.rejections.append(Rejection.from_error(rec, file, 1))
            else:
                rec["source_file"] = file
                rec["source_line"] = 1
                rows.append(rec)
    out.batch = _to_batch(rows)
    return out


def keep_heap() -> None:
    """Worker start-up: let glibc keep freed memory for the next chunk.

    Each chunk allocates and frees tens of MB; by default glibc hands 4 MiB buffers back
    to the kernel (mmap) and trims the heap, so every chunk page-faults its memory in
    again. Raising the thresholds (the values of ``MALLOC_MMAP_THRESHOLD_=64MiB
    MALLOC_TRIM_THRESHOLD_=256MiB MALLOC_TOP_PAD_=64MiB``) cut the workers' system time
    by about 60% and their CPU by 5-10% in our measurement. A no-op off glibc.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD
        libc.mallopt(-2, 64 << 20)  # M_TOP_PAD
    except (OSError, AttributeError):
        pass
