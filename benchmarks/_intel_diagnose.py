"""Diagnostics for kept ``bench_intel`` runs (``$DG_BENCH_INTEL_KEEP``).

* :func:`score_margins`: how returning-link scores spread around the flag thresholds
  (how thresholds are derived on training seeds, see docs/intel.md);
* :func:`evaluate_dir`: re-measure a kept run with the current intel code (with
  ``relearn``, provider A's actor memory is learned again from its period-one scan).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_intel import (
    SCENARIO,
    _copy_actor_memory,
    _name_actors,
    _partner,
    _truth,
    evaluate,
)
from distillguard.contracts import read_campaigns
from distillguard.store import Store

_ACTOR_TABLES = ("actor_accounts", "actor_fingerprints", "actors")


def relearn_actors(root: Path) -> dict[str, str]:
    """Name provider A's period-one campaigns again with the current intel code.

    The kept period-one scan is reused (nothing is simulated or scanned again); the actor
    memory of ``p1-asis`` and its copy in ``p2-asis`` are replaced. Returns campaign ->
    actor, as the benchmark's naming step.
    """
    truth, _ = _truth(root / "sim")
    camps = read_campaigns(root / "out1" / "campaigns.json")
    with Store(root / "p1-asis.duckdb") as p1:
        for t in _ACTOR_TABLES:
            p1.con.execute(f"DELETE FROM {t}")
        named = _name_actors(p1, camps, truth)
    with Store(root / "p2-asis.duckdb") as p2:
        for t in _ACTOR_TABLES:
            p2.con.execute(f"DELETE FROM {t}")
        _copy_actor_memory(root / "p1-asis.duckdb", p2)
    return named


def score_margins(root: Path, tag: str = "asis") -> dict[str, Any]:
    """How the returning-link scores of one kept run spread around the flag thresholds.

    For every period-two account: its strongest link's score and whether it has two
    independent families. Reported: the highest benign score, and for a ladder of
    candidate flag scores the benign accounts and the share of attack accounts that
    would be flagged (two families required), so thresholds can be derived on training
    seeds and only checked on evaluation seeds.
    """
    from distillguard.intel import BanEvasionIndex
    from distillguard.intel._evidence import ensure_account_values
    from distillguard.intel.evasion import account_evidence

    truth, period2 = _truth(root / "sim")
    src = root / (f"p2-{tag}.duckdb" if tag == "partner" else f"p1-{tag}.duckdb")
    with Store(src, read_only=True) as p1:
        index = BanEvasionIndex.from_store(p1)
    with Store(root / f"p2-{tag}.duckdb", read_only=True) as p2:
        ensure_account_values(p2)
        links = account_evidence(p2, index)
        active = {
            a for (a,) in p2.con.execute("SELECT DISTINCT account_id FROM exchanges").fetchall()
        }
    best: dict[str, tuple[float, int, float]] = {}
    for a, per_target in links.items():
        if index.known_account(a) is not None:  # as returning_accounts: not a newcomer
            continue
        lk = max(per_target.values(), key=lambda x: x.score)
        best[a] = (lk.score, len(lk.families), lk.payment_score)
    benign = [a for a in active if not truth.get(a)]
    attack = [a for a in active if truth.get(a) and a in period2]
    ladder = {}
    for t in (2.0, 2.5, 3.0, 3.5, 4.0):
        ladder[t] = {
            "benign": sum(best.get(a, (0, 0, 0))[0] >= t and best[a][1] >= 2 for a in benign),
            "attack": sum(best.get(a, (0, 0, 0))[0] >= t and best[a][1] >= 2 for a in attack)
            / max(len(attack), 1),
        }
    top_benign = sorted((best.get(a, (0.0, 0, 0.0)) for a in benign), reverse=True)[:5]
    return {"benign_top5": top_benign, "ladder": ladder, "attack": len(attack)}


def evaluate_dir(
    root: Path, scenario: str = SCENARIO, *, partner: bool = True, relearn: bool = False
) -> dict[str, Any]:
    """Re-measure a kept run (``$DG_BENCH_INTEL_KEEP``) with the current intel code.

    Nothing is simulated or scanned again for provider A (with ``relearn`` its actor
    memory is learned again, :func:`relearn_actors`); with ``partner`` provider B imports
    a freshly exported bundle and scans again (the export may have changed).
    """
    from distillguard.simulate.scenario import load_scenario

    if relearn:
        relearn_actors(root)
    truth, period2 = _truth(root / "sim")
    with Store(root / "p1-asis.duckdb", read_only=True) as p1:
        named = {
            c: actor
            for actor, camps in p1.con.execute("SELECT actor, campaigns FROM actors").fetchall()
            for c in camps
        }
    actors = set(named.values())
    if partner:
        sc = load_scenario(scenario)
        _partner(root, sc.start + timedelta(days=sc.days), named, bundle=True)
    return {
        "scan": evaluate(root, "asis", truth, period2),
        "partner": evaluate(root, "partner", truth, period2, partner_actors=actors),
        "alone": evaluate(root, "alone", truth, period2, partner_actors=actors),
    }
