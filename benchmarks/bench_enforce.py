"""What online enforcement lets each campaign take, and what benign users pay.

The pipeline a provider would run, on the simulator:

1. simulate a scenario (two-period scenarios: the second period is replayed; one-period
   scenarios: the second half is);
2. period one (its exchanges, the registry as it stood then) goes into a store and is
   scanned: ``verdicts.csv`` / ``campaigns.json`` and the store's banned accounts and
   actors are what the gateway knows when period two starts;
3. period two is replayed through ``decide`` + ``observe`` in time order with those
   verdicts, the registry (statuses as of the boundary) and the store as intel;
4. :func:`distillguard.evaluate.metrics.enforcement_metrics` scores the decisions of
   period two: per campaign the share of its output tokens served at full quality
   (allow / monitor) and before its first enforcement; per benign group the share of
   exchanges throttled, challenged, degraded or blocked.

``python -m benchmarks enforce`` runs the held-out list (:data:`HELDOUT`, runs the
policy was never tuned on); ``DG_BENCH_ENFORCE_SET=tuning`` (or ``all``) runs the
tuning runs (:data:`TUNING`) instead (or both). ``run_one(scenario, seed, scale,
root)`` runs one. Folders are cached under ``$DG_BENCH_ENFORCE`` (default a temp folder) so
a policy change can be measured again without re-simulating or re-scanning
(``out_name`` keeps each variant's decisions apart).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

#: (scenario, seed) the policy was tuned on.
TUNING = [("attribution-2p", 21), ("attribution-2p", 31), ("default", 7)]
#: (scenario, seed) never tuned on (heldout-mix 9203 was looked at once for
#: ``verdict_full_weight_from``; 9204, 9205 and 9206 were added unseen).
HELDOUT = [
    ("attribution-2p", 9201),
    ("attribution-2p", 9202),
    ("attribution-2p", 9204),
    ("attribution-2p", 9205),
    ("heldout-mix", 9203),
    ("heldout-mix", 9206),
]


def _prepare(root: Path, scenario: str, seed: int, scale: float) -> tuple[Path, Any]:
    """Simulate, split at the boundary, scan period one (cached in ``root``)."""
    from distillguard.ingest import ingest_paths
    from distillguard.scan import run_scan
    from distillguard.simulate.engine import simulate
    from distillguard.simulate.scenario import load_scenario
    from distillguard.store import Store

    sc = load_scenario(scenario)
    sc = sc.model_copy(update={"seed": seed})
    sim = root / "sim"
    if not (sim / "truth.csv").is_file():
        simulate(sc, sim, scale=scale)
    days = sc.days if sc.periods == 2 else sc.days / 2
    boundary = sc.start + timedelta(days=days)
    if not (root / "out1" / "verdicts.csv").is_file():
        with Store(root / "all.duckdb", memory_limit="2GB") as all_store:
            ingest_paths([sim / "exchanges.jsonl"], all_store, accounts=sim / "accounts.jsonl")
        p1 = Store(root / "p1.duckdb", memory_limit="2GB")
        p1.con.execute(f"ATTACH '{root / 'all.duckdb'}' AS src (READ_ONLY)")
        p1.con.execute(
            "INSERT INTO exchanges SELECT * FROM src.exchanges WHERE timestamp < ?", [boundary]
        )
        p1.con.execute(
            "INSERT INTO accounts SELECT account_id, org_id, created_at, account_type, "
            "email_domain, payment_fingerprint, billing_country, verification, "
            "CASE WHEN status_changed_at < ? THEN status ELSE 'active' END, "
            "CASE WHEN status_changed_at < ? THEN status_changed_at END "
            "FROM src.accounts WHERE created_at < ?",
            [boundary, boundary, boundary],
        )
        p1.con.execute("DETACH src")
        try:
            run_scan(p1, root / "out1", report=False)
        finally:
            p1.close()
    if not (root / "p2.jsonl").is_file():
        cut = boundary.timestamp()
        from distillguard.online.context import parse_timestamp

        with (sim / "exchanges.jsonl").open("rb") as src, (root / "p2.jsonl").open("wb") as dst:
            for raw in src:
                if parse_timestamp(orjson.loads(raw)["timestamp"]) >= cut:
                    dst.write(raw)
        with (
            (sim / "accounts.jsonl").open("rb") as src,
            (root / "accounts.jsonl").open("wb") as dst,
        ):
            for raw in src:
                rec = orjson.loads(raw)
                changed = rec.get("status_changed_at")
                if changed and parse_timestamp(changed) >= cut:
                    rec["status"], rec["status_changed_at"] = "active", None
                dst.write(orjson.dumps(rec) + b"\n")
    return sim, boundary


def _score(root: Path, sim: Path, out_name: str = "replay") -> dict[str, Any]:
    import pyarrow as pa

    from distillguard.evaluate.harness import load_truth, read_decision_table
    from distillguard.evaluate.metrics import enforcement_metrics
    from distillguard.online.context import parse_timestamp

    truth, campaigns_truth = load_truth(sim)
    ids, accts, ts, toks = [], [], [], []
    with (root / "p2.jsonl").open("rb") as fh:
        for raw in fh:
            r = orjson.loads(raw)
            usage = (r.get("response") or {}).get("usage") or {}
            ids.append(r["id"])
            accts.append(r["account_id"])
            ts.append(int(parse_timestamp(r["timestamp"]) * 1_000_000))
            toks.append(int(usage.get("output_tokens") or usage.get("completion_tokens") or 0))
    ex = pa.table(
        {
            "exchange_id": ids,
            "account_id": accts,
            "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "output_tokens": toks,
        }
    )
    dec = read_decision_table(root / out_name / "decisions.csv")
    seen = set(accts)
    camps = [c for c in campaigns_truth if seen.intersection(c.members)]
    return enforcement_metrics(truth, camps, ex, dec)


def run_one(
    scenario: str,
    seed: int,
    scale: float = 1.0,
    root: Path | None = None,
    *,
    policy: str | Path | None = None,
    out_name: str = "replay",
) -> dict[str, Any]:
    """Prepare (cached), replay period two, score; returns the metrics plus timings."""
    from distillguard.online.setup import build_enforcer
    from distillguard.replay import replay

    base = Path(os.environ.get("DG_BENCH_ENFORCE") or tempfile.gettempdir()) / "dg-enforce"
    root = root or base / f"{scenario}-{seed}-{scale:g}"
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sim, _ = _prepare(root, scenario, seed, scale)
    t_prep = time.perf_counter() - t0
    t0 = time.perf_counter()
    enforcer, _w = build_enforcer(
        policy=policy,
        verdicts=root / "out1",
        accounts=root / "accounts.jsonl",
        intel_store=root / "p1.duckdb",
    )
    summary = replay(root / "p2.jsonl", root / out_name, enforcer=enforcer)
    t_replay = time.perf_counter() - t0
    out = _score(root, sim, out_name)
    out["seconds"] = {"prepare": round(t_prep, 1), "replay": round(t_replay, 1)}
    out["exchanges"] = summary.exchanges
    (root / out_name / "enforcement.json").write_text(json.dumps(out, indent=2, default=str))
    return out


def rows_of(scenario: str, seed: int, m: dict[str, Any]) -> list[dict[str, object]]:
    """One table row per campaign and per benign group."""
    rows: list[dict[str, object]] = []
    for unit, c in sorted(m["campaigns"].items()):
        rows.append(
            {
                "run": f"{scenario}/{seed}",
                "unit": unit,
                "exchanges": c["exchanges"],
                "full-quality tokens": f"{c['full_quality_tokens']:.1%}",
                "tokens before first enforcement": f"{c['before_first_enforcement_tokens']:.1%}",
                "affected / blocked": "",
            }
        )
    n_all = aff_all = blocked_ent = 0
    for unit, g in sorted(m["benign_groups"].items()):
        aff = g["throttled"] + g["verified"] + g["degraded"] + g["blocked"]
        n_all += g["exchanges"]
        aff_all += round(aff * g["exchanges"])
        if unit == "enterprise":
            blocked_ent = g["blocked_exchanges"]
        rows.append(
            {
                "run": f"{scenario}/{seed}",
                "unit": f"benign:{unit}",
                "exchanges": g["exchanges"],
                "full-quality tokens": "",
                "tokens before first enforcement": "",
                "affected / blocked": f"{aff:.3%} / {g['blocked_exchanges']}",
            }
        )
    rows.append(
        {
            "run": f"{scenario}/{seed}",
            "unit": "benign:all (enterprise blocked)",
            "exchanges": n_all,
            "full-quality tokens": "",
            "tokens before first enforcement": "",
            "affected / blocked": f"{aff_all / max(n_all, 1):.3%} ({blocked_ent})",
        }
    )
    return rows


def run(scale: float = 1.0) -> list[dict[str, object]]:
    """Held-out runs (``DG_BENCH_ENFORCE_SET``: ``heldout`` default, ``tuning``, ``all``)."""
    which = os.environ.get("DG_BENCH_ENFORCE_SET", "heldout")
    runs = {"heldout": HELDOUT, "tuning": TUNING, "all": TUNING + HELDOUT}.get(which)
    if runs is None:
        raise ValueError(f"DG_BENCH_ENFORCE_SET must be heldout, tuning or all, not {which!r}")
    rows: list[dict[str, object]] = []
    for scenario, seed in runs:
        rows += rows_of(scenario, seed, run_one(scenario, seed, scale))
    return rows
