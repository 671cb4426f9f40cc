"""The evaluation harness: truth folder + verdict folder (+ baselines) -> one result dict.

The result is plain JSON-ready data; :mod:`.tables` prints it, :mod:`distillguard.report.
evaluation` renders it as HTML, and ``evaluate --json`` writes it as is. Every detector,
distillguard or baseline, is scored by the same functions of :mod:`.metrics` on the same
accounts (those of the truth that are active in the log; an account missing from a
detector's verdicts counts as not flagged).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from pydantic import ValidationError

from ..contracts import CampaignTruth, TruthRow, read_campaigns, read_truth, read_verdicts
from ..errors import InputError
from .detector import DetectorOutput
from .metrics import account_metrics, auc, campaign_metrics, enforcement_metrics, flag_rates
from .traffic import find_exchange_log, load_exchange_facts

__all__ = ["BASELINES", "evaluate", "load_truth", "read_decision_table", "read_detector", "score"]

#: Baseline names accepted by ``evaluate(baselines=...)``.
BASELINES = ("ratelimit", "isolation", "mmd")

Progress = Callable[[str], None]


def load_truth(truth_dir: Path) -> tuple[dict[str, TruthRow], list[CampaignTruth]]:
    """Read ``truth.csv`` (required) and ``campaigns_truth.json`` (optional) of a simulate folder."""
    truth_dir = Path(truth_dir)
    path = truth_dir / "truth.csv"
    if not path.is_file():
        raise InputError("missing_file", "no truth.csv in the truth folder", file=str(path))
    try:
        rows = {r.account_id: r for r in read_truth(path)}
    except (KeyError, ValidationError, ValueError) as exc:
        raise InputError("bad_truth", str(exc).splitlines()[0], file=str(path)) from exc
    campaigns: list[CampaignTruth] = []
    cpath = truth_dir / "campaigns_truth.json"
    if cpath.is_file():
        try:
            data = json.loads(cpath.read_text(encoding="utf-8"))
            campaigns = [CampaignTruth.model_validate(o) for o in data]
        except (ValueError, ValidationError) as exc:
            raise InputError(
                "bad_campaign_truth", str(exc).splitlines()[0], file=str(cpath)
            ) from exc
    return rows, campaigns


def read_decision_table(path: Path) -> pa.Table:
    """``decisions.csv`` as an Arrow table (``exchange_id, account_id, timestamp, action``)."""
    con = duckdb.connect()
    try:
        table = con.execute(
            "SELECT * FROM read_csv(?, header=true, all_varchar=true)", [str(path)]
        ).arrow()
    except duckdb.Error as exc:
        raise InputError("bad_decisions", str(exc).splitlines()[0], file=str(path)) from exc
    finally:
        con.close()
    if hasattr(table, "read_all"):
        table = table.read_all()
    for col in ("exchange_id", "action"):
        if col not in table.column_names:
            raise InputError(
                "missing_column", "decisions.csv lacks a column", file=str(path), field=col
            )
    return table


def read_detector(verdicts_dir: Path, name: str = "distillguard") -> DetectorOutput:
    """A scan output folder (``verdicts.csv``, ``campaigns.json``, ``decisions.csv``) as a detector."""
    verdicts_dir = Path(verdicts_dir)
    vpath = verdicts_dir / "verdicts.csv"
    if not vpath.is_file():
        raise InputError("missing_file", "no verdicts.csv in the verdicts folder", file=str(vpath))
    try:
        verdicts = read_verdicts(vpath)
    except (KeyError, ValidationError, ValueError) as exc:
        raise InputError("bad_verdicts", str(exc).splitlines()[0], file=str(vpath)) from exc
    flagged = {v.account_id for v in verdicts if v.flagged}
    risk = {v.account_id: v.risk for v in verdicts}
    campaigns: dict[str, list[str]] = {}
    attributed: dict[str, str] = {}
    cpath = verdicts_dir / "campaigns.json"
    if cpath.is_file():
        try:
            for c in read_campaigns(cpath):
                campaigns[c.id] = list(c.members)
                if c.attributed_actor is not None:
                    attributed[c.id] = c.attributed_actor.actor
        except (ValueError, ValidationError) as exc:
            raise InputError("bad_campaigns", str(exc).splitlines()[0], file=str(cpath)) from exc
    else:  # campaigns from the verdicts' campaign_id column
        for v in verdicts:
            if v.campaign_id:
                campaigns.setdefault(v.campaign_id, []).append(v.account_id)
    dpath = verdicts_dir / "decisions.csv"
    return DetectorOutput(
        name=name,
        flagged=flagged,
        kind="distillguard",
        campaigns=campaigns,
        attributed=attributed,
        decisions=dpath if dpath.is_file() else None,
        scores=risk,
        notes=[f"{len(verdicts):,} verdicts, {len(campaigns):,} campaigns"],
    )


def score(
    out: DetectorOutput,
    truth: Mapping[str, TruthRow],
    campaigns_truth: Sequence[CampaignTruth],
    universe: set[str],
    facts: pa.Table | None,
) -> dict[str, Any]:
    """Every metric for one detector, over ``universe`` (restricted to its scope if it has one)."""
    scope = universe & out.scope if out.scope is not None else universe
    result: dict[str, Any] = {
        "name": out.name,
        "kind": out.kind,
        "notes": list(out.notes),
        "params": dict(out.params),
        "scope": len(scope),
        "accounts": account_metrics(truth, out.flagged, scope),
        "auc": auc(truth, out.scores, scope) if out.scores is not None else None,
        "groups": flag_rates(truth, out.flagged, "group", scope),
        "actors": flag_rates(truth, out.flagged, "actor", scope),
        "campaigns": None,
        "enforcement": None,
    }
    unknown = len(out.flagged - truth.keys())
    if unknown:
        result["notes"].append(f"{unknown:,} flagged account(s) are not in the truth: ignored")
    if out.campaigns is not None:
        result["campaigns"] = campaign_metrics(truth, out.campaigns, out.attributed, scope)
    if out.decisions is not None:
        if facts is None:
            result["notes"].append(
                "decisions.csv present but no exchange log: enforcement not scored"
            )
        else:
            result["enforcement"] = enforcement_metrics(
                truth, campaigns_truth, facts, read_decision_table(out.decisions)
            )
    return result


def _run_baselines(
    names: Sequence[str],
    facts: pa.Table,
    log: Path,
    truth: Mapping[str, TruthRow],
    universe: set[str],
    progress: Progress,
    mmd_options: Mapping[str, Any],
) -> list[DetectorOutput]:
    outs: list[DetectorOutput] = []
    if "ratelimit" in names:
        from .baselines.ratelimit import run_ratelimit

        progress("baseline: rate limits (user budgets and oracle grid search)")
        outs.extend(run_ratelimit(facts, truth))
    if "isolation" in names:
        from .baselines.isolation import run_isolation

        progress("baseline: isolation forest")
        outs.append(run_isolation(facts))
    if "mmd" in names:
        from .baselines.mmd import run_mmd

        progress("baseline: MMD window test (embedding prompts on CPU)")
        outs.append(run_mmd(log, truth, universe, **dict(mmd_options)))
    return outs


def evaluate(
    truth_dir: Path,
    verdicts_dir: Path | None = None,
    *,
    baselines: Sequence[str] = (),
    progress: Progress | None = None,
    mmd_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score distillguard's verdicts (if given) and the named baselines against the truth."""
    say = progress or (lambda _msg: None)
    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise InputError(
            "unknown_baseline", f"{sorted(unknown)}; known: {list(BASELINES)}", field="baselines"
        )
    truth, campaigns_truth = load_truth(truth_dir)
    log = find_exchange_log(Path(truth_dir))
    facts: pa.Table | None = None
    if log is not None:
        say(f"reading exchange facts from {log}")
        facts = load_exchange_facts(log)
        active = set(facts["account_id"].unique().to_pylist())
        universe = {a for a in truth if a in active}
    else:
        universe = set(truth)
    if baselines and (facts is None or log is None):
        raise InputError(
            "missing_file",
            "baselines need the exchange log in the truth folder",
            file=str(truth_dir),
        )
    detectors: list[DetectorOutput] = []
    if verdicts_dir is not None:
        detectors.append(read_detector(verdicts_dir))
    if baselines:
        assert facts is not None and log is not None
        detectors.extend(
            _run_baselines(baselines, facts, log, truth, universe, say, mmd_options or {})
        )
    say("scoring")
    attack = sum(1 for a in universe if truth[a].is_attack)
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "truth_dir": str(truth_dir),
        "verdicts_dir": str(verdicts_dir) if verdicts_dir is not None else None,
        "exchange_log": str(log) if log is not None else None,
        "exchanges": facts.num_rows if facts is not None else None,
        "population": {
            "accounts": len(universe),
            "attack": attack,
            "benign": len(universe) - attack,
            "truth_accounts_without_traffic": len(truth) - len(universe),
            "true_campaigns": len(campaigns_truth),
        },
        "detectors": [score(d, truth, campaigns_truth, universe, facts) for d in detectors],
    }
