"""Attribution and returning actors on the simulator's two-period scenario.

``python -m benchmarks intel [--scale S]`` measures what issue 5 asks:

1. simulate ``attribution-2p`` (two periods; at the end of period one 70 % of each
   campaign's accounts are banned, then every actor returns under fresh accounts);
2. period one alone (its exchanges, and the registry as it stood then) goes into its own
   store and is scanned; each campaign found is named after the actor most of its
   accounts belong to (the analyst's step, done here from the simulator's truth);
3. period two alone goes into a second store that inherits the actor memory, and is
   scanned (``scan`` calls ``intel.attribute_campaigns``); ``returning_accounts`` runs too;
4. online: a :class:`BanEvasionIndex` built from period one's store replays period two's
   exchanges in time order through a :class:`ReturningActorWatch` (the request's own
   signals and the account's payment instrument), and records after how many of its own
   exchanges each account is flagged.

Two columns: "as scanned" names each period-one campaign exactly as ``scan`` found it
(benign accounts the scan put in the campaign become the actor's members too);
"members pruned" is the analyst who checked the members and named only the actor's own.
Rows: attack accounts of period two attributed to the right actor (by campaign
attribution, by the returning-account link, either), any given a wrong actor, benign
accounts attributed, replacements already linked in the period-one registry (accounts
created before the boundary that the period-one scan put in a campaign), and, for the
other replacements, the online flag rate within 20 of their own exchanges.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from distillguard.contracts import read_campaigns, read_truth
from distillguard.store import Store

SCENARIO = "attribution-2p"
WITHIN = 20


def _simulate(root: Path, scale: float) -> tuple[Path, Any]:
    from distillguard.simulate.engine import simulate
    from distillguard.simulate.scenario import load_scenario

    sc = load_scenario(SCENARIO)
    sim = root / "sim"
    if not (sim / "truth.csv").is_file():
        simulate(sc, sim, scale=scale)
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


def _replay(index: Any, store: Store, first_seen_cap: int = WITHIN) -> dict[str, int]:
    """Exchanges each account had made when the watch first flagged it."""
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
    return flagged


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
    out["seconds: p2 scan / online replay"] = f"{t_scan:.0f} / {out.pop('_replay_s'):.0f}"
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
        flagged_at = _replay(index, p2)
        t_replay = time.perf_counter() - t0
    in_campaign2 = {a for c in camps2 for a in c.members}
    # an account is attributed when its own evidence corroborates its campaign's actor
    by_campaign = {
        a: c.attributed_actor.actor
        for c in camps2
        if c.attributed_actor
        for a in c.extra.get("attribution", {}).get("corroborated_members", c.members)
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
    return {
        "period-2 attack accounts (new) / benign accounts": f"{len(new_attack)} / {len(benign)}",
        "attributed right, via campaign": f"{sum(by_campaign.get(a) == truth[a] for a in new_attack) / n:.1%}",
        "attributed right, via returning link": f"{sum(returning.get(a) == truth[a] for a in new_attack) / n:.1%}",
        "attributed right, either": f"{sum(truth[a] in (by_campaign.get(a), returning.get(a)) for a in new_attack) / n:.1%}",
        "attack accounts given a wrong actor": wrong,
        "benign accounts in a period-2 scan campaign": sum(a in in_campaign2 for a in benign),
        "benign accounts in an attributed campaign": sum(a in in_attributed for a in benign),
        "benign accounts attributed (corroborated)": sum(a in by_campaign for a in benign),
        "benign accounts flagged as returning (batch)": sum(a in returning for a in benign),
        "replacements already linked in the period-1 registry": f"{len(known)} of {len(replacements)}",
        f"other replacements flagged online within {WITHIN} exchanges": (
            f"{within / max(len(unknown), 1):.1%} of {len(unknown)}"
        ),
        "median exchanges to online flag": med[len(med) // 2] if med else "-",
        "benign accounts flagged online": sum(a in flagged_at for a in benign),
        "_replay_s": t_replay,
    }


def run(scale: float = 1.0) -> list[dict[str, object]]:
    """Run the whole measurement once; one row per metric, one column per naming variant."""
    import shutil

    from distillguard.ingest import ingest_paths
    from distillguard.scan import run_scan

    root = Path(tempfile.mkdtemp(prefix="dg-bench-intel-"))
    t0 = time.perf_counter()
    sim, sc = _simulate(root, scale)
    boundary = sc.start + timedelta(days=sc.days)
    truth = {r.account_id: r.actor if r.is_attack else "" for r in read_truth(sim / "truth.csv")}
    period2 = {
        a
        for c in json.loads((sim / "campaigns_truth.json").read_text())
        if c["knobs"].get("period") == 2
        for a in c["members"]
    }
    with Store(root / "all.duckdb", memory_limit="2GB") as all_store:
        ingest_paths([sim / "exchanges.jsonl"], all_store, accounts=sim / "accounts.jsonl")
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    with _split(root / "all.duckdb", root / "p1-asis.duckdb", boundary, 1) as p1:
        run_scan(p1, root / "out1", report=False)
    t_p1 = time.perf_counter() - t0
    shutil.copy(root / "p1-asis.duckdb", root / "p1-pruned.duckdb")
    camps1 = read_campaigns(root / "out1" / "campaigns.json")
    with Store(root / "p1-asis.duckdb") as p1:
        named = _name_actors(p1, camps1, truth)
    # the analyst who checked each member before naming: only the actor's own accounts
    pruned = [
        c.model_copy(update={"members": [a for a in c.members if truth.get(a) == named[c.id]]})
        for c in camps1
        if c.id in named
    ]
    with Store(root / "p1-pruned.duckdb") as p1:
        _name_actors(p1, pruned, truth)
    results = {tag: _period_two(root, tag, boundary, truth, period2) for tag in ("asis", "pruned")}
    t0 = time.perf_counter()
    _partner(root, boundary, named)
    results["partner"] = evaluate(
        root, "partner", truth, period2, partner_actors=set(named.values())
    )
    results["partner"]["seconds: p2 scan / online replay"] = (
        f"{time.perf_counter() - t0:.0f} (import+scan+eval)"
    )
    rows: list[dict[str, object]] = [
        {"metric": "period-1 campaigns found / named", "as scanned": f"{len(camps1)} / {len(named)}"},
        {"metric": "actors named", "as scanned": ", ".join(sorted(set(named.values())))},
        {"metric": "seconds: simulate+ingest / period-1 scan", "as scanned": f"{t_sim:.0f} / {t_p1:.0f}"},
    ]  # fmt: skip
    for row in rows:
        for col in COLUMNS.values():
            row.setdefault(col, "")
    for key in results["asis"]:
        rows.append({"metric": key, **{COLUMNS[t]: results[t].get(key, "") for t in COLUMNS}})
    return rows


PARTNER_KEY = b"benchmark-community-key-0001"
#: Output columns: naming as scanned, naming with members pruned, and a second provider
#: that knows the actors only from provider A's STIX bundle.
COLUMNS = {"asis": "as scanned", "pruned": "members pruned", "partner": "partner (bundle only)"}


def _partner(root: Path, boundary: Any, named: dict[str, str]) -> None:
    """Provider B: only period two, no bans, no actors; imports A's bundle, then scans."""
    from distillguard.contracts import AttributedActor
    from distillguard.intel import export_stix, import_bundle
    from distillguard.scan import run_scan

    camps = []
    for c in read_campaigns(root / "out1" / "campaigns.json"):
        if c.id in named:
            c.attributed_actor = AttributedActor(actor=named[c.id], confidence=1.0)
            camps.append(c)
    with Store(root / "p1-pruned.duckdb", read_only=True) as p1:
        export_stix(root / "share.json", camps, key=PARTNER_KEY, store=p1, producer="Provider A")
    b = Store(root / "p2-partner.duckdb", memory_limit="2GB")
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
    import_bundle(b, root / "share.json")
    run_scan(b, root / "out2-partner", report=False)
    b.close()


