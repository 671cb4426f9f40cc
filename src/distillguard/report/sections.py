"""Parts of a campaign's section in ``report.html``: timeline, pivot, infrastructure,
linking evidence and the account graph's edges, read leniently from ``Campaign.extra``.

The scan engine may write ``timeline`` points keyed ``date`` or ``day``, edges with one
``kind`` or a ``kinds`` list, ``reasons`` as a mapping or a list of ``{code, accounts}``,
evidence ``accounts`` as a list or a count, and a pivot with ``released`` or
``first_used``; every variant renders, and a missing part renders as a short note.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from ..contracts import Campaign
from .html import esc, fmt_num, stacked_day_chart, table

__all__ = [
    "as_dict",
    "as_list",
    "evidence_html",
    "graph_edges",
    "infrastructure_html",
    "kv",
    "pills",
    "pivot_html",
    "reason_counts",
    "timeline_html",
]


def pills(codes: Sequence[str], cls: str = "") -> str:
    """Reason codes as escaped pill badges."""
    return "".join(f"<span class='pill {cls}'>{esc(c)}</span>" for c in codes)


def kv(items: Sequence[tuple[str, str]]) -> str:
    """Definition list; values are already-escaped HTML."""
    return "<dl class='kv'>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def as_list(value: object) -> list[Any]:
    """``value`` if it is a list, else an empty list."""
    return value if isinstance(value, list) else []


def as_dict(value: object) -> dict[str, Any]:
    """``value`` if it is a dict, else an empty dict."""
    return value if isinstance(value, dict) else {}


def _day(point: Mapping[str, Any]) -> str:
    return str(point.get("date") or point.get("day") or "")[:10]


def reason_counts(value: object) -> dict[str, float]:
    """Reason code -> count from ``{code: n}`` or ``[{"code": c, "accounts"|"count": n}]``."""
    if isinstance(value, dict):
        return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float)}
    out: dict[str, float] = {}
    for item in as_list(value):
        if isinstance(item, dict) and item.get("code") is not None:
            n = item.get("accounts", item.get("count"))
            if isinstance(n, int | float):
                out[str(item["code"])] = float(n)
    return out


def timeline_html(c: Campaign) -> str:
    """Exchanges per day by model (with the pivot marker) and output tokens per day."""
    points = [p for p in as_list(c.extra.get("timeline")) if isinstance(p, dict) and _day(p)]
    if not points:
        return "<p class='muted'>No timeline was recorded for this campaign.</p>"
    points.sort(key=_day)
    days = [_day(p) for p in points]
    models = sorted({str(m) for p in points for m in as_dict(p.get("models"))})
    if models:
        stacks = {
            m: [float(as_dict(p.get("models")).get(m, 0) or 0) for p in points] for m in models
        }
    else:
        stacks = {"exchanges": [float(p.get("exchanges") or 0) for p in points]}
    pivot = as_dict(c.extra.get("pivot"))
    marker = None
    released = pivot.get("released") or pivot.get("first_used")
    if released:
        marker = (str(released)[:10], f"{pivot.get('model', '')} arrives")
    chart = stacked_day_chart(
        days, stacks, title="Exchanges per day, by model", marker=marker, width=620
    )
    tokens = {"output tokens": [float(p.get("output_tokens") or 0) for p in points]}
    chart2 = stacked_day_chart(days, tokens, title="Output tokens per day", width=620, height=160)
    return f"<div class='charts'><div>{chart}</div><div>{chart2}</div></div>"


def pivot_html(c: Campaign) -> str:
    """A sentence on the model-release pivot, or nothing when there was none."""
    pivot = as_dict(c.extra.get("pivot"))
    if not pivot:
        return ""
    hours = pivot.get("hours_to_half")
    share = pivot.get("share_after")
    when = pivot.get("released") or pivot.get("first_used")
    verb = "was released" if pivot.get("released") else "first appeared in its traffic"
    if isinstance(hours, int | float):
        moved = f"half of this campaign's traffic had moved to it within <b>{hours:.1f} h</b>"
    else:
        moved = "its hourly traffic never reached half on the new model"
    share_txt = (
        f" From then on {share:.0%} of its exchanges used it."
        if isinstance(share, int | float)
        else ""
    )
    return (
        f"<h3>Model-release pivot</h3><p>After <code>{esc(pivot.get('model'))}</code> {verb} "
        f"({esc(when)}), {moved}.{esc(share_txt)} Legitimate users migrate over weeks; "
        "harvesting pipelines switch at once.</p>"
    )


def infrastructure_html(c: Campaign) -> str:
    """The campaign's infrastructure indicators as a definition list."""
    inf = c.infrastructure
    items: list[tuple[str, str]] = []
    if inf.ip_ranges:
        items.append(("IP ranges", " ".join(f"<code>{esc(r)}</code>" for r in inf.ip_ranges[:20])))
    if inf.asns or inf.asn_orgs:
        asn = [f"AS{a}" for a in inf.asns[:12]]
        items.append(
            (
                "ASNs",
                esc(", ".join(asn))
                + (" — " + esc(", ".join(inf.asn_orgs[:12])) if inf.asn_orgs else ""),
            )
        )
    if inf.hosting_share is not None:
        items.append(("hosting / VPN / proxy share", f"{inf.hosting_share:.0%}"))
    if inf.access_paths:
        items.append(
            ("access paths", esc(", ".join(f"{k} {v:.0%}" for k, v in inf.access_paths.items())))
        )
    if inf.client_fingerprints:
        items.append(
            (
                "client fingerprints",
                " ".join(f"<code>{esc(f)}</code>" for f in inf.client_fingerprints[:12]),
            )
        )
    if inf.payment_fingerprints:
        items.append(
            (
                "payment fingerprints",
                " ".join(f"<code>{esc(f)}</code>" for f in inf.payment_fingerprints[:12]),
            )
        )
    if not items:
        return "<h3>Infrastructure</h3><p class='muted'>No infrastructure indicators recorded.</p>"
    return "<h3>Infrastructure</h3>" + kv(items)


