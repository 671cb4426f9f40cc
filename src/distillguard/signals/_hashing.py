"""Stable short hashes of strings, computed once per distinct value."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["hash_distinct", "hash_one"]


def hash_one(text: str | None) -> str | None:
    """First 16 hex digits of the MD5 of ``text``'s UTF-8 (null stays null).

    A fingerprint, not a security boundary: stable across versions and machines (so
    shared indicators and saved vocabularies keep meaning) and cheap to compute.
    """
    if text is None:
        return None
    return hashlib.md5(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()[
        :16
    ]


def hash_distinct(values: pa.Array | pa.ChunkedArray, *, distinct: bool = False) -> pa.Array:
    """:func:`hash_one` of every element; hashes each distinct string once.

    ``distinct=True`` says the values are already distinct (skips the dedupe).
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.string())
    md5 = hashlib.md5
    if distinct:
        return pa.array(
            [
                None if v is None else md5(v, usedforsecurity=False).hexdigest()[:16]
                for v in pc.cast(values, pa.binary()).to_pylist()
            ],
            pa.string(),
        )
    enc = pc.dictionary_encode(values)
    return hash_distinct(enc.dictionary, distinct=True).take(enc.indices)
