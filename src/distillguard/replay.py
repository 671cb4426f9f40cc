"""Replay a log through online enforcement, in time order, as if it were live.

Each exchange is decided first (``decide``: only what was known before it), then
observed (``observe``: its signals join the account's online features), exactly as a
gateway would do. In-process by default; with ``service_url`` over HTTP against a
running ``distillguard serve``. Writes ``OUT/decisions.csv`` (one row per exchange,
:func:`distillguard.contracts.write_decisions`) and ``OUT/replay_summary.json``.

Per-exchange signals are a pure function of the exchange, so in-process replay computes
them for a chunk of exchanges at once (one Arrow batch through the batch code) and hands
each exchange its own row: the same values the online path computes one by one.
"""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .contracts import Decision as DecisionRow
from .contracts import write_decisions
from .errors import InputError
from .online.context import RequestContext, parse_timestamp
from .online.engine import Enforcer

__all__ = ["ReplaySummary", "iter_native", "replay"]


@dataclass
class ReplaySummary:
    """What a replay did."""

    exchanges: int = 0
    rejected: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    mode: str = "in-process"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "exchanges": self.exchanges,
            "rejected": self.rejected,
            "actions": dict(self.actions),
            "seconds": round(self.seconds, 3),
            "mode": self.mode,
        }


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(
            p for p in path.rglob("*") if p.name.endswith((".jsonl", ".jsonl.gz", ".ndjson"))
        )
        return [p for p in found if p.name.startswith("exchanges")] or found
    if not path.exists():
        raise InputError("not_found", "no such file or folder", file=str(path))
    return [path]


def iter_native(path: Path) -> Iterator[tuple[float, bytes]]:
    """``(timestamp, raw JSON line)`` of every exchange in a JSONL(.gz) file or folder.

    A malformed line is reported (file and line) by raising :class:`InputError` only when
    nothing parses; otherwise it is skipped and counted by :func:`replay`.
    """
    for f in _files(Path(path)):
        opener: Callable[..., Any] = gzip.open if f.name.endswith(".gz") else open
        with opener(f, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    head = orjson.loads(raw)
                    ts = parse_timestamp(head.get("timestamp"))
                except Exception:
                    yield (-1.0, f"{f}:{lineno}".encode())
                    continue
                yield (ts, raw)


def _chunks(items: list[tuple[float, bytes]], size: int) -> Iterator[list[tuple[float, bytes]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def replay(
    logs: str | Path,
    out: str | Path,
    *,
    enforcer: Enforcer | None = None,
    service_url: str | None = None,
    chunk: int = 2048,
    progress: Callable[[int, int], None] | None = None,
) -> ReplaySummary:
    """Replay ``logs`` and write ``OUT/decisions.csv``; see the module docstring."""
    if (enforcer is None) == (service_url is None):
        raise ValueError("give exactly one of enforcer or service_url")
    t0 = time.perf_counter()
    summary = ReplaySummary(mode="in-process" if enforcer is not None else f"http {service_url}")
    items = list(iter_native(Path(logs)))
    summary.rejected = sum(1 for ts, _ in items if ts < 0)
    items = sorted((it for it in items if it[0] >= 0), key=lambda it: it[0])
    total = len(items)
    rows: list[DecisionRow] = []
    step = _HttpStep(service_url) if service_url is not None else None
    try:
        for part in _chunks(items, chunk):
            records = [orjson.loads(raw) for _, raw in part]
            if step is not None:
                decided = [step.run(rec) for rec in records]
            else:
                assert enforcer is not None
                decided = _in_process(enforcer, records)
            for rec, (action, risk, reasons) in zip(records, decided, strict=True):
                rows.append(
                    DecisionRow.model_construct(
                        exchange_id=str(rec.get("id")),
                        account_id=str(rec.get("account_id")),
                        timestamp=_dt(rec.get("timestamp")),
                        action=action,
                        risk=risk,
                        reasons=reasons,
                    )
                )
                summary.actions[action] += 1
            summary.exchanges += len(part)
            if progress is not None:
                progress(summary.exchanges, total)
    finally:
        if step is not None:
            step.close()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_decisions(out_dir / "decisions.csv", rows)
    summary.seconds = time.perf_counter() - t0
    (out_dir / "replay_summary.json").write_text(json.dumps(summary.to_dict(), indent=2))
    return summary


def _dt(value: Any) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(parse_timestamp(value), UTC)


def _in_process(
    enforcer: Enforcer, records: list[dict[str, Any]]
) -> list[tuple[str, float, list[str]]]:
    contexts = [RequestContext.from_native(r) for r in records]
    if enforcer.batch_signals is not None:
        sigs = enforcer.batch_signals(records)
        for ctx, sig in zip(contexts, sigs, strict=True):
            ctx.signals = sig
    out: list[tuple[str, float, list[str]]] = []
    for ctx in contexts:
        d = enforcer.decide(ctx)
        enforcer.observe(ctx)  # signals already attached: the same row decide saw
        out.append((d.action, min(max(d.risk, 0.0), 1.0), d.reasons))
    return out


class _HttpStep:
    """Decide and observe one exchange against a running service."""

    def __init__(self, url: str) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.client = httpx.Client(timeout=10.0, headers={"content-type": "application/json"})

    def run(self, rec: dict[str, Any]) -> tuple[str, float, list[str]]:
        req = {k: v for k, v in rec.items() if k != "response"}
        r = self.client.post(f"{self.url}/v1/decide", content=orjson.dumps(req))
        r.raise_for_status()
        d = r.json()
        o = self.client.post(f"{self.url}/v1/observe?sync=true", content=orjson.dumps(rec))
        o.raise_for_status()
        return d["action"], float(d["risk"]), list(d["reasons"])

    def close(self) -> None:
        self.client.close()
