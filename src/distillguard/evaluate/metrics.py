"""Metric functions of the evaluation harness: verdicts and decisions scored against truth.

All functions are pure: truth and a detector's output in, plain ``dict`` out (JSON-ready;
an undefined ratio, like precision with nothing flagged, is ``None``). Definitions:

* **account metrics** over a scope of labelled accounts: precision, recall, F1 and the
  false-positive rate (flagged benign / benign); an account missing from the verdicts is
  not flagged.
* **flag rates** per truth group (population or archetype) and per actor; for a benign
  group the flag rate *is* that group's false-positive rate.
* **campaign purity**: for each predicted campaign, the share of its members that belong
  to its dominant true actor (benign or unlabelled members never count for an actor, so a
  campaign of benign accounts has purity 0); averaged weighted by campaign size.
* **actor completeness**: for each true actor, the share of its accounts found in the one
  predicted campaign holding most of them; the headline is the unweighted mean over actors.
* **attribution accuracy**: among predicted campaigns with an attributed actor, the share
  whose attributed actor is the campaign's dominant true actor.
* **ROC AUC** of a detector's account scores, where it has scores (threshold-free).
* **enforcement** (from replayed ``decisions.csv``): per true campaign the share of its
  exchanges and output tokens served at full quality (allow / monitor), served before its
  first block or degrade, and served before its first enforcement of any kind; per benign
  group the share of exchanges throttled / verified / degraded / blocked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import duckdb
import pyarrow as pa

from ..contracts import CampaignTruth, TruthRow

__all__ = [
    "BENIGN",
    "account_metrics",
    "auc",
    "campaign_metrics",
    "enforcement_metrics",
    "flag_rates",
    "ratio",
]

#: Label used for accounts that belong to no actor.
BENIGN = "(benign)"
#: Actions that serve the answer at full quality.
FULL_QUALITY = ("allow", "monitor")
#: Actions that stop or spoil the answer.
STOPPING = ("degrade", "block")
#: Every action that is some kind of enforcement.
ENFORCING = ("throttle", "verify", "degrade", "block")


def ratio(num: float, den: float) -> float | None:
    """``num / den``, or ``None`` when ``den`` is 0 (undefined, shown as a dash)."""
    return float(num) / float(den) if den else None


def _scoped(truth: Mapping[str, TruthRow], scope: Iterable[str] | None) -> dict[str, TruthRow]:
    if scope is None:
        return dict(truth)
    return {a: truth[a] for a in scope if a in truth}


def account_metrics(
    truth: Mapping[str, TruthRow], flagged: set[str], scope: Iterable[str] | None = None
) -> dict[str, float | int | None]:
    """Confusion counts, precision, recall, F1 and FPR over the labelled accounts in scope."""
    rows = _scoped(truth, scope)
    tp = sum(1 for a, r in rows.items() if r.is_attack and a in flagged)
    fp = sum(1 for a, r in rows.items() if not r.is_attack and a in flagged)
    attack = sum(1 for r in rows.values() if r.is_attack)
    benign = len(rows) - attack
    fn = attack - tp
    tn = benign - fp
    precision = ratio(tp, tp + fp)
    recall = ratio(tp, attack)
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and (precision + recall) > 0
        else (0.0 if precision == 0.0 or recall == 0.0 else None)
    )
    return {
        "accounts": len(rows),
        "attack": attack,
        "benign": benign,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "fpr": ratio(fp, benign),
    }


def auc(
    truth: Mapping[str, TruthRow], scores: Mapping[str, float], scope: Iterable[str] | None = None
) -> float | None:
    """ROC AUC of ``scores`` (higher = more suspicious) for attack vs benign accounts in scope.

    Accounts without a score rank below every scored one (ties among them). ``None`` when
    the scope lacks either class. Threshold-free: how well the score *could* separate.
    """
    from sklearn.metrics import roc_auc_score

    rows = _scoped(truth, scope)
    y = [r.is_attack for r in rows.values()]
    if all(y) or not any(y):
        return None
    floor = min(scores.values(), default=0.0) - 1.0
    s = [float(scores.get(a, floor)) for a in rows]
    return float(roc_auc_score(y, s))


def flag_rates(
    truth: Mapping[str, TruthRow],
    flagged: set[str],
    key: str = "group",
    scope: Iterable[str] | None = None,
) -> dict[str, dict[str, object]]:
    """Per ``key`` (``group`` or ``actor``): accounts, flagged, flag rate, whether attack.

    With ``key="actor"`` benign accounts are left out (they have no actor).
    """
    rows = _scoped(truth, scope)
    total: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    attack: dict[str, bool] = {}
    for a, r in rows.items():
        if key == "actor" and not r.is_attack:
            continue
        name = r.group if key == "group" else (r.actor or "(unnamed)")
        total[name] += 1
        hit[name] += a in flagged
        attack[name] = attack.get(name, False) or r.is_attack
    return {
        name: {
            "accounts": total[name],
            "flagged": hit[name],
            "rate": ratio(hit[name], total[name]),
            "is_attack": attack[name],
        }
        for name in sorted(total)
    }


def _label(truth: Mapping[str, TruthRow], account: str) -> str:
    r = truth.get(account)
    if r is None or not r.is_attack:
        return BENIGN
    return r.actor or "(unnamed)"


def campaign_metrics(
    truth: Mapping[str, TruthRow],
    campaigns: Mapping[str, Sequence[str]],
    attributed: Mapping[str, str] | None = None,
    scope: Iterable[str] | None = None,
) -> dict[str, object]:
    """Purity, actor completeness and attribution accuracy of predicted ``campaigns``.

    ``campaigns`` maps a predicted campaign id to its member accounts; ``attributed`` maps
    a campaign id to the actor the detector named (missing or empty: not attributed).
    """
    rows = _scoped(truth, scope)
    per_campaign: dict[str, dict[str, object]] = {}
    dominant_total = 0
    size_total = 0
    for cid, members in campaigns.items():
        counts = Counter(_label(rows, m) for m in members)
        counts.pop(BENIGN, None)
        actor, n = counts.most_common(1)[0] if counts else ("", 0)
        per_campaign[cid] = {
            "size": len(members),
            "dominant_actor": actor,
            "purity": ratio(n, len(members)),
        }
        dominant_total += n
        size_total += len(members)

    actor_accounts: dict[str, set[str]] = {}
    for a, r in rows.items():
        if r.is_attack:
            actor_accounts.setdefault(r.actor or "(unnamed)", set()).add(a)
    completeness: dict[str, dict[str, object]] = {}
    for actor, accts in sorted(actor_accounts.items()):
        best, best_id = 0, ""
        for cid, members in campaigns.items():
            n = len(accts.intersection(members))
            if n > best:
                best, best_id = n, cid
        completeness[actor] = {
            "accounts": len(accts),
            "best_campaign": best_id,
            "found": best,
            "completeness": ratio(best, len(accts)),
        }
    values = [float(c["completeness"]) for c in completeness.values()]  # type: ignore[arg-type]

    named = {cid: a for cid, a in (attributed or {}).items() if a and cid in campaigns}
    correct = sum(1 for cid, a in named.items() if per_campaign[cid]["dominant_actor"] == a)
    return {
        "predicted": len(campaigns),
        "purity": ratio(dominant_total, size_total),
        "actor_completeness": sum(values) / len(values) if values else None,
        "campaigns": per_campaign,
        "actors": completeness,
        "attribution": {
            "attributed": len(named),
            "correct": correct,
            "accuracy": ratio(correct, len(named)),
        },
    }


def _owner_table(
    truth: Mapping[str, TruthRow], campaigns_truth: Sequence[CampaignTruth]
) -> pa.Table:
    """account -> (unit, kind): true campaign for attack accounts, group for benign ones."""
    owner: dict[str, tuple[str, str]] = {}
    for c in campaigns_truth:
        for m in c.members:
            owner.setdefault(m, (c.campaign_id, "campaign"))
    for a, r in truth.items():
        if a in owner:
            continue
        if r.is_attack:
            owner[a] = (r.actor or r.group, "campaign")
        else:
            owner[a] = (r.group, "benign")
    accts = list(owner)
    return pa.table(
        {
            "account_id": accts,
            "unit": [owner[a][0] for a in accts],
            "kind": [owner[a][1] for a in accts],
        }
    )


def enforcement_metrics(
    truth: Mapping[str, TruthRow],
    campaigns_truth: Sequence[CampaignTruth],
    exchanges: pa.Table,
    decisions: pa.Table,
) -> dict[str, object]:
    """Score replayed decisions: how much each campaign got, and what benign users paid.

    ``exchanges`` has ``exchange_id, account_id, timestamp, output_tokens`` (from the truth
    log); ``decisions`` has ``exchange_id, action``. An exchange with no decision counts
    as allowed (reported as ``undecided``).
    """
    owners = _owner_table(truth, campaigns_truth)
    con = duckdb.connect()
    try:
        con.register(
            "ex", exchanges.select(["exchange_id", "account_id", "timestamp", "output_tokens"])
        )
        con.register("dec", decisions.select(["exchange_id", "action"]))
        con.register("own", owners)
        con.execute(
            """
            CREATE TEMP TABLE j AS
            SELECT own.unit, own.kind, ex.timestamp AS ts,
                   coalesce(ex.output_tokens, 0) AS tok,
                   coalesce(d.action, 'allow') AS action, d.action IS NULL AS undecided
            FROM ex JOIN own USING (account_id)
            LEFT JOIN (SELECT exchange_id, any_value(action) AS action FROM dec GROUP BY 1) d
            USING (exchange_id)
            """
        )
        campaign_rows = con.execute(
            """
            WITH firsts AS (
              SELECT unit,
                     min(ts) FILTER (WHERE action IN ('degrade','block')) AS t_stop,
                     min(ts) FILTER (WHERE action IN ('throttle','verify','degrade','block')) AS t_enf
              FROM j WHERE kind = 'campaign' GROUP BY unit)
            SELECT j.unit, count(*) AS n, sum(tok) AS tok,
                   count(*) FILTER (WHERE action IN ('allow','monitor')) AS n_full,
                   sum(tok) FILTER (WHERE action IN ('allow','monitor')) AS tok_full,
                   count(*) FILTER (WHERE t_stop IS NULL OR ts < t_stop) AS n_before_stop,
                   sum(tok) FILTER (WHERE t_stop IS NULL OR ts < t_stop) AS tok_before_stop,
                   count(*) FILTER (WHERE t_enf IS NULL OR ts < t_enf) AS n_before_enf,
                   sum(tok) FILTER (WHERE t_enf IS NULL OR ts < t_enf) AS tok_before_enf,
                   count(*) FILTER (WHERE undecided) AS undecided,
                   any_value(t_stop) AS t_stop, any_value(t_enf) AS t_enf
            FROM j JOIN firsts USING (unit) GROUP BY j.unit ORDER BY j.unit
            """
        ).fetchall()
        benign_rows = con.execute(
            """
            SELECT unit, count(*) AS n,
                   count(*) FILTER (WHERE action = 'throttle'), count(*) FILTER (WHERE action = 'verify'),
                   count(*) FILTER (WHERE action = 'degrade'), count(*) FILTER (WHERE action = 'block'),
                   count(*) FILTER (WHERE undecided)
            FROM j WHERE kind = 'benign' GROUP BY unit ORDER BY unit
            """
        ).fetchall()
    finally:
        con.close()
    per_campaign: dict[str, dict[str, object]] = {}
    for unit, n, tok, nf, tf, nbs, tbs, nbe, tbe, und, t_stop, t_enf in campaign_rows:
        per_campaign[unit] = {
            "exchanges": int(n),
            "output_tokens": int(tok or 0),
            "full_quality_exchanges": ratio(nf, n),
            "full_quality_tokens": ratio(tf or 0, tok or 0),
            "before_first_stop_exchanges": ratio(nbs, n),
            "before_first_stop_tokens": ratio(tbs or 0, tok or 0),
            "before_first_enforcement_exchanges": ratio(nbe, n),
            "before_first_enforcement_tokens": ratio(tbe or 0, tok or 0),
            "first_stop": t_stop.isoformat() if t_stop is not None else None,
            "first_enforcement": t_enf.isoformat() if t_enf is not None else None,
            "undecided": int(und),
        }
    per_group: dict[str, dict[str, object]] = {}
    for unit, n, thr, ver, deg, blk, und in benign_rows:
        per_group[unit] = {
            "exchanges": int(n),
            "throttled": ratio(thr, n),
            "verified": ratio(ver, n),
            "degraded": ratio(deg, n),
            "blocked": ratio(blk, n),
            "blocked_exchanges": int(blk),
            "undecided": int(und),
        }
    enterprise = [g for g in per_group if "enterprise" in g]
    return {
        "campaigns": per_campaign,
        "benign_groups": per_group,
        "enterprise_blocked": any(per_group[g]["blocked_exchanges"] for g in enterprise)
        if enterprise
        else None,
    }
