"""Vectorised control-character pass over canonical batches.

Rows built by the batch readers skip the per-string pass of
:func:`~distillguard.ingest._fields.clean`; instead each string column's UTF-8 data
buffer is checked at once with a byte lookup table (C0 controls except tab, newline and
carriage return; DEL; the bidi overrides U+202A-U+202E and isolates U+2066-U+2069).
Only a column that holds such a character is cleaned value by value, so clean data
costs one pass over memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from ..schema import EXCHANGE_SCHEMA
from ._fields import clean

__all__ = ["rows_to_batch", "scrub_batch"]

_BAD = np.zeros(256, dtype=bool)
_BAD[[*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]] = True
_NAMES = tuple(EXCHANGE_SCHEMA.names)


def _suspect(buf: pa.Buffer | None) -> bool:
    if buf is None or buf.size == 0:
        return False
    view = np.frombuffer(buf, dtype=np.uint8)
    if _BAD[view].any():
        return True
    lead = np.flatnonzero(view[:-2] == 0xE2)
    if lead.size == 0:
        return False
    b1, b2 = view[lead + 1], view[lead + 2]
    bidi = ((b1 == 0x80) & (b2 >= 0xAA) & (b2 <= 0xAE)) | (
        (b1 == 0x81) & (b2 >= 0xA6) & (b2 <= 0xA9)
    )
    return bool(bidi.any())


def _clean_array(arr: pa.Array) -> pa.Array:
    if pa.types.is_list(arr.type):
        values = arr.values
        if not _suspect(values.buffers()[2]):
            return arr
        fixed = pa.array([None if v is None else clean(v) for v in values.to_pylist()], values.type)
        return pa.ListArray.from_arrays(arr.offsets, fixed, mask=arr.is_null())
    if not _suspect(arr.buffers()[2]):
        return arr
    return pa.array([None if v is None else clean(v) for v in arr.to_pylist()], arr.type)


def scrub_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Remove control and bidi-override characters from every string column of a batch."""
    cols = []
    changed = False
    for field, col in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_string(field.type) or (
            pa.types.is_list(field.type) and pa.types.is_string(field.type.value_type)
        ):
            new = _clean_array(col)
            changed = changed or new is not col
            cols.append(new)
        else:
            cols.append(col)
    return pa.RecordBatch.from_arrays(cols, schema=batch.schema) if changed else batch


def rows_to_batch(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    """Canonical rows (dicts in schema column order) to one scrubbed EXCHANGE_SCHEMA batch."""
    if not rows:
        return pa.RecordBatch.from_pylist([], schema=EXCHANGE_SCHEMA)
    columns = list(zip(*[r.values() for r in rows], strict=True))
    arrays = [pa.array(c, f.type) for c, f in zip(columns, EXCHANGE_SCHEMA, strict=True)]
    return scrub_batch(pa.RecordBatch.from_arrays(arrays, schema=EXCHANGE_SCHEMA))
