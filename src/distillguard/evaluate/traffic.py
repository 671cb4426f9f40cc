"""What the evaluation needs from the truth folder's exchange log, read once and kept small.

The metrics and the baselines need a few facts per exchange (who, when, how many tokens,
from where, single-turn or not), never the prompt text; the MMD baseline reads a bounded
sample of prompts in its own pass (:func:`sample_prompts`). The log is streamed through
:func:`distillguard.ingest.read_exchanges`, so any format it understands works, and only
the projected columns are kept in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError

__all__ = ["FACT_COLUMNS", "find_exchange_log", "load_exchange_facts", "sample_prompts"]

#: The exchange columns the evaluation keeps (no text).
FACT_COLUMNS = (
    "exchange_id",
    "account_id",
    "timestamp",
    "input_tokens",
    "output_tokens",
    "client_ip",
    "model",
    "n_assistant_turns",
    "has_tool_results",
)

_LOG_NAMES = (
    "exchanges.jsonl",
    "exchanges.jsonl.gz",
    "exchanges.parquet",
    "exchanges.json",
    "exchanges.ndjson",
)


def find_exchange_log(folder: Path) -> Path | None:
    """The exchange log inside a simulate output folder (``exchanges.jsonl[.gz]`` or Parquet)."""
    folder = Path(folder)
    for name in _LOG_NAMES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(p for p in folder.glob("exchanges*") if p.is_file())
    if found:
        return found[0]
    parts = folder / "exchanges"
    return parts if parts.is_dir() else None


def _batches(path: Path) -> Iterable[pa.RecordBatch]:
    from ..ingest import IngestSummary, read_exchanges

    summary = IngestSummary()
    yield from read_exchanges(path, summary=summary)


def load_exchange_facts(path: Path) -> pa.Table:
    """Read the exchange log at ``path`` keeping only :data:`FACT_COLUMNS` (streamed)."""
    path = Path(path)
    if not path.exists():
        raise InputError("missing_file", "exchange log not found", file=str(path))
    tables = [
        pa.Table.from_batches([b]).select(list(FACT_COLUMNS)) for b in _batches(path) if b.num_rows
    ]
    if not tables:
        from ..schema import EXCHANGE_SCHEMA

        return EXCHANGE_SCHEMA.empty_table().select(list(FACT_COLUMNS))
    return pa.concat_tables(tables).combine_chunks()


def sample_prompts(
    path: Path, accounts: set[str], per_account: int, seed: int = 0
) -> dict[str, list[str]]:
    """Up to ``per_account`` prompts (last user turn) for each account in ``accounts``.

    Reservoir sampling per account over the streamed log, so every exchange of an account
    has the same chance to be picked whatever its position in the file. Redacted or empty
    prompts are skipped.
    """
    rng = np.random.default_rng(seed)
    kept: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    wanted = pa.array(sorted(accounts), pa.string())
    for batch in _batches(Path(path)):
        table = pa.Table.from_batches([batch]).select(["account_id", "last_user_text"])
        table = table.filter(pc.is_in(table["account_id"], value_set=wanted))
        table = table.filter(pc.invert(pc.is_null(table["last_user_text"])))
        for acct, text in zip(
            table["account_id"].to_pylist(), table["last_user_text"].to_pylist(), strict=True
        ):
            if not text or not text.strip():
                continue
            n = seen.get(acct, 0)
            seen[acct] = n + 1
            bucket = kept.setdefault(acct, [])
            if n < per_account:
                bucket.append(text)
            else:
                j = int(rng.integers(0, n + 1))
                if j < per_account:
                    bucket[j] = text
    return kept
