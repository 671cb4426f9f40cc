"""Attribution and returning actors on two-period scenarios, per scenario and seed.

``python -m benchmarks intel [--scale S]`` measures what issue 5 asks, on the evaluation
grid :data:`EVAL_RUNS` (seeds and a scenario no intel threshold was derived from; set
``DG_BENCH_INTEL_RUNS="attribution-2p:77,path/to/x.yaml:5"`` to run others). Per run:

1. simulate the scenario (two periods; at the end of period one a share of each
   campaign's accounts is banned, then every actor returns under fresh accounts);
2. provider A: period one alone (its exchanges, the registry as it stood then) is
   scanned; each campaign found is named after the actor most of its accounts belong to
   (the analyst's step, done here from the simulator's truth), exactly as scanned;
3. period two alone goes into a second store that inherits A's actor memory and the
   registry with its bans, and is scanned (``scan`` calls ``intel.attribute_campaigns``
   and the returning-actor hook);
4. online: a :class:`BanEvasionIndex` built from period one's store replays period two's
   exchanges in time order through a :class:`ReturningActorWatch`; records after how
   many of its own exchanges each account is flagged;
5. partner: provider A exports its named campaigns as a STIX bundle; provider B (a
   fresh store holding only period two, no bans, no actors) imports it and scans; and
   provider B once more without the bundle, for comparison.

Metrics: attack accounts of period two attributed to the right actor (campaign
attribution or returning-account link), attack accounts given a wrong actor, benign
accounts attributed to any actor (campaign, batch returning link, or online flag: the
target is 0), replacements of a banned actor flagged online within their first 20
exchanges; for provider B the same with and without the bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from distillguard.contracts import read_campaigns, read_truth
from distillguard.store import Store

SCENARIO = "attribution-2p"
#: The second, evaluation-only two-period scenario (different actors, sizes, evasion).
SHIFTED = str(
    Path(__file__).resolve().parents[1] / "tests/intel/scenarios/attribution-2p-shifted.yaml"
)
#: Scenario/seed pairs measured by default. No intel threshold was derived from any of
#: them (thresholds: attribution-2p seeds 77, 101, 102; see docs/intel.md).
EVAL_RUNS = [(SCENARIO, 9101), (SCENARIO, 9102), (SCENARIO, 9103), (SHIFTED, 9101), (SHIFTED, 9102)]
#: Seeds thresholds may be derived from (``DG_BENCH_INTEL_RUNS`` with these).
TRAIN_RUNS = [(SCENARIO, 77), (SCENARIO, 101), (SCENARIO, 102)]
WITHIN = 20


def _simulate(root: Path, scale: float, scenario: str, seed: int) -> tuple[Path, Any]:
    from distillguard.simulate.engine import simulate
    from distillguard.simulate.scenario import load_scenario

    sc = load_scenario(scenario)
    sim = root / "sim"
    if not (sim / "truth.csv").is_file():
        simulate(sc, sim, scale=scale, seed=seed)
    return sim, sc


def _split(all_path: Path, out: Path, boundary: Any, period: int) -> Store:
    """A store holding one period's exchanges and the registry as it was then."""
    store = Store(out, memory_limit="2GB")
    store.con.execute(f"ATTACH '{all_path}' AS src (READ_ONLY)")
    if period == 1:
        store.con.execute(
            "INSERT INTO exchanges SELECT * FROM src.exchanges WHERE timestamp < ?", [boundary]
        )
        store.con.execute(
            "INSERT INTO accounts SELECT account_id, org_id, created_at, account_type, "
            "email_domain, payment_fingerprint, billing_country, verification, "
            "CASE WHEN status_changed_at < ? THEN status ELSE 'active' END, "
            "CASE WHEN status_changed_at < ? THEN status_changed_at END "
            "FROM src.accounts WHERE created_at < ?",
            [boundary, boundary, boundary],
        )
    else:
        store.con.execute(
            "INSERT INTO exchanges SELECT * FROM src.exchanges WHERE timestamp >= ?", [boundary]
        )
        store.con.execute("INSERT INTO accounts SELECT * FROM src.accounts")
    store.con.execute("DETACH src")
    return store


def _name_actors(store: Store, campaigns: list[Any], truth: dict[str, str]) -> dict[str, str]:
    from distillguard.intel import name_actor

    named = {}
    for c in campaigns:
        votes = Counter(truth.get(a, "") for a in c.members)
        actor, n = votes.most_common(1)[0]
        if actor and n * 2 >= len(c.members):
            name_actor(store, c, actor)
            named[c.id] = actor
    return named


