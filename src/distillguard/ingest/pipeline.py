"""Streaming ingestion: files -> bounded canonical batches -> the store.

The main process cuts each file into chunks of whole lines (bounded bytes); a pool
of worker processes parses and normalises chunks into Arrow batches; the main
process appends each batch to DuckDB in its own transaction, in file order. At most
``2 * workers + 1`` chunks are in flight, so memory stays bounded whatever the file
size. A crash leaves every committed batch in the store and nothing half-written;
re-running skips what is already there (idempotent by exchange id).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import DistillguardError, InputError
from ..schema import EXCHANGE_SCHEMA
from .chunks import DEFAULT_CHUNK_BYTES, MAX_LINE_BYTES, Chunk, iter_chunks, read_head
from .formats import EXCHANGE_FORMATS, FORMATS, INPUT_SUFFIXES, detect_format, is_parquet
from .native import normalize_native
from .parse import ChunkResult, keep_heap, parse_chunk, parse_document
from .summary import IngestSummary, Rejection
from .writer import append_all, grouped, tune_store

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "STORE_MEMORY_LIMIT",
    "RejectedInput",
    "expand_paths",
    "ingest_paths",
    "read_exchanges",
]

#: Largest whole-file JSON document (pretty-printed OTLP export) read at once.
MAX_DOCUMENT_BYTES = 256 << 20

#: Arrow data handed to the store per insert statement (bounds the writer's memory).
HANDOFF_BYTES = 32 << 20

#: DuckDB memory cap during ingestion when the store was opened without one (its
#: default is 80% of RAM, which its buffer cache fills on large logs).
STORE_MEMORY_LIMIT = "384MB"

#: Below this much input, parsing stays in-process (a pool costs more than it saves).
_POOL_THRESHOLD = 16 << 20

Progress = Callable[[int], None]


class RejectedInput(DistillguardError):
    """Raised by ``ingest_paths(strict=True)`` after a run that rejected records."""

    def __init__(self, summary: IngestSummary) -> None:
        self.summary = summary
        super().__init__(f"{summary.n_rejected} record(s) rejected in strict mode")


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Rejection]]:
    """Files to read (folders walked recursively, hidden entries skipped) and missing paths."""
    files: list[Path] = []
    missing: list[Rejection] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                hidden = any(s.startswith(".") for s in rel)
                if f.is_file() and not hidden and f.name.lower().endswith(INPUT_SUFFIXES):
                    files.append(f)
        elif p.is_file():
            files.append(p)
        else:
            missing.append(Rejection(str(p), None, None, "missing_file", "no such file or folder"))
    return files, missing


class _Parser:
    """Parses chunks in-process or on a bounded pool of worker processes."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        if workers > 0:
            ctx = multiprocessing.get_context("spawn")
            self.pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=ctx, initializer=keep_heap
            )

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def map(
        self, fmt: str, file: str, items: Iterator[Chunk | Rejection], max_line: int
    ) -> Iterator[ChunkResult | Rejection | int]:
        """Yield results in file order, Rejections from the chunker, and raw positions."""
        if self.pool is None:
            for item in items:
                if isinstance(item, Rejection):
                    yield item
                    continue
                yield parse_chunk(fmt, file, item.start_line, item.data, max_line)
                yield item.raw_pos
            return
        inflight: deque[tuple[Future[ChunkResult] | Rejection, int]] = deque()
        limit = 2 * self.workers + 1
        for item in items:
            if isinstance(item, Rejection):
                inflight.append((item, -1))
            else:
                fut = self.pool.submit(parse_chunk, fmt, file, item.start_line, item.data, max_line)
                inflight.append((fut, item.raw_pos))
            while len(inflight) > limit or (inflight and isinstance(inflight[0][0], Rejection)):
                yield from _settle(inflight.popleft())
        while inflight:
            yield from _settle(inflight.popleft())