def evaluate_dir(root: Path) -> list[dict[str, object]]:
    """Re-measure an earlier run's folder with the current intel code (no simulate, no scan).

    ``python -c "from benchmarks.bench_intel import evaluate_dir; ..."`` on the
    ``dg-bench-intel-*`` folder a run left in the temporary directory.
    """
    sim = root / "sim"
    truth = {r.account_id: r.actor if r.is_attack else "" for r in read_truth(sim / "truth.csv")}
    period2 = {
        a
        for c in json.loads((sim / "campaigns_truth.json").read_text())
        if c["knobs"].get("period") == 2
        for a in c["members"]
    }
    results = {tag: evaluate(root, tag, truth, period2) for tag in ("asis", "pruned")}
    with Store(root / "p1-asis.duckdb", read_only=True) as p1:
        named = {
            c: actor
            for actor, camps in p1.con.execute("SELECT actor, campaigns FROM actors").fetchall()
            for c in camps
        }
    if not (root / "out2-partner" / "campaigns.json").is_file():
        from distillguard.simulate.scenario import load_scenario

        sc = load_scenario(SCENARIO)
        _partner(root, sc.start + timedelta(days=sc.days), named)
    results["partner"] = evaluate(
        root, "partner", truth, period2, partner_actors=set(named.values())
    )
    return [
        {"metric": k, **{COLUMNS[t]: results[t].get(k, "") for t in COLUMNS}}
        for k in results["asis"]
    ]
