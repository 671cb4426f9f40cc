"""The detection pipeline: store -> signals -> features -> links -> communities ->
scoring -> campaigns -> verdicts, with per-stage timings.

:func:`detect` runs the stages over a :class:`~distillguard.store.Store` and returns a
:class:`Detection` (everything later stages and ``train`` need); :func:`run_scan` adds
ingestion, writes ``verdicts.csv``, ``campaigns.json``, ``summary.json`` and
``report.html`` (when the report module is installed) and returns the summary.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .campaigns import CampaignSet, build_campaigns
from .communities import Communities, detect_communities
from .contracts import Verdict, write_campaigns, write_verdicts
from .errors import InputError
from .links import LinkConfig, LinkGraph, build_links
from .scoring import (
    AccountModel,
    AccountScores,
    ActionPolicy,
    ScoringConfig,
    build_matrix,
    choose_action,
    default_model_path,
    score_accounts,
)
from .store import Store

__all__ = ["Detection", "ScanConfig", "detect", "peak_rss_mb", "run_scan", "verdicts_of"]

#: Signature of a stage reporter: ``with on_stage(name): ...``.
StageHook = Callable[[str], Any]
#: ``features(store) -> (per-account table with account_id, feature column names)``.
FeatureFn = Callable[[Store], tuple[pa.Table, list[str]]]


@dataclass(frozen=True)
class ScanConfig:
    """All knobs of a scan (defaults are the shipped ones)."""

    links: LinkConfig = field(default_factory=LinkConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    policy: ActionPolicy = field(default_factory=ActionPolicy)
    resolution: float = 1.0
    seed: int = 42
    min_members: int = 3
    #: Links at least this strong join flagged accounts into one campaign (weaker than
    #: the firm links that carry risk: among flagged accounts even a shared template or
    #: /24 says "same operator", and Leiden splits actors apart again).
    campaign_link: float = 0.12
    #: Two Leiden parts of flagged accounts merge above this share of the null model.
    campaign_merge: float = 0.1


@dataclass
class Detection:
    """Everything the pipeline computed, aligned with ``graph.accounts``."""

    graph: LinkGraph
    communities: Communities
    matrix: np.ndarray
    columns: list[str]
    unsupervised: np.ndarray
    scores: AccountScores | None = None
    campaigns: CampaignSet | None = None
    timings: dict[str, float] = field(default_factory=dict)
    seen: np.ndarray | None = None
    #: CPU seconds per stage (all threads of this process), next to ``timings``' wall.
    cpu: dict[str, float] = field(default_factory=dict)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds() -> float:
    """CPU seconds used so far by this process (all threads) and its reaped children
    (the ingest parser pool), so a stage's CPU is comparable on a loaded machine."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@contextmanager
def _quiet(_: str) -> Iterator[None]:
    yield


def _optional(module: str) -> Any | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise


def default_features(
    store: Store, release_times: dict[str, Any] | None = None
) -> tuple[pa.Table, list[str]]:
    """Materialise per-exchange signals, then per-account features (their own modules).

    ``release_times`` (model -> release instant) feeds the release-reaction features.
    """
    signals = _optional("distillguard.signals")
    features = _optional("distillguard.features")
    if signals is None or features is None:
        raise InputError(
            "missing stage", "distillguard.signals / distillguard.features are not installed"
        )
    signals.materialise(store, signals.SignalContext.default())
    table = features.account_features(store, release_times=release_times)
    return table, list(features.FEATURE_COLUMNS)


def features_with_releases(path: Path | None) -> FeatureFn:
    """The default feature stage, fed the model release dates in ``path`` (JSON) if given."""
    if path is None:
        return default_features
    from .features import read_release_times

    times = read_release_times(path)
    return lambda store: default_features(store, times)


def _aligned(table: pa.Table, cols: list[str], accounts: list[str]) -> np.ndarray:
    pos = {a: i for i, a in enumerate(accounts)}
    out = np.full((len(accounts), len(cols)), np.nan)
    ids = table.column("account_id").to_pylist()
    rows = np.array([pos.get(a, -1) for a in ids], dtype=np.int64)
    ok = rows >= 0
    for j, c in enumerate(cols):
        col = table.column(c).cast(pa.float64()).to_numpy(zero_copy_only=False)
        out[rows[ok], j] = col[ok]
    return out


