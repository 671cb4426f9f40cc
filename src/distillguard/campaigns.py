"""Campaigns: communities whose members, together, show extraction, with their evidence.

A campaign is a community of at least ``min_members`` flagged accounts whose community
score passes ``min_score``. For each one this module gathers, in a few grouped SQL
queries over the store, what an analyst needs: span, volume, output tokens, capability
profile, infrastructure indicators (address ranges, ASNs, hosting share, access paths,
client and payment fingerprints), the shared values that link the accounts, a daily
timeline, the strongest internal edges, and the model-release pivot (a model that the
campaign moved its traffic to soon after first using it).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from .campaign_assembly import select_members as _select_members
from .communities import Communities
from .contracts import Campaign, InfrastructureIndicators
from .links import LinkGraph
from .links._facts import table_columns
from .scoring.combine import AccountScores

__all__ = ["CampaignSet", "build_campaigns"]


class CampaignSet:
    """The campaigns found and, per account (graph order), its campaign id or ``""``."""

    def __init__(self, campaigns: list[Campaign], account_campaign: list[str]) -> None:
        self.campaigns = campaigns
        self.account_campaign = account_campaign


def _top(rows: list[tuple[Any, ...]], k: int) -> dict[str, list[tuple[Any, ...]]]:
    grouped: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        if len(grouped[r[0]]) < k:
            grouped[r[0]].append(r[1:])
    return grouped


def _pivots(hourly: list[tuple[Any, ...]]) -> dict[str, dict[str, Any]]:
    """Per campaign, the newest model it moved to: hours from first use to half of traffic."""
    per: dict[str, dict[datetime, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for camp, hour, model, n in hourly:
        per[camp][hour][model] += n
    out: dict[str, dict[str, Any]] = {}
    for camp, hours in per.items():
        times = sorted(hours)
        first: dict[str, datetime] = {}
        for t in times:
            for m in hours[t]:
                first.setdefault(m, t)
        start = times[0]
        late = [(t, m) for m, t in first.items() if (t - start).total_seconds() > 86_400]
        if not late:
            continue
        t_new, model = max(late)
        after = [t for t in times if t >= t_new]
        total = sum(sum(hours[t].values()) for t in after)
        share = sum(hours[t][model] for t in after) / max(total, 1)
        half = next((t for t in after if hours[t][model] >= 0.5 * sum(hours[t].values())), None)
        if share >= 0.3:
            out[camp] = {
                "model": model,
                "first_used": t_new.isoformat(),
                "share_after": round(share, 3),
                "hours_to_half": None if half is None else (half - t_new).total_seconds() / 3600,
            }
    return out


def build_campaigns(
    con: duckdb.DuckDBPyConnection,
    graph: LinkGraph,
    comms: Communities,
    scores: AccountScores,
    *,
    flag: float = 0.5,
    min_members: int = 3,
    firm: float = 0.2,
    max_edges: int = 400,
    merge_ratio: float = 0.2,
    seed: int = 42,
    seen: np.ndarray | None = None,
) -> CampaignSet:
    """Select campaigns (:mod:`distillguard.campaign_assembly`) and build their
    :class:`~distillguard.contracts.Campaign` objects."""
    chosen = _select_members(
        graph,
        scores,
        flag,
        min_members,
        firm,
        seed=seed,
        merge_ratio=merge_ratio,
        seen=seen,
        con=con,
    )
    account_campaign = [""] * len(graph.accounts)
    for cid, idx in chosen.items():
        for i in idx:
            account_campaign[i] = cid
    if not chosen:
        return CampaignSet([], account_campaign)
    ids = [graph.accounts[i] for idx in chosen.values() for i in idx]
    camps = [cid for cid, idx in chosen.items() for _ in idx]
    con.register("_cm_in", pa.table({"account_id": ids, "campaign": camps}))
    con.execute("CREATE OR REPLACE TEMP TABLE camp_members AS SELECT * FROM _cm_in")
    con.unregister("_cm_in")
    q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
    totals = {
        r[0]: r[1:]
        for r in q(
            """SELECT m.campaign, min(e.timestamp), max(e.timestamp), count(*),
                      coalesce(sum(e.output_tokens), 0)
               FROM exchanges e JOIN camp_members m USING (account_id) GROUP BY 1"""
        )
    }
    scols = table_columns(con, "exchange_signals")
    caps: dict[str, dict[str, float]] = defaultdict(dict)
    if "capability" in scols:
        for camp, cap, share in q(
            """SELECT m.campaign, s.capability::VARCHAR,
                      count(*) / sum(count(*)) OVER (PARTITION BY m.campaign)
               FROM exchange_signals s JOIN camp_members m USING (account_id)
               WHERE s.capability IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 3 DESC"""
        ):
            caps[camp][cap] = round(float(share), 4)
    ranges = _top(
        q("""SELECT m.campaign, f.ip24, count(*) n FROM link_facts f JOIN camp_members m
             USING (account_id) WHERE f.ip24 IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 3 DESC"""),
        10,
    )
    fps = _top(
        q("""SELECT m.campaign, f.client_fp, count(*) n FROM link_facts f JOIN camp_members m
             USING (account_id) WHERE f.client_fp IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 3 DESC"""),
        5,
    )
    hosting = (
        dict(
            q("""SELECT m.campaign, avg(f.hosting::INTEGER) FROM link_facts f
             JOIN camp_members m USING (account_id) GROUP BY 1""")
        )
        if "net_kind" in scols
        else {}
    )
    asns = (
        _top(
            q("""SELECT m.campaign, s.asn, any_value(s.asn_org), count(*) n FROM exchange_signals s
                 JOIN camp_members m USING (account_id) WHERE s.asn IS NOT NULL
                 GROUP BY 1, 2 ORDER BY 1, 4 DESC"""),
            10,
        )
        if {"asn", "asn_org"} <= scols
        else {}
    )
    paths: dict[str, dict[str, float]] = defaultdict(dict)
    for camp, path, share in q(
        """SELECT m.campaign, coalesce(e.access_path, 'api'),
                  count(*) / sum(count(*)) OVER (PARTITION BY m.campaign)
           FROM exchanges e JOIN camp_members m USING (account_id) GROUP BY 1, 2"""
    ):
        paths[camp][path] = round(float(share), 4)
    pays = _top(
        q("""SELECT m.campaign, a.payment_fingerprint, count(*) FROM accounts a
             JOIN camp_members m USING (account_id) WHERE a.payment_fingerprint IS NOT NULL
             GROUP BY 1, 2 ORDER BY 1, 3 DESC"""),
        20,
    )
    evidence = _top(
        q("""SELECT m.campaign, v.kind, regexp_replace(v.value, '@[0-9]+$', '') AS val,
                    count(DISTINCT v.account_id) n, max(v.w) w
             FROM link_values v JOIN camp_members m USING (account_id) GROUP BY 1, 2, 3
             HAVING count(DISTINCT v.account_id) >= 2
             ORDER BY 1, count(DISTINCT v.account_id) * max(v.w) DESC"""),
        25,
    )
    timeline = _top(
        q("""SELECT m.campaign, date_trunc('day', e.timestamp)::DATE::VARCHAR, count(*),
                    coalesce(sum(e.output_tokens), 0)
             FROM exchanges e JOIN camp_members m USING (account_id) GROUP BY 1, 2 ORDER BY 1, 2"""),
        10_000,
    )
    hourly = q(
        """SELECT m.campaign, date_trunc('hour', e.timestamp), coalesce(e.model, '?'), count(*)
           FROM exchanges e JOIN camp_members m USING (account_id) GROUP BY 1, 2, 3"""
    )
    pivots = _pivots(hourly)
    day_models: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for camp, hour, model, n in hourly:
        day = hour.date().isoformat()
        cell = day_models[(camp, day)]
        cell[model] = cell.get(model, 0) + int(n)
    edges = _internal_edges(graph, chosen, max_edges)
    out: list[Campaign] = []
    for cid, idx in chosen.items():
        members = sorted(graph.accounts[i] for i in idx)
        first, last, n_ex, out_tok = totals.get(cid, (None, None, 0, 0))
        if first is None:  # members known only from the registry
            continue
        reasons = Counter(code for i in idx for code in scores.reasons[i])
        c = int(comms.membership[idx[0]])
        out.append(
            Campaign(
                id=cid,
                members=members,
                first_seen=first,
                last_seen=last,
                exchanges=int(n_ex),
                output_tokens=int(out_tok),
                capability_profile=caps.get(cid, {}),
                infrastructure=InfrastructureIndicators(
                    ip_ranges=[r[0] for r in ranges.get(cid, [])],
                    asns=[int(r[0]) for r in asns.get(cid, [])],
                    asn_orgs=[str(r[1]) for r in asns.get(cid, []) if r[1]],
                    hosting_share=(
                        None if hosting.get(cid) is None else round(float(hosting[cid]), 4)
                    ),
                    access_paths=paths.get(cid, {}),
                    client_fingerprints=[str(r[0]) for r in fps.get(cid, [])],
                    payment_fingerprints=[str(r[0]) for r in pays.get(cid, [])],
                ),
                evidence=[
                    {"kind": k, "value": v, "accounts": int(n), "weight": round(float(w), 4)}
                    for k, v, n, w in evidence.get(cid, [])
                ],
                risk=round(float(scores.risk[idx].mean()), 4),
                extra={
                    "linked_by": _linked_by(graph, idx),
                    "community": c,
                    "timeline": [
                        {
                            "day": d,
                            "exchanges": int(n),
                            "output_tokens": int(t),
                            "models": day_models.get((cid, d), {}),
                        }
                        for d, n, t in timeline.get(cid, [])
                    ],
                    "edges": edges.get(cid, []),
                    "pivot": pivots.get(cid),
                    "reasons": [{"code": k, "accounts": v} for k, v in reasons.most_common(8)],
                },
            )
        )
    out.sort(key=lambda c: (-c.exchanges, c.id))
    return CampaignSet(out, account_campaign)


def _linked_by(graph: LinkGraph, idx: list[int], share: float = 0.1) -> list[str]:
    """Evidence kinds holding a campaign together, by their share of internal link weight."""
    if graph.n_edges == 0:
        return []
    inside = np.zeros(len(graph.accounts), dtype=bool)
    inside[idx] = True
    a = graph.edges.column("a").to_numpy()
    b = graph.edges.column("b").to_numpy()
    m = inside[a] & inside[b]
    tot = {k: float(graph.edges.column(f"w_{k}").to_numpy()[m].sum()) for k in graph.kinds}
    total = sum(tot.values()) or 1.0
    return [k for k in sorted(tot, key=lambda k: -tot[k]) if tot[k] / total >= share]


def _internal_edges(
    graph: LinkGraph, chosen: dict[str, list[int]], max_edges: int
) -> dict[str, list[dict[str, object]]]:
    if graph.n_edges == 0:
        return {}
    owner = np.full(len(graph.accounts), -1, dtype=np.int64)
    names = list(chosen)
    for j, cid in enumerate(names):
        owner[chosen[cid]] = j
    a = graph.edges.column("a").to_numpy().astype(np.int64)
    b = graph.edges.column("b").to_numpy().astype(np.int64)
    w = graph.edges.column("weight").to_numpy()
    kw = {k: graph.edges.column(f"w_{k}").to_numpy() for k in graph.kinds}
    keep = (owner[a] >= 0) & (owner[a] == owner[b])
    out: dict[str, list[dict[str, object]]] = defaultdict(list)
    for e in np.flatnonzero(keep)[np.argsort(-w[keep], kind="stable")]:
        cid = names[owner[a[e]]]
        if len(out[cid]) >= max_edges:
            continue
        out[cid].append(
            {
                "a": graph.accounts[a[e]],
                "b": graph.accounts[b[e]],
                "weight": round(float(w[e]), 4),
                "kinds": [k for k in graph.kinds if kw[k][e] > 0],
            }
        )
    return out
