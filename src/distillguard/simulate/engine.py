"""Run a scenario: build every source, then plan, merge, render and write day by day.

Memory is bounded by one simulated day of plans (numpy arrays) plus one write batch of
records; the log itself is never held. Every random draw comes from a numpy Generator
seeded by ``(seed, source, day)``, so the same seed and scenario give byte-identical
files, whatever the batch size.
"""

from __future__ import annotations

import gc
import json
import math
import multiprocessing as mp
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..contracts import CampaignTruth, TruthRow, write_truth
from .actors import DAY_MS, Plan, Source, World, iso_ms
from .campaigns import Campaign
from .network import network_pools
from .populations import benign_sources
from .prompts import prompt_library
from .scenario import Scenario
from .writer import ExchangeWriter, exchange_filename

__all__ = ["SimulationResult", "simulate"]

#: ``progress(days_done, days_total, exchanges_written)``
ProgressFn = Callable[[int, int, int], None]
_BATCH = 4096


@dataclass
class SimulationResult:
    """What a run wrote and how long it took."""

    out_dir: Path
    exchanges: int
    accounts: int
    attack_accounts: int
    attack_exchanges: int
    seconds: float
    by_group: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _rng(seed: int, *names: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def _world(s: Scenario, scale: float) -> World:
    models = sorted(
        ((m.name, int(m.released_at.timestamp() * 1000)) for m in s.models), key=lambda m: m[1]
    )
    return World(
        start_ms=int(s.start.timestamp() * 1000),
        days=s.days,
        periods=s.periods,
        models=models,
        net=network_pools(),
        lib=prompt_library(),
        scale=scale,
        period_ban_share=s.period_ban_share,
    )


def build_sources(s: Scenario, seed: int, scale: float) -> tuple[World, list[Source]]:
    """The world and every source (benign populations, then campaigns) of scenario ``s``."""
    w = _world(s, scale)
    sources: list[Source] = benign_sources(s, w, lambda name: _rng(seed, "population", name))
    for c in s.active_campaigns():
        sources.append(Campaign(c, w, _rng(seed, "campaign", c.actor)))
    return w, sources


def _write_registry(
    out: Path, s: Scenario, w: World, sources: list[Source], seed: int, scale: float
) -> list[str]:
    import orjson

    with (out / "accounts.jsonl").open("wb") as fh:
        for src in sources:
            fh.write(b"".join(orjson.dumps(a.registry()) + b"\n" for a in src.accounts))
    write_truth(
        out / "truth.csv",
        (
            TruthRow(
                account_id=a.account_id, group=src.group, actor=src.actor, is_attack=src.is_attack
            )
            for src in sources
            for a in src.accounts
        ),
    )
    truths = []
    for src in sources:
        if not isinstance(src, Campaign):
            continue
        knobs = src.spec.model_dump(mode="json", exclude={"actor", "archetype"})
        for p, members in enumerate(src.members):
            cid = src.actor if w.periods == 1 else f"{src.actor}-p{p + 1}"
            truths.append(
                CampaignTruth(
                    campaign_id=cid,
                    actor=src.actor,
                    archetype=src.group,
                    members=[src.accounts[i].account_id for i in members],
                    knobs={**knobs, "period": p + 1, "pivot_share": src.pivot_share},
                ).model_dump(mode="json")
            )
    (out / "campaigns_truth.json").write_text(json.dumps(truths, indent=1), encoding="utf-8")
    resolved = s.model_dump(mode="json")
    resolved["seed"] = seed
    resolved["scale"] = scale
    (out / "scenario.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False), encoding="utf-8")
    files = ["accounts.jsonl", "truth.csv", "campaigns_truth.json", "scenario.yaml"]
    releases = [
        {"model": n, "released_at": iso_ms(t)} for n, t in w.models if w.start_ms < t < w.end_ms
    ]
    if releases:
        (out / "model_releases.json").write_text(json.dumps(releases, indent=1), encoding="utf-8")
        files.append("model_releases.json")
    return files


def _lifetimes(sources: list[Source]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per source: when each account can first and last send (created / banned)."""
    return [
        (
            np.asarray([max(a.active_from_ms, a.created_at_ms) for a in src.accounts], np.int64),
            np.asarray([a.active_until_ms for a in src.accounts], np.int64),
        )
        for src in sources
    ]


def _day_plan(
    sources: list[Source],
    lives: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
    day: int,
    day_ms: int,
    w: World,
) -> tuple[np.ndarray, ...] | None:
    parts = []
    for si, src in enumerate(sources):
        p = src.plan(day, day_ms, _rng(seed, "plan", src.group, src.actor, str(day)))
        if p is None or len(p.ts) == 0:
            continue
        frm, until = lives[si]
        ok = (p.ts >= frm[p.acct]) & (p.ts < until[p.acct])
        if not ok.all():
            p = Plan(
                *(getattr(p, f)[ok] for f in ("ts", "acct", "conv", "turn", "kind", "out_tok"))
            )
        parts.append((np.full(len(p.ts), si, np.int16), p))
    if not parts:
        return None
    src_id = np.concatenate([s for s, _ in parts])
    ts = np.concatenate([p.ts for _, p in parts])
    cols = [
        np.concatenate([getattr(p, f) for _, p in parts])
        for f in ("acct", "conv", "turn", "kind", "out_tok")
    ]
    keep = (ts >= w.start_ms) & (ts < w.end_ms)
    order = np.argsort(ts[keep], kind="stable")
    return tuple(a[keep][order] for a in (src_id, ts, *cols))


def simulate(
    s: Scenario,
    out_dir: Path,
    *,
    seed: int | None = None,
    scale: float = 1.0,
    fmt: str = "jsonl",
    progress: ProgressFn | None = None,
    workers: int = 1,
) -> SimulationResult:
    """Simulate scenario ``s`` into ``out_dir``; see the module docstring for guarantees.

    ``workers > 1`` renders chunks in that many forked processes (JSON Lines formats;
    the output is byte-identical to one process).
    """
    t0 = time.perf_counter()
    seed = s.seed if seed is None else seed
    if scale <= 0:
        raise ValueError("scale must be positive")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    w, sources = build_sources(s, seed, scale)
    files = _write_registry(out, s, w, sources, seed, scale)
    n_days = math.ceil(s.days * s.periods)
    lives = _lifetimes(sources)
    by_group: dict[str, int] = {}
    # records are acyclic: the cyclic collector only burns time rescanning the world
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        n, attack = _run_days(
            sources, lives, seed, n_days, w, out, fmt, by_group, progress, workers
        )
    finally:
        gc.unfreeze()
        if gc_was_enabled:
            gc.enable()
    files.insert(0, exchange_filename(fmt))
    return SimulationResult(
        out_dir=out,
        exchanges=n,
        accounts=sum(len(src.accounts) for src in sources),
        attack_accounts=sum(len(src.accounts) for src in sources if src.is_attack),
        attack_exchanges=attack,
        seconds=time.perf_counter() - t0,
        by_group=by_group,
        files=files,
    )


Chunk = tuple[int, tuple[list[Any], ...]]


def _chunks(
    sources: list[Source],
    lives: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
    n_days: int,
    w: World,
    size: int,
    tally: dict[str, int],
    by_group: dict[str, int],
    progress: ProgressFn | None,
) -> Iterator[Chunk]:
    """Plan day by day and cut each day into chunks of at most ``size`` exchanges.

    A chunk is ``(number of the exchange before it, columns as Python lists)``;
    ``tally`` counts exchanges and attack exchanges as they are planned.
    """
    for day in range(n_days):
        plan = _day_plan(sources, lives, seed, day, w.start_ms + day * DAY_MS, w)
        if plan is not None:
            src_id, ts, acct, conv, turn, kind, out_tok = plan
            u_all = _rng(seed, "render", str(day)).random((len(ts), 6))
            stamps = np.datetime_as_string(ts.astype("datetime64[ms]"), unit="ms")
            for si, c in enumerate(np.bincount(src_id, minlength=len(sources)).tolist()):
                if c:
                    g = sources[si].group
                    by_group[g] = by_group.get(g, 0) + c
                    tally["attack"] += c if sources[si].is_attack else 0
            for b0 in range(0, len(ts), size):
                sl = slice(b0, b0 + size)
                cols = tuple(
                    a[sl].tolist()
                    for a in (src_id, ts, acct, conv, turn, kind, out_tok, u_all, stamps)
                )
                yield tally["n"], cols
                tally["n"] += len(cols[0])
        if progress:
            progress(day + 1, n_days, tally["n"])


def _render_chunk(sources: list[Source], chunk: Chunk) -> list[dict[str, Any]]:
    """The native records of one chunk (pure: same chunk, same records)."""
    n, cols = chunk
    out = []
    for si, t, a, cv, tn, k, o, u, st in zip(*cols, strict=True):
        src = sources[si]
        account = src.accounts[a]
        n += 1
        out.append(_record(n, st, account, src.render(account, t, cv, tn, k, o, u)))
    return out


_FORKED: list[Source] = []  # the sources a forked worker renders with


def _render_bytes(chunk: Chunk) -> tuple[bytes, int]:
    import orjson

    recs = _render_chunk(_FORKED, chunk)
    return b"".join(orjson.dumps(r) + b"\n" for r in recs), len(recs)


def _run_days(
    sources: list[Source],
    lives: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
    n_days: int,
    w: World,
    out: Path,
    fmt: str,
    by_group: dict[str, int],
    progress: ProgressFn | None,
    workers: int = 1,
) -> tuple[int, int]:
    tally = {"n": 0, "attack": 0}
    parallel = workers > 1 and fmt != "parquet" and "fork" in mp.get_all_start_methods()
    size = _BATCH * 4 if parallel else _BATCH
    chunks = _chunks(sources, lives, seed, n_days, w, size, tally, by_group, progress)
    with ExchangeWriter(out, fmt) as writer:
        if not parallel:
            for chunk in chunks:
                writer.write(_render_chunk(sources, chunk))
            return tally["n"], tally["attack"]
        _FORKED[:] = sources
        try:
            with mp.get_context("fork").Pool(workers) as pool:
                pending: deque[Any] = deque()
                for chunk in chunks:  # a bounded window of chunks in flight keeps memory flat
                    pending.append(pool.apply_async(_render_bytes, (chunk,)))
                    if len(pending) >= 2 * workers:
                        writer.write_encoded(*pending.popleft().get())
                while pending:
                    writer.write_encoded(*pending.popleft().get())
        finally:
            _FORKED.clear()
    return tally["n"], tally["attack"]


def _record(n: int, stamp: str, a: Any, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"ex_{n:010d}",
        "timestamp": stamp + "Z",
        "account_id": a.account_id,
        "org_id": a.org_id,
        "api_key_id": body["api_key_id"],
        "access_path": body["access_path"],
        "client": body["client"],
        "api": body["api"],
        "request": body["request"],
        "response": body["response"],
        "latency_ms": body["latency_ms"],
    }