def evidence_html(c: Campaign) -> str:
    """The linking evidence as a table (kind, shared value, accounts, weight)."""
    if not c.evidence:
        return "<h3>Linking evidence</h3><p class='muted'>No linking evidence recorded.</p>"
    rows = []
    for ev in c.evidence[:50]:
        accounts = ev.get("accounts")
        n_acc = len(accounts) if isinstance(accounts, list) else accounts
        value = ev.get("value")
        rows.append(
            [
                esc(ev.get("kind")),
                f"<code>{esc(str(value)[:120])}</code>" if value is not None else "",
                f"{n_acc:,}" if isinstance(n_acc, int) else "",
                fmt_num(ev.get("weight")) if isinstance(ev.get("weight"), int | float) else "",
            ]
        )
    return "<h3>Linking evidence</h3>" + table(
        ["kind", "shared value", "accounts", "weight"],
        rows,
        numeric=[False, False, True, True],
        raw=True,
    )


def graph_edges(c: Campaign) -> list[tuple[str, str, str, float]]:
    """Edges for the account graph: ``extra["edges"]``, else chains over the evidence."""
    edges: list[tuple[str, str, str, float]] = []
    for e in as_list(c.extra.get("edges")):
        if isinstance(e, dict) and e.get("a") is not None and e.get("b") is not None:
            w = e.get("weight")
            kinds = e.get("kinds")
            kind = "+".join(map(str, kinds)) if isinstance(kinds, list) and kinds else e.get("kind")
            wt = float(w) if isinstance(w, int | float) else 1.0
            edges.append((str(e["a"]), str(e["b"]), str(kind or "link"), wt))
    if edges:
        return edges
    # No explicit edges: connect the accounts each piece of evidence names, as a chain.
    for ev in c.evidence:
        accounts = [str(a) for a in as_list(ev.get("accounts"))]
        w = ev.get("weight")
        wt = float(w) if isinstance(w, int | float) else 1.0
        for a, b in itertools.pairwise(accounts):
            edges.append((a, b, str(ev.get("kind", "link")), wt))
    return edges
