"""Stable short hashes of strings, computed once per distinct value."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["hash_distinct", "hash_one"]


def hash_one(text: str | None) -> str | None:
    """16-hex-digit BLAKE2b of ``text`` (null stays null); stable across versions."""
    if text is None:
        return None
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def hash_distinct(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """:func:`hash_one` of every element, hashing each distinct string once."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    enc = pc.dictionary_encode(values.cast(pa.string()))
    hashed = pa.array([hash_one(v) for v in enc.dictionary.to_pylist()], pa.string())
    return hashed.take(enc.indices)
