"""Terminal tables (rich) of an evaluation result: every detector side by side.

The rows are built by :func:`table_rows`, which the HTML report reuses, so the terminal,
the JSON and the report always show the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["print_tables", "table_rows"]


def _f(v: object, pct: bool = False) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.1%}" if pct else f"{v:.3f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _get(d: Mapping[str, Any] | None, *keys: str) -> Any:
    cur: Any = d
    for k in keys:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(k)
    return cur


def table_rows(result: Mapping[str, Any]) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Titled tables as (header, rows) of strings: headline, per group, per actor, enforcement."""
    dets = result["detectors"]
    names = [d["name"] for d in dets]
    out: dict[str, tuple[list[str], list[list[str]]]] = {}
    head = ["metric", *names]
    rows = [
        ["accounts scored", *(_f(d["scope"]) for d in dets)],
        ["flagged", *(_f(d["accounts"]["tp"] + d["accounts"]["fp"]) for d in dets)],
        ["precision", *(_f(d["accounts"]["precision"]) for d in dets)],
        ["recall", *(_f(d["accounts"]["recall"]) for d in dets)],
        ["F1", *(_f(d["accounts"]["f1"]) for d in dets)],
        ["benign FPR", *(_f(d["accounts"]["fpr"], pct=True) for d in dets)],
        ["ROC AUC (any threshold)", *(_f(d.get("auc")) for d in dets)],
        ["campaigns found", *(_f(_get(d, "campaigns", "predicted")) for d in dets)],
        ["campaign purity", *(_f(_get(d, "campaigns", "purity")) for d in dets)],
        ["actor completeness", *(_f(_get(d, "campaigns", "actor_completeness")) for d in dets)],
        [
            "attribution accuracy",
            *(_f(_get(d, "campaigns", "attribution", "accuracy")) for d in dets),
        ],
    ]
    out["Accounts and campaigns"] = (head, rows)

    groups = sorted({g for d in dets for g in d["groups"]}, key=lambda g: (_is_attack(dets, g), g))
    grows = []
    for g in groups:
        kind = "attack" if _is_attack(dets, g) else "benign"
        n = next((d["groups"][g]["accounts"] for d in dets if g in d["groups"]), 0)
        grows.append([g, kind, _f(n), *(_f(_get(d, "groups", g, "rate"), pct=True) for d in dets)])
    out["Flag rate per group (benign rows = false-positive rate)"] = (
        ["group", "truth", "accounts", *names],
        grows,
    )

    actors = sorted({a for d in dets for a in d["actors"]})
    arows = [
        [
            a,
            _f(next((d["actors"][a]["accounts"] for d in dets if a in d["actors"]), 0)),
            *(_f(_get(d, "actors", a, "rate"), pct=True) for d in dets),
        ]
        for a in actors
    ]
    out["Flag rate per actor (recall)"] = (["actor", "accounts", *names], arows)

    for d in dets:
        enf = d.get("enforcement")
        if not enf:
            continue
        crow = [
            [
                c,
                _f(v["exchanges"]),
                _f(v["output_tokens"]),
                _f(v["full_quality_exchanges"], True),
                _f(v["full_quality_tokens"], True),
                _f(v["before_first_stop_exchanges"], True),
                _f(v["before_first_stop_tokens"], True),
                _f(v["before_first_enforcement_exchanges"], True),
            ]
            for c, v in enf["campaigns"].items()
        ]
        out[f"{d['name']}: what each campaign got (replayed decisions)"] = (
            [
                "campaign",
                "exchanges",
                "output tokens",
                "full quality ex",
                "full quality tok",
                "before 1st block/degrade ex",
                "… tok",
                "before 1st enforcement ex",
            ],
            crow,
        )
        brow = [
            [
                g,
                _f(v["exchanges"]),
                _f(v["throttled"], True),
                _f(v["verified"], True),
                _f(v["degraded"], True),
                _f(v["blocked"], True),
            ]
            for g, v in enf["benign_groups"].items()
        ]
        brow.append(
            ["enterprise exchange blocked?", _f(enf.get("enterprise_blocked")), "", "", "", ""]
        )
        out[f"{d['name']}: what benign users paid (share of exchanges)"] = (
            ["group", "exchanges", "throttled", "verify", "degraded", "blocked"],
            brow,
        )
    return out


def _is_attack(dets: list[Mapping[str, Any]], group: str) -> bool:
    return any(bool(_get(d, "groups", group, "is_attack")) for d in dets)


def print_tables(result: Mapping[str, Any], console: Console) -> None:
    """Print every table of :func:`table_rows`, then each detector's notes."""
    pop = result["population"]
    console.print(
        f"[bold]Evaluation[/] on {pop['accounts']:,} active accounts "
        f"({pop['attack']:,} attack, {pop['benign']:,} benign), "
        f"{_f(result.get('exchanges'))} exchanges"
    )
    for title, (header, rows) in table_rows(result).items():
        t = Table(title=title, title_justify="left")
        for i, h in enumerate(header):
            t.add_column(h, justify="left" if i == 0 else "right")
        for r in rows:
            t.add_row(*r)
        console.print(t)
    for d in result["detectors"]:
        for note in d["notes"]:
            console.print(f"[dim]{d['name']}: {note}[/]")