def _settle(entry: tuple[Any, int]) -> Iterator[ChunkResult | Rejection | int]:
    job, pos = entry
    if isinstance(job, Rejection):
        yield job
    else:
        yield job.result()
        yield pos


def _parquet_results(path: Path, rows_per_batch: int) -> Iterator[ChunkResult | int]:
    """Native exchanges stored as Parquet (nested columns or JSON-text bodies)."""
    import orjson
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    row_no = 0
    for batch in pf.iter_batches(batch_size=rows_per_batch):
        res = ChunkResult(batch=pa.RecordBatch.from_pylist([], schema=EXCHANGE_SCHEMA))
        rows = []
        for rec in batch.to_pylist():
            row_no += 1
            res.records_read += 1
            try:
                for key in ("request", "response", "client"):
                    if isinstance(rec.get(key), str):
                        rec[key] = orjson.loads(rec[key])
                row = normalize_native(rec)
            except InputError as err:
                res.rejections.append(Rejection.from_error(err, str(path), row_no))
                continue
            except orjson.JSONDecodeError as exc:
                res.rejections.append(
                    Rejection(str(path), row_no, None, "malformed_json", str(exc))
                )
                continue
            row["source_file"], row["source_line"] = str(path), row_no
            rows.append(row)
        res.batch = pa.RecordBatch.from_pylist(rows, schema=EXCHANGE_SCHEMA)
        yield res
    yield path.stat().st_size


