"""ISA-L and zlib inflate gzip logs to the same chunks, and report broken streams alike."""

from __future__ import annotations

import gzip
import random
import zlib
from pathlib import Path

import pytest

import distillguard.ingest.chunks as chunks
from distillguard.ingest.chunks import Chunk, iter_chunks


def _log(path: Path, seed: int) -> bytes:
    rng = random.Random(seed)
    lines = [
        (
            f'{{"id": "ex_{i}", "text": "'
            + "".join(rng.choices("abc xyz\u00e9", k=rng.randint(1, 300)))
        ).encode()
        + b'"}\n'
        for i in range(1500)
    ]
    body = b"".join(lines)
    half = len(body) // 2
    cut = body.rfind(b"\n", 0, half) + 1
    path.write_bytes(gzip.compress(body[:cut]) + gzip.compress(body[cut:]))  # two members
    return body


def _read(path: Path) -> list[object]:
    return [
        (c.start_line, c.data) if isinstance(c, Chunk) else (c.line, c.reason)
        for c in iter_chunks(path, chunk_bytes=16 << 10)
    ]


def _lines(read: list[object]) -> list[tuple[int, bytes]]:
    """(line number, line) of every line the chunks hold."""
    out = []
    for start, data in read:  # type: ignore[misc]
        for k, line in enumerate(data.split(b"\n")[:-1]):
            out.append((start + k, line))
    return out


def test_isal_is_used_and_matches_zlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.jsonl.gz"
    body = _log(path, 1)
    assert chunks._zlib is not zlib  # the declared dependency is installed
    fast = _read(path)
    assert b"".join(d for _, d in fast) == body  # type: ignore[misc]
    monkeypatch.setattr(chunks, "_zlib", zlib)
    # chunk boundaries follow each library's output steps; the numbered lines are the same
    assert _lines(_read(path)) == _lines(fast) == list(enumerate(body.split(b"\n")[:-1], 1))


def test_broken_streams_are_reported_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.jsonl.gz"
    _log(path, 2)
    packed = path.read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(packed[: len(packed) // 3])
    bad = bytearray(packed)
    bad[len(bad) // 4 : len(bad) // 4 + 64] = b"\xff" * 64
    corrupt = tmp_path / "corrupt.gz"
    corrupt.write_bytes(bytes(bad))
    with_isal = [_read(cut), _read(corrupt)]
    monkeypatch.setattr(chunks, "_zlib", zlib)
    with_zlib = [_read(cut), _read(corrupt)]
    # a truncated stream: the same lines, then the same reason at the same line
    assert with_isal[0][-1] == with_zlib[0][-1]
    assert _lines(with_isal[0][:-1]) == _lines(with_zlib[0][:-1])
    # a corrupt block: what each library decoded of the call that failed is lost (ISA-L
    # decodes more per call), so the lines kept are a prefix of zlib's, each correct
    kept, ref = _lines(with_isal[1][:-1]), _lines(with_zlib[1][:-1])
    assert 100 < len(kept) <= len(ref) and kept == ref[: len(kept)]
    assert with_isal[0][-1][1] == "truncated_gzip"  # type: ignore[index]
    assert with_isal[1][-1][1] in ("corrupt_gzip", "truncated_gzip")  # type: ignore[index]
