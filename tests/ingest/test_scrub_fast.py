"""The control-character pre-check decides exactly as a byte-by-byte reference."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa

from distillguard.ingest._fields import clean
from distillguard.ingest.scrub import _suspect, scrub_batch
from distillguard.schema import EXCHANGE_SCHEMA

_PIECES = [
    "plain ",
    "\n",
    "\t",
    "\r",
    "’",
    "—",
    "…",
    "é",
    "\u202a",
    "\u202e",
    "\u2066",
    "\u2069",
    "\u2028",
    "\u2010",
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\x0b",
    "漢",
]


def _reference(data: bytes) -> bool:
    text = data.decode("utf-8")
    return clean(text) != text


def test_pre_check_matches_the_reference_on_random_text() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 12)))
        data = text.encode()
        assert _suspect(pa.py_buffer(data)) == _reference(data), repr(text)
    assert _suspect(None) is False
    assert _suspect(pa.py_buffer(b"")) is False
    assert _suspect(pa.py_buffer("ends with a lead \xe2".encode()[:-1])) is False


def test_scrub_cleans_only_the_columns_that_need_it() -> None:
    rows = {n: [None, None] for n in EXCHANGE_SCHEMA.names}
    rows.update(
        exchange_id=["a", "b"],
        account_id=["x", "y"],
        user_text=["fine ’quotes’", "hidden\u202eevil\x1b[31m"],
        system_text=["clean", None],
        text_truncated=[False, False],
    )
    batch = pa.RecordBatch.from_pydict(rows, schema=EXCHANGE_SCHEMA)
    out = scrub_batch(batch)
    assert out.column("user_text").to_pylist() == ["fine ’quotes’", "hiddenevil[31m"]
    same = out.column("system_text").buffers()[2].address
    assert same == batch.column("system_text").buffers()[2].address  # not rebuilt
    lead = np.frombuffer(out.column("user_text").buffers()[2], dtype=np.uint8)
    assert 0x1B not in lead
