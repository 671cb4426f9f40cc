"""The account registry (``accounts.jsonl``, gzip or Parquet) onto ACCOUNT_SCHEMA."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import InputError
from ..schema import ACCOUNT_SCHEMA
from ._fields import opt_str, req_str, timestamp
from .chunks import Chunk, iter_chunks
from .formats import is_parquet
from .parse import loads_line
from .summary import IngestSummary, Rejection

__all__ = ["normalize_account", "read_accounts"]


def _opt_ts(v: object, field: str) -> Any:
    return None if v is None or v == "" else timestamp(v, field)


def normalize_account(record: dict[str, Any]) -> dict[str, Any]:
    """Map one account registry record to a dict with exactly the ACCOUNT_SCHEMA columns."""
    if not isinstance(record, dict):
        raise InputError("not_an_object", f"expected a JSON object, got {type(record).__name__}")
    return {
        "account_id": req_str(record.get("account_id"), "account_id"),
        "org_id": opt_str(record.get("org_id"), "org_id"),
        "created_at": _opt_ts(record.get("created_at"), "created_at"),
        "account_type": opt_str(record.get("account_type"), "account_type", 64),
        "email_domain": opt_str(record.get("email_domain"), "email_domain", 256),
        "payment_fingerprint": opt_str(record.get("payment_fingerprint"), "payment_fingerprint"),
        "billing_country": opt_str(record.get("billing_country"), "billing_country", 8),
        "verification": opt_str(record.get("verification"), "verification", 32),
        "status": opt_str(record.get("status"), "status", 32),
        "status_changed_at": _opt_ts(record.get("status_changed_at"), "status_changed_at"),
    }


def _rows_jsonl(path: Path, summary: IngestSummary) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    neutralised: Counter[str] = Counter()
    for item in iter_chunks(path):
        if isinstance(item, Rejection):
            summary.reject(item)
            continue
        assert isinstance(item, Chunk)
        for offset, line in enumerate(item.data.split(b"\n")):
            if not line or line.isspace():
                continue
            line_no = item.start_line + offset
            summary.records_read += 1
            try:
                rows.append(normalize_account(loads_line(line, neutralised)))
            except InputError as err:
                summary.reject(Rejection.from_error(err, str(path), line_no))
    summary.neutralised.update(neutralised)
    return rows


def _rows_parquet(path: Path, summary: IngestSummary) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    row_no = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536):
        for rec in batch.to_pylist():
            row_no += 1
            summary.records_read += 1
            try:
                rows.append(normalize_account(rec))
            except InputError as err:
                summary.reject(Rejection.from_error(err, str(path), row_no))
    return rows


def read_accounts(path: str | Path, summary: IngestSummary | None = None) -> pa.Table:
    """Read an account registry file into an ACCOUNT_SCHEMA table.

    Bad records are skipped and reported to ``summary`` (file, line, field); without
    a summary the first bad record raises :class:`InputError`.
    """
    p = Path(path)
    local = IngestSummary() if summary is None else summary
    rows = _rows_parquet(p, local) if is_parquet(p) else _rows_jsonl(p, local)
    if summary is None and local.rejections:
        r = local.rejections[0]
        raise InputError(r.reason, r.message, file=r.file, line=r.line, field=r.field)
    return pa.Table.from_pylist(rows, schema=ACCOUNT_SCHEMA)
