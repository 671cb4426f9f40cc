"""Ingestion: API logs of every supported format onto the canonical exchange schema.

Public entry points:

* :func:`normalize_native`, :func:`normalize_litellm`, :func:`normalize_otel_span`:
  one record -> one dict with exactly the EXCHANGE_SCHEMA columns (pure; the online
  decision path calls them per request);
* :func:`read_exchanges`: a file or folder -> bounded canonical Arrow batches;
* :func:`read_accounts`: an account registry -> an ACCOUNT_SCHEMA table;
* :func:`ingest_paths`: files and folders -> the store, with an :class:`IngestSummary`.
"""

from __future__ import annotations

from .accounts import normalize_account, read_accounts
from .formats import EXCHANGE_FORMATS, detect_format
from .litellm import normalize_litellm
from .native import normalize_native
from .otel import normalize_otel_span
from .pipeline import RejectedInput, expand_paths, ingest_paths, read_exchanges
from .summary import IngestSummary, Rejection

__all__ = [
    "EXCHANGE_FORMATS",
    "IngestSummary",
    "RejectedInput",
    "Rejection",
    "detect_format",
    "expand_paths",
    "ingest_paths",
    "normalize_account",
    "normalize_litellm",
    "normalize_native",
    "normalize_otel_span",
    "read_accounts",
    "read_exchanges",
]