def detect(
    store: Store,
    *,
    model: AccountModel | None = None,
    config: ScanConfig | None = None,
    features: FeatureFn | None = None,
    on_stage: StageHook = _quiet,
    score: bool = True,
) -> Detection:
    """Run the stages after ingestion. With ``score=False`` stop after the feature matrix
    (what ``train`` needs)."""
    cfg = config or ScanConfig()
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def stage(name: str) -> Any:
        @contextmanager
        def timed() -> Iterator[None]:
            t0, c0 = time.perf_counter(), cpu_seconds()
            with on_stage(name):
                yield
            timings[name] = round(time.perf_counter() - t0, 3)
            cpu[name] = round(cpu_seconds() - c0, 3)

        return timed()

    with stage("signals+features"):
        table, feat_cols = (features or default_features)(store)
    with stage("links"):
        graph = build_links(store.con, cfg.links)
    with stage("communities"):
        comms = detect_communities(graph, resolution=cfg.resolution, seed=cfg.seed)
    behaviour = _aligned(table, feat_cols, graph.accounts)
    matrix, columns, uns = build_matrix(behaviour, feat_cols, graph, comms)
    seen_ids = {
        r[0] for r in store.con.execute("SELECT DISTINCT account_id FROM exchanges").fetchall()
    }
    seen = np.array([a in seen_ids for a in graph.accounts], dtype=bool)
    det = Detection(graph, comms, matrix, columns, uns, timings=timings, seen=seen, cpu=cpu)
    if not score:
        return det
    with stage("scoring"):
        det.scores = score_accounts(matrix, columns, uns, graph, comms, model, cfg.scoring)
    with stage("campaigns"):
        det.campaigns = build_campaigns(
            store.con,
            graph,
            comms,
            det.scores,
            flag=cfg.policy.flag,
            min_members=cfg.min_members,
            firm=cfg.campaign_link,
            merge_ratio=cfg.campaign_merge,
            seed=cfg.seed,
            seen=det.seen,
        )
        _attribute(store, det.campaigns)
    return det


def _attribute(store: Store, campaigns: CampaignSet) -> None:
    """Let the intel module attribute campaigns to known actors and add partner evidence."""
    intel = _optional("distillguard.intel")
    if intel is None or not campaigns.campaigns:
        return
    found = campaigns.campaigns
    if hasattr(intel, "attribute_campaigns"):
        campaigns.campaigns = list(intel.attribute_campaigns(store, found))
        return
    if hasattr(intel, "attribute"):
        found = list(intel.attribute(found, store))
    if hasattr(intel, "partner_evidence"):
        found = list(intel.partner_evidence(store, found))
    campaigns.campaigns = found


def verdicts_of(store: Store, det: Detection, policy: ActionPolicy) -> list[Verdict]:
    """One verdict per account seen in the log."""
    assert det.scores is not None and det.campaigns is not None
    reg = {
        r[0]: (r[1], r[2])
        for r in store.con.execute(
            "SELECT account_id, account_type, verification FROM accounts"
        ).fetchall()
    }
    out: list[Verdict] = []
    for i, acc in enumerate(det.graph.accounts):
        if det.seen is not None and not det.seen[i]:
            continue
        risk = float(det.scores.risk[i])
        atype, verif = reg.get(acc, (None, None))
        out.append(
            Verdict(
                account_id=acc,
                risk=round(risk, 4),
                flagged=risk >= policy.flag,
                campaign_id=det.campaigns.account_campaign[i],
                action=choose_action(risk, atype, verification=verif, policy=policy),
                reasons=det.scores.reasons[i] if risk >= policy.monitor else [],
            )
        )
    t0, c0 = time.perf_counter(), cpu_seconds()
    out = _with_returning_actors(store, out, reg, policy)
    det.timings["returning_actors"] = round(time.perf_counter() - t0, 3)
    det.cpu["returning_actors"] = round(cpu_seconds() - c0, 3)
    return out


#: Risk given to an account the intel module links to a banned account or known actor.
RETURNING_RISK = 0.9


def _with_returning_actors(
    store: Store,
    verdicts: list[Verdict],
    reg: dict[str, tuple[str | None, str | None]],
    policy: ActionPolicy,
) -> list[Verdict]:
    """Flag accounts that come back after a ban (issue: ban evasion in ``scan``).

    ``distillguard.intel.returning_accounts`` finds accounts that share strong evidence
    (two independent families, or a banned payment instrument) with banned accounts or
    a known actor's fingerprint; they are flagged at first sight with reason
    ``returning_actor``, whatever their own volume.
    """
    intel = _optional("distillguard.intel")
    if intel is None or not hasattr(intel, "returning_accounts"):
        return verdicts
    back = {r.account_id: r for r in intel.returning_accounts(store)}
    if not back:
        return verdicts
    out = []
    for v in verdicts:
        r = back.get(v.account_id)
        if r is not None:
            risk = max(v.risk, RETURNING_RISK)
            atype, verif = reg.get(v.account_id, (None, None))
            v = v.model_copy(
                update={
                    "risk": risk,
                    "flagged": True,
                    "action": choose_action(risk, atype, verification=verif, policy=policy),
                    "reasons": [
                        "returning_actor",
                        *(c for c in v.reasons if c != "returning_actor"),
                    ],
                }
            )
        out.append(v)
    return out


def load_model(path: Path | None) -> tuple[AccountModel | None, str]:
    """The model at ``path``, else the shipped default, else none (unsupervised only).

    ``--model none`` asks for no model at all (unsupervised + campaign evidence only)."""
    if path is not None and str(path).lower() == "none":
        return None, "none (unsupervised + community only)"
    p = path or default_model_path()
    if p is None:
        return None, "none (unsupervised + community only)"
    return AccountModel.load(p), str(p)