def _file_results(
    path: Path, fmt: str, is_doc: bool, parser: _Parser, chunk_bytes: int, max_line: int
) -> Iterator[ChunkResult | Rejection | int]:
    name = str(path)
    if is_parquet(path):
        yield from _parquet_results(path, max(1024, chunk_bytes // 2048))
    elif is_doc:
        data = read_head(path, MAX_DOCUMENT_BYTES + 1)
        if len(data) > MAX_DOCUMENT_BYTES:
            msg = f"JSON document over {MAX_DOCUMENT_BYTES:,} bytes; export it as JSON Lines"
            yield Rejection(name, 1, None, "document_too_large", msg)
        else:
            yield parse_document(fmt, name, data)
        yield path.stat().st_size
    else:
        yield from parser.map(
            fmt, name, iter_chunks(path, chunk_bytes=chunk_bytes, max_line_bytes=max_line), max_line
        )


def _batches(
    files: list[Path],
    fmt: str,
    summary: IngestSummary,
    parser: _Parser,
    *,
    chunk_bytes: int,
    max_line: int,
    progress: Progress | None,
    on_accounts: Callable[[Path], None] | None,
) -> Iterator[pa.RecordBatch]:
    for path in files:
        kind: str | None
        if fmt == "auto":
            kind, is_doc = detect_format(path)
        else:
            kind, is_doc = fmt, fmt == "otel" and detect_format(path)[1]
        summary.files.append(str(path))
        if kind is None:
            summary.reject(
                Rejection(
                    str(path),
                    None,
                    None,
                    "unknown_format",
                    "not a native, LiteLLM, OTLP or account file",
                )
            )
            if progress:
                progress(path.stat().st_size)
            continue
        summary.formats[kind] += 1
        if kind == "accounts":
            if on_accounts is not None:
                on_accounts(path)
            if progress:
                progress(path.stat().st_size)
            continue
        last = 0
        for res in _file_results(path, kind, bool(is_doc), parser, chunk_bytes, max_line):
            if isinstance(res, int):
                if progress and res > last:
                    progress(res - last)
                    last = res
            elif isinstance(res, Rejection):
                summary.reject(res)
            else:
                summary.records_read += res.records_read
                summary.neutralised.update(res.neutralised)
                for r in res.rejections:
                    summary.reject(r)
                if res.batch.num_rows:
                    yield res.batch
        summary.bytes_read += path.stat().st_size


def _auto_workers(files: list[Path], workers: int | None) -> int:
    if workers is not None:
        return max(0, workers)
    total = sum(f.stat().st_size for f in files)
    return 0 if total < _POOL_THRESHOLD else min(os.cpu_count() or 1, 8)


def read_exchanges(
    path: str | os.PathLike[str],
    format: str = "auto",
    batch_size: int = 65_536,
    *,
    summary: IngestSummary | None = None,
    workers: int | None = 0,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[pa.RecordBatch]:
    """Stream canonical EXCHANGE_SCHEMA batches (at most ``batch_size`` rows) from a file or folder.

    Rejections go to ``summary``; without one, the first rejection raises
    :class:`InputError` (nothing is dropped silently). Account files met in a folder
    are passed over (use :func:`read_accounts`).
    """
    _check_format(format)
    files, missing = expand_paths([path])
    local = IngestSummary() if summary is None else summary
    for r in missing:
        local.reject(r)
    parser = _Parser(_auto_workers(files, workers))
    try:
        for batch in _batches(
            files,
            format,
            local,
            parser,
            chunk_bytes=chunk_bytes,
            max_line=max_line_bytes,
            progress=None,
            on_accounts=None,
        ):
            if summary is None and local.rejections:
                break
            for start in range(0, batch.num_rows, batch_size):
                yield batch.slice(start, batch_size)
    finally:
        parser.close()
    if summary is None and local.rejections:
        r = local.rejections[0]
        raise InputError(r.reason, r.message, file=r.file, line=r.line, field=r.field)


def _check_format(fmt: str) -> None:
    if fmt != "auto" and fmt not in EXCHANGE_FORMATS:
        raise InputError(
            "bad_format",
            f"format must be auto or one of {', '.join(EXCHANGE_FORMATS)}",
            field="format",
        )


def ingest_paths(
    paths: Iterable[str | os.PathLike[str]],
    store: Any,
    *,
    format: str = "auto",
    accounts: str | os.PathLike[str] | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_line_bytes: int = MAX_LINE_BYTES,
    append_bytes: int | None = None,
) -> IngestSummary:
    """Ingest files and folders (mixed formats, detected per file) into ``store``.

    Each batch is appended in its own transaction; exchanges already in the store are
    counted as duplicates. Account files (``accounts`` or met in a folder) are
    upserted. A store transaction ends at each whole DuckDB row group (see
    :func:`~distillguard.ingest.writer.append_all`), or once it holds ``append_bytes``
    of Arrow data when that is given.
    ``progress`` is called with the number of input bytes just consumed.
    While it runs, a store opened without ``memory_limit`` is capped at
    STORE_MEMORY_LIMIT and DuckDB keeps to one thread when workers parse. Scripts
    that ingest with worker processes need the usual ``if __name__ == "__main__":``
    guard (workers are spawned, never forked from a process holding DuckDB threads).
    With ``strict``, a run that rejected anything raises :class:`RejectedInput`
    (carrying the full summary) after everything else was read and reported.
    """
    from .accounts import read_accounts

    _check_format(format)
    files, missing = expand_paths(paths)
    summary = IngestSummary()
    for r in missing:
        summary.reject(r)

    def upsert(path: Path) -> None:
        table = read_accounts(path, summary)
        summary.accounts_upserted += store.upsert_accounts(table)

    if accounts is not None:
        summary.formats["accounts"] += 1
        upsert(Path(accounts))
    parser = _Parser(_auto_workers(files, workers))
    restore = tune_store(store, parser.workers, STORE_MEMORY_LIMIT)
    try:
        batches = _batches(
            files,
            format,
            summary,
            parser,
            chunk_bytes=chunk_bytes,
            max_line=max_line_bytes,
            progress=progress,
            on_accounts=upsert,
        )
        tables = grouped(
            batches, HANDOFF_BYTES if append_bytes is None else min(append_bytes, HANDOFF_BYTES)
        )
        append_all(store, tables, summary, append_bytes)
    finally:
        parser.close()
        restore()
    if strict and not summary.ok:
        raise RejectedInput(summary)
    return summary


assert set(EXCHANGE_FORMATS) <= set(FORMATS)