def _copy_actor_memory(src: Path, dst: Store) -> None:
    from distillguard.intel.actors import ensure_actor_tables

    ensure_actor_tables(dst)
    dst.con.execute(f"ATTACH '{src}' AS p1 (READ_ONLY)")
    for t in ("actors", "actor_fingerprints", "actor_accounts"):
        dst.con.execute(f"INSERT INTO {t} SELECT * FROM p1.{t}")
    dst.con.execute("DETACH p1")


def _replay(index: Any, store: Store, targets: dict[str, str] | None = None) -> dict[str, int]:
    """Exchanges each account had made when the watch first flagged it (and, into
    ``targets``, the actor or cluster it was linked to)."""
    from distillguard.intel import ReturningActorWatch

    watch = ReturningActorWatch(index)
    counts: dict[str, int] = defaultdict(int)
    flagged: dict[str, int] = {}
    cols = "client_fp, template_id, system_hash, shape_fp, ip_prefix, CAST(asn AS VARCHAR)"
    sql = (
        f"SELECT s.account_id, {cols}, a.payment_fingerprint FROM exchange_signals s "
        "LEFT JOIN accounts a USING (account_id) ORDER BY s.timestamp, s.exchange_id"
    )
    for batch in store.iter_batches(sql, batch_size=50_000):
        for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
            acc = row[0]
            counts[acc] += 1
            if acc in flagged:
                continue
            link = watch.observe(
                acc,
                client_fp=row[1],
                template_id=row[2],
                system_hash=row[3],
                shape_fp=row[4],
                ip_prefix=row[5],
                asn=row[6],
                payment_fp=row[7],
            )
            if link is not None:
                flagged[acc] = counts[acc]
                if targets is not None:
                    targets[acc] = link.target
    return flagged


def _corroborated(c: Any) -> list[str]:
    info = c.extra.get("attribution")
    members = info.get("corroborated_members") if isinstance(info, dict) else None
    return list(members) if members is not None else list(c.members)


def _cluster(target: str | None) -> bool:
    return bool(target) and str(target).startswith("banned-accounts")


def _period_two(
    root: Path, tag: str, boundary: Any, truth: dict[str, str], period2: set[str]
) -> dict[str, Any]:
    """Scan period two with the actor memory of ``p1-<tag>``; replay it online too."""
    from distillguard.scan import run_scan

    t0 = time.perf_counter()
    with _split(root / "all.duckdb", root / f"p2-{tag}.duckdb", boundary, 2) as p2:
        _copy_actor_memory(root / f"p1-{tag}.duckdb", p2)
        run_scan(p2, root / f"out2-{tag}", report=False)
    t_scan = time.perf_counter() - t0
    out = evaluate(root, tag, truth, period2)
    out["scan_s"] = t_scan
    return out