def run_scan(
    store: Store,
    out_dir: Path,
    *,
    logs: Sequence[Path] = (),
    accounts: Path | None = None,
    model_path: Path | None = None,
    config: ScanConfig | None = None,
    features: FeatureFn | None = None,
    on_stage: StageHook = _quiet,
    report: bool = True,
) -> dict[str, Any]:
    """Ingest ``logs`` (if any), detect, write the verdict contract; return the summary."""
    cfg = config or ScanConfig()
    t_start, c_start = time.perf_counter(), cpu_seconds()
    load_start = os.getloadavg()
    ingest_time = ingest_cpu = 0.0
    ingest_info: dict[str, Any] = {}
    if logs or accounts:
        ingest = importlib.import_module("distillguard.ingest")
        t0, c0 = time.perf_counter(), cpu_seconds()
        with on_stage("ingest"):
            summary = ingest.ingest_paths(list(logs), store, accounts=accounts)
        ingest_time, ingest_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        ingest_info = _summary_dict(summary)
    model, model_name = load_model(model_path)
    det = detect(store, model=model, config=cfg, features=features, on_stage=on_stage)
    assert det.scores is not None and det.campaigns is not None
    out_dir = Path(out_dir)
    t0, c0 = time.perf_counter(), cpu_seconds()
    with on_stage("write"):
        verdicts = verdicts_of(store, det, cfg.policy)
        write_verdicts(out_dir / "verdicts.csv", verdicts)
        write_campaigns(out_dir / "campaigns.json", det.campaigns.campaigns)
    # the returning-actor pass runs inside verdicts_of; "write" is the rest
    returning = det.timings.pop("returning_actors", 0.0)
    returning_cpu = det.cpu.pop("returning_actors", 0.0)
    timings = {
        "ingest": round(ingest_time, 3),
        **det.timings,
        "returning_actors": returning,
        "write": round(time.perf_counter() - t0 - returning, 3),
    }
    cpu = {
        "ingest": round(ingest_cpu, 3),
        **det.cpu,
        "returning_actors": returning_cpu,
        "write": round(cpu_seconds() - c0 - returning_cpu, 3),
    }
    flagged = sum(v.flagged for v in verdicts)
    summary_doc: dict[str, Any] = {
        "exchanges": store.count("exchanges"),
        "accounts": len(verdicts),
        "flagged": flagged,
        "campaigns": len(det.campaigns.campaigns),
        "campaign_accounts": sum(len(c.members) for c in det.campaigns.campaigns),
        "edges": det.graph.n_edges,
        "communities": int((det.communities.sizes > 1).sum()),
        "evidence_kinds": list(det.graph.kinds),
        "link_timings": {k: round(v, 3) for k, v in det.graph.timings.items()},
        "model": model_name,
        "actions": {
            a: sum(v.action == a for v in verdicts)
            for a in ("allow", "monitor", "throttle", "verify", "degrade", "block")
        },
        "ingest": ingest_info,
        "timings": timings,
        "cpu_seconds": cpu,
    }
    if report:
        t0, c0 = time.perf_counter(), cpu_seconds()
        try:
            rep = _optional("distillguard.report")
            if rep is not None and hasattr(rep, "render_campaign_report"):
                with on_stage("report"):
                    rep.render_campaign_report(
                        out_dir, verdicts, det.campaigns.campaigns, summary_doc
                    )
            else:
                summary_doc["report_error"] = "report module not installed"
        except ImportError as exc:  # a broken optional module must not lose the verdicts
            summary_doc["report_error"] = f"report module unavailable: {exc}"
        timings["report"] = round(time.perf_counter() - t0, 3)
        cpu["report"] = round(cpu_seconds() - c0, 3)
    timings["total"] = round(time.perf_counter() - t_start, 3)
    cpu["total"] = round(cpu_seconds() - c_start, 3)
    summary_doc["load_average"] = {
        "start": [round(x, 2) for x in load_start],
        "end": [round(x, 2) for x in os.getloadavg()],
    }
    summary_doc["peak_rss_mb"] = round(peak_rss_mb(), 1)
    (out_dir / "summary.json").write_text(
        json.dumps(summary_doc, indent=2, default=str), encoding="utf-8"
    )
    return summary_doc


def _summary_dict(summary: object) -> dict[str, Any]:
    for attr in ("to_dict", "model_dump", "as_dict"):
        fn = getattr(summary, attr, None)
        if callable(fn):
            out = fn()
            return dict(out) if isinstance(out, dict) else {"summary": str(out)}
    return {"summary": str(summary)}


def labelled_matrix(
    store: Store,
    labels: dict[str, bool],
    *,
    config: ScanConfig | None = None,
    features: FeatureFn | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The model's input rows for the accounts in ``labels`` (seen in the log), and 0/1
    targets: what ``distillguard train`` fits on."""
    det = detect(store, config=config, features=features, score=False)
    rows = [
        i
        for i, a in enumerate(det.graph.accounts)
        if a in labels and (det.seen is None or det.seen[i])
    ]
    y = np.array([labels[det.graph.accounts[i]] for i in rows], dtype=float)
    return det.matrix[rows], y, det.columns
