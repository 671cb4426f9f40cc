"""Streaming writers for the exchange log: JSON Lines, gzip JSON Lines, Parquet.

Each writer takes encoded records a batch at a time and never holds more than one
batch. Gzip output has a fixed header time so the same seed gives the same bytes.
Parquet keeps the native field names and values (``timestamp`` as its RFC 3339 text); the
nested objects (``client``, ``request``, ``response``) are stored as JSON text, because request bodies differ between APIs and
between turns (a message ``content`` is a string or a list of blocks).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["FORMATS", "ExchangeWriter", "exchange_filename"]

Format = Literal["jsonl", "jsonl.gz", "parquet"]
#: Output formats ``simulate --format`` accepts.
FORMATS: tuple[str, ...] = ("jsonl", "jsonl.gz", "parquet")

_PARQUET = pa.schema(
    [
        ("id", pa.string()),
        ("timestamp", pa.string()),
        ("account_id", pa.string()),
        ("org_id", pa.string()),
        ("api_key_id", pa.string()),
        ("access_path", pa.string()),
        ("client", pa.string()),
        ("api", pa.string()),
        ("request", pa.string()),
        ("response", pa.string()),
        ("latency_ms", pa.int64()),
    ]
)


def exchange_filename(fmt: str) -> str:
    """``exchanges.jsonl``, ``exchanges.jsonl.gz`` or ``exchanges.parquet``."""
    return f"exchanges.{fmt}"


class ExchangeWriter:
    """Writes exchange records to ``DIR/exchanges.<fmt>`` a batch at a time."""

    def __init__(self, out_dir: Path, fmt: str = "jsonl") -> None:
        """Open the output (written under a temporary name until :meth:`close`)."""
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
        self.fmt = fmt
        self.path = Path(out_dir) / exchange_filename(fmt)
        self._tmp = self.path.with_name(self.path.name + ".part")
        self.count = 0
        self._fh: IO[bytes] | None = None
        self._raw: IO[bytes] | None = None
        self._pq: pq.ParquetWriter | None = None
        if fmt == "jsonl":
            self._fh = self._tmp.open("wb", buffering=1 << 20)
        elif fmt == "jsonl.gz":
            self._raw = self._tmp.open("wb")
            self._fh = gzip.GzipFile(
                filename="", fileobj=self._raw, mode="wb", compresslevel=3, mtime=0
            )  # type: ignore[assignment]
        else:
            self._pq = pq.ParquetWriter(str(self._tmp), _PARQUET, compression="zstd")

    def write(self, records: list[dict[str, Any]]) -> None:
        """Append a batch of native exchange records."""
        if not records:
            return
        if self._fh is not None:
            self._fh.write(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
        else:
            assert self._pq is not None
            cols: dict[str, list[Any]] = {f: [] for f in _PARQUET.names}
            for r in records:
                for f in _PARQUET.names:
                    v = r.get(f)
                    cols[f].append(
                        orjson.dumps(v).decode() if f in ("client", "request", "response") else v
                    )
            tbl = pa.table(cols, schema=_PARQUET)
            self._pq.write_table(tbl)
        self.count += len(records)

    def write_encoded(self, data: bytes, count: int) -> None:
        """Append ``count`` records already encoded as JSON Lines (JSON Lines formats only)."""
        if self._fh is None:
            raise ValueError("pre-encoded records need a JSON Lines format")
        self._fh.write(data)
        self.count += count

    def close(self) -> Path:
        """Finish the file and move it to its real name; returns the path."""
        if self._fh is not None:
            self._fh.close()
        if self._raw is not None:
            self._raw.close()
        if self._pq is not None:
            self._pq.close()
        self._tmp.replace(self.path)
        return self.path

    def __enter__(self) -> ExchangeWriter:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is None:
            self.close()
        else:
            for h in (self._fh, self._raw):
                if h is not None:
                    h.close()
            if self._pq is not None:
                self._pq.close()
            self._tmp.unlink(missing_ok=True)