def evaluate(
    root: Path,
    tag: str,
    truth: dict[str, str],
    period2: set[str],
    *,
    partner_actors: set[str] | None = None,
) -> dict[str, Any]:
    """The metrics of one variant from its stores and scan outputs (no re-scan).

    Campaigns are re-attributed with the current intel code (``scan`` did the same with
    whatever it had), so changes to intel can be measured without scanning again. With
    ``partner_actors`` the online index comes from the period-two store itself (which
    knows the actors only from the imported bundle).
    """
    from distillguard.intel import BanEvasionIndex, attribute, returning_accounts

    src = root / (f"p2-{tag}.duckdb" if partner_actors is not None else f"p1-{tag}.duckdb")
    with Store(src, read_only=True) as p1:
        index = BanEvasionIndex.from_store(p1)
        banned_actors = partner_actors or {
            truth.get(a, "")
            for (a,) in p1.con.execute(
                "SELECT account_id FROM accounts WHERE status = 'banned'"
            ).fetchall()
        } - {""}
    with Store(root / f"p2-{tag}.duckdb", read_only=True) as p2:
        scanned = read_campaigns(root / f"out2-{tag}" / "campaigns.json")
        for c in scanned:
            c.attributed_actor = None
        camps2 = attribute(scanned, p2)
        returning = {r.account_id: r.target for r in returning_accounts(p2)}
        active2 = {
            a for (a,) in p2.con.execute("SELECT DISTINCT account_id FROM exchanges").fetchall()
        }
        t0 = time.perf_counter()
        online_target: dict[str, str] = {}
        flagged_at = _replay(index, p2, online_target)
        t_replay = time.perf_counter() - t0
    in_campaign2 = {a for c in camps2 for a in c.members}
    # an account is attributed when its own evidence corroborates its campaign's actor
    by_campaign = {
        a: c.attributed_actor.actor for c in camps2 if c.attributed_actor for a in _corroborated(c)
    }
    in_attributed = {a for c in camps2 if c.attributed_actor for a in c.members}
    new_attack = [a for a in active2 if truth.get(a) and a in period2]
    benign = [a for a in active2 if not truth.get(a)]
    n = max(len(new_attack), 1)
    replacements = [a for a in new_attack if truth[a] in banned_actors]
    known = {a for a in replacements if index.known_account(a)}
    unknown = [a for a in replacements if a not in known]
    within = sum(flagged_at.get(a, 10**9) <= WITHIN for a in unknown)
    med = sorted(flagged_at[a] for a in unknown if a in flagged_at)
    wrong = sum(
        (by_campaign.get(a) not in (None, truth[a]))
        or (returning.get(a) not in (None, truth[a]) and not _cluster(returning.get(a)))
        for a in new_attack
    )
    benign_attr = {a for a in benign if a in by_campaign or a in returning or a in flagged_at}
    return {
        "attack": len(new_attack),
        "benign": len(benign),
        "right_campaign": sum(by_campaign.get(a) == truth[a] for a in new_attack) / n,
        "right_returning": sum(returning.get(a) == truth[a] for a in new_attack) / n,
        "right": sum(truth[a] in (by_campaign.get(a), returning.get(a)) for a in new_attack) / n,
        "attack_in_campaign": sum(a in in_campaign2 for a in new_attack) / n,
        "wrong": wrong,
        "benign_in_campaign": sum(a in in_campaign2 for a in benign),
        "benign_in_attributed_campaign": sum(a in in_attributed for a in benign),
        "benign_attributed": len(benign_attr),
        "benign_corroborated": sum(a in by_campaign for a in benign),
        "benign_returning_batch": sum(a in returning for a in benign),
        "benign_flagged_online": sum(a in flagged_at for a in benign),
        "replacements": len(replacements),
        "replacements_known": len(known),
        "flagged_within": within / max(len(unknown), 1),
        "median_to_flag": med[len(med) // 2] if med else None,
        "replay_s": t_replay,
        "online_wrong": sum(
            online_target[a] != truth[a] and not _cluster(online_target[a])
            for a in new_attack
            if a in online_target
        ),
    }


def _truth(sim: Path) -> tuple[dict[str, str], set[str]]:
    truth = {r.account_id: r.actor if r.is_attack else "" for r in read_truth(sim / "truth.csv")}
    period2 = {
        a
        for c in json.loads((sim / "campaigns_truth.json").read_text())
        if c["knobs"].get("period") == 2
        for a in c["members"]
    }
    return truth, period2


def measure(
    scenario: str, seed: int, scale: float = 1.0, root: Path | None = None
) -> dict[str, Any]:
    """One scenario and seed end to end; returns the metrics of every variant.

    ``root`` keeps the stores and outputs (a temporary folder, removed, otherwise).
    """
    from distillguard.ingest import ingest_paths
    from distillguard.scan import run_scan

    keep = root is not None
    root = Path(root or tempfile.mkdtemp(prefix="dg-bench-intel-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        sim, sc = _simulate(root, scale, scenario, seed)
        boundary = sc.start + timedelta(days=sc.days)
        truth, period2 = _truth(sim)
        if not (root / "all.duckdb").is_file():
            with Store(root / "all.duckdb", memory_limit="2GB") as all_store:
                ingest_paths([sim / "exchanges.jsonl"], all_store, accounts=sim / "accounts.jsonl")
        t_sim = time.perf_counter() - t0
        t0 = time.perf_counter()
        for old in root.glob("p[12]-*.duckdb*"):
            old.unlink()
        with _split(root / "all.duckdb", root / "p1-asis.duckdb", boundary, 1) as p1:
            run_scan(p1, root / "out1", report=False)
        camps1 = read_campaigns(root / "out1" / "campaigns.json")
        with Store(root / "p1-asis.duckdb") as p1:
            named = _name_actors(p1, camps1, truth)
        t_p1 = time.perf_counter() - t0
        t0 = time.perf_counter()
        res: dict[str, Any] = {"scan": _period_two(root, "asis", boundary, truth, period2)}
        t_p2 = time.perf_counter() - t0
        t0 = time.perf_counter()
        actors = set(named.values())
        _partner(root, boundary, named, bundle=True)
        res["partner"] = evaluate(root, "partner", truth, period2, partner_actors=actors)
        _partner(root, boundary, named, bundle=False)
        res["alone"] = evaluate(root, "alone", truth, period2, partner_actors=actors)
        t_partner = time.perf_counter() - t0
        res["run"] = {
            "scenario": Path(scenario).stem,
            "seed": seed,
            "campaigns_p1": len(camps1),
            "named": sorted(actors),
            "seconds": {"simulate+ingest": t_sim, "p1": t_p1, "p2": t_p2, "partner": t_partner},
        }
        return res
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _runs() -> list[tuple[str, int]]:
    env = os.environ.get("DG_BENCH_INTEL_RUNS")
    if not env:
        return EVAL_RUNS
    out = []
    for item in env.split(","):
        name, _, seed = item.strip().rpartition(":")
        out.append((name or SCENARIO, int(seed)))
    return out


def _pct(x: float) -> str:
    return f"{x:.1%}"


def summary(r: dict[str, Any]) -> dict[str, object]:
    """The issue's numbers of one :func:`measure` result, in display form."""
    s, pb, alone = r["scan"], r["partner"], r["alone"]
    fresh = s["replacements"] - s["replacements_known"]
    return {
        "period-2 attack / benign accounts": f"{s['attack']} / {s['benign']}",
        "A: attack accounts attributed to the right actor": _pct(s["right"]),
        "A: attack accounts given a wrong actor": s["wrong"],
        "A: benign accounts attributed (campaign, returning link or online)": s[
            "benign_attributed"
        ],
        f"A: replacements flagged online within {WITHIN} exchanges": (
            f"{_pct(s['flagged_within'])} of {fresh}"
        ),
        "A: median exchanges to the online flag": s["median_to_flag"],
        "A: attack flagged online under a wrong actor": s.get("online_wrong", "-"),
        "B with A's bundle: attack attributed to the right actor": _pct(pb["right"]),
        "B with A's bundle: attack given a wrong actor": pb["wrong"],
        "B with A's bundle: benign attributed": pb["benign_attributed"],
        f"B with A's bundle: flagged online within {WITHIN}": _pct(pb["flagged_within"]),
        "B with A's bundle: attack flagged online under a wrong actor": pb.get("online_wrong", "-"),
        "B without the bundle: attack attributed to the right actor": _pct(alone["right"]),
        "B without the bundle: attack in some scan campaign": _pct(alone["attack_in_campaign"]),
        f"B without the bundle: flagged online within {WITHIN}": _pct(alone["flagged_within"]),
        "seconds: simulate+ingest / A p1 / A p2 / B twice": " / ".join(
            f"{v:.0f}" for v in r["run"]["seconds"].values()
        ),
    }


def run(scale: float = 1.0) -> list[dict[str, object]]:
    """One row per metric, one column per scenario and seed (:data:`EVAL_RUNS`, or
    ``$DG_BENCH_INTEL_RUNS``).

    ``$DG_BENCH_INTEL_KEEP=DIR`` keeps each run's stores under ``DIR/<scenario>-<seed>``
    (and reuses its simulation when run again).
    """
    columns: dict[str, dict[str, object]] = {}
    keep = os.environ.get("DG_BENCH_INTEL_KEEP")
    for scenario, seed in _runs():
        root = Path(keep) / f"{Path(scenario).stem}-{seed}" if keep else None
        r = measure(scenario, seed, scale, root)
        columns[f"{r['run']['scenario']} / {seed}"] = summary(r)
        print("RESULT", json.dumps(r, default=str), flush=True)
    metrics = list(next(iter(columns.values()))) if columns else []
    return [{"metric": m, **{col: vals[m] for col, vals in columns.items()}} for m in metrics]


PARTNER_KEY = b"benchmark-community-key-0001"


def _partner(root: Path, boundary: Any, named: dict[str, str], *, bundle: bool) -> None:
    """Provider B: only period two, no bans, no actors; imports A's bundle (or not), scans."""
    from distillguard.contracts import AttributedActor
    from distillguard.intel import export_stix, import_bundle
    from distillguard.scan import run_scan

    camps = []
    for c in read_campaigns(root / "out1" / "campaigns.json"):
        if c.id in named:
            c.attributed_actor = AttributedActor(actor=named[c.id], confidence=1.0)
            camps.append(c)
    tag = "partner" if bundle else "alone"
    if bundle:
        with Store(root / "p1-asis.duckdb", read_only=True) as p1:
            export_stix(
                root / "share.json", camps, key=PARTNER_KEY, store=p1, producer="Provider A"
            )
    for old in root.glob(f"p2-{tag}.duckdb*"):
        old.unlink()
    b = Store(root / f"p2-{tag}.duckdb", memory_limit="2GB")
    b.con.execute(f"ATTACH '{root / 'all.duckdb'}' AS src (READ_ONLY)")
    b.con.execute(
        "INSERT INTO exchanges SELECT * FROM src.exchanges WHERE timestamp >= ?", [boundary]
    )
    b.con.execute(
        "INSERT INTO accounts SELECT account_id, org_id, created_at, account_type, email_domain, "
        "payment_fingerprint, billing_country, verification, 'active', NULL FROM src.accounts "
        "WHERE account_id IN (SELECT account_id FROM exchanges)"
    )
    b.con.execute("DETACH src")
    if bundle:
        import_bundle(b, root / "share.json")
    run_scan(b, root / f"out2-{tag}", report=False)
    b.close()
