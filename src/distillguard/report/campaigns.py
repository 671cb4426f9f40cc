"""The campaign report ``report.html`` that ``scan`` writes next to its verdicts.

One self-contained page for an analyst who has never seen the tool: what was found (a
campaign list), each campaign in its own section (members and their reasons, span,
volume, what it was extracting, what it ran on, what links its accounts, a timeline with
the model-release pivot, the attributed actor, and the account graph), and every flagged
account. Optional details come from ``Campaign.extra`` (``timeline``, ``edges``, ``pivot``,
``reasons``); each part is left out, with a note, when the scan did not provide it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..contracts import Campaign, Verdict
from .html import esc, fmt_num, graph_svg, hbar_chart, page, table
from .sections import (
    evidence_html,
    graph_edges,
    infrastructure_html,
    kv,
    pills,
    pivot_html,
    reason_counts,
    timeline_html,
)

__all__ = ["render_campaign_report"]

#: Rows shown per campaign member table and in the flagged-accounts table.
MAX_MEMBER_ROWS = 200
MAX_FLAGGED_ROWS = 2000


def _anchor(campaign_id: str) -> str:
    return "c-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in campaign_id)


def _summary_section(
    verdicts: Sequence[Verdict], campaigns: Sequence[Campaign], summary: Mapping[str, Any] | None
) -> str:
    actions = Counter(v.action for v in verdicts)
    flagged = sum(1 for v in verdicts if v.flagged)
    items = [
        ("accounts judged", fmt_num(len(verdicts))),
        ("accounts flagged", fmt_num(flagged)),
        ("campaigns", fmt_num(len(campaigns))),
        (
            "exchanges in campaigns",
            fmt_num(sum(c.exchanges for c in campaigns)),
        ),
        (
            "output tokens to campaigns",
            fmt_num(sum(c.output_tokens for c in campaigns)),
        ),
        ("actions", " ".join(f"{esc(a)}: {n:,}" for a, n in sorted(actions.items()))),
    ]
    shown_already = {"accounts", "flagged", "campaigns", "actions"}
    for key, value in (summary or {}).items():
        if key in shown_already:
            continue
        if isinstance(value, dict) and all(
            isinstance(v, int | float | str) for v in value.values()
        ):
            shown = ", ".join(f"{esc(k)}: {fmt_num(v)}" for k, v in value.items())
            items.append((str(key), shown))
        elif isinstance(value, str | int | float | bool):
            items.append((str(key), fmt_num(value) if not isinstance(value, str) else esc(value)))
        else:
            items.append((str(key), esc(_short_json(value))))
    return "<section><h2>Summary</h2>" + kv(items) + "</section>"


def _short_json(value: object, limit: int = 300) -> str:
    import json

    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _campaign_list(campaigns: Sequence[Campaign], flagged: set[str]) -> str:
    if not campaigns:
        return (
            "<section><h2>Campaigns</h2><p>No campaign was found: no group of accounts "
            "together showed extraction.</p></section>"
        )
    rows = []
    for c in campaigns:
        actor = c.attributed_actor.actor if c.attributed_actor else ""
        top_cap = (
            max(c.capability_profile.items(), key=lambda kv: kv[1])[0]
            if c.capability_profile
            else ""
        )
        rows.append(
            [
                f"<a href='#{_anchor(c.id)}'><code>{esc(c.id)}</code></a>",
                esc(actor) or "<span class='muted'>unattributed</span>",
                f"{len(c.members):,}",
                f"{sum(1 for m in c.members if m in flagged):,}",
                esc(f"{c.first_seen:%Y-%m-%d %H:%M} → {c.last_seen:%Y-%m-%d %H:%M}"),
                f"{c.exchanges:,}",
                f"{c.output_tokens:,}",
                esc(top_cap),
                fmt_num(c.risk) if c.risk is not None else "–",
            ]
        )
    return (
        "<section><h2>Campaigns</h2><p class='muted'>Groups of linked accounts whose traffic, "
        "taken together, looks like harvesting the model's answers. Click an id for details."
        "</p>"
        + table(
            [
                "campaign",
                "attributed actor",
                "accounts",
                "flagged",
                "span (UTC)",
                "exchanges",
                "output tokens",
                "main capability",
                "risk",
            ],
            rows,
            numeric=[False, False, True, True, False, True, True, False, True],
            raw=True,
        )
        + "</section>"
    )


def _members(c: Campaign, by_id: Mapping[str, Verdict]) -> str:
    members = sorted(c.members, key=lambda m: -(by_id[m].risk if m in by_id else 0.0))
    rows = []
    for m in members[:MAX_MEMBER_ROWS]:
        v = by_id.get(m)
        rows.append(
            [
                f"<code>{esc(m)}</code>",
                fmt_num(v.risk) if v else "–",
                esc(v.action) if v else "<span class='muted'>no verdict</span>",
                pills(v.reasons) if v else "",
            ]
        )
    note = (
        f"<p class='muted'>Showing {MAX_MEMBER_ROWS} of {len(members):,} members, riskiest first.</p>"
        if len(members) > MAX_MEMBER_ROWS
        else ""
    )
    return (
        "<h3>Members and reasons</h3>"
        + table(
            ["account", "risk", "action", "reasons"],
            rows,
            numeric=[False, True, False, False],
            raw=True,
        )
        + note
    )


def _campaign_section(c: Campaign, by_id: Mapping[str, Verdict]) -> str:
    actor = c.attributed_actor
    actor_html = (
        f"<b>{esc(actor.actor)}</b> (confidence {actor.confidence:.0%})"
        + (" — " + esc("; ".join(actor.evidence[:6])) if actor.evidence else "")
        if actor
        else "<span class='muted'>not attributed to a known actor</span>"
    )
    span_h = (c.last_seen - c.first_seen).total_seconds() / 3600
    head = kv(
        [
            ("attributed actor", actor_html),
            ("accounts", fmt_num(len(c.members))),
            (
                "span (UTC)",
                esc(
                    f"{c.first_seen:%Y-%m-%d %H:%M} → {c.last_seen:%Y-%m-%d %H:%M} ({span_h:,.0f} h)"
                ),
            ),
            ("exchanges", fmt_num(c.exchanges)),
            ("output tokens", fmt_num(c.output_tokens)),
            ("risk", fmt_num(c.risk) if c.risk is not None else "–"),
        ]
    )
    reasons = reason_counts(c.extra.get("reasons"))
    cap = dict(sorted(c.capability_profile.items(), key=lambda kv: -kv[1]))
    charts = []
    if cap:
        charts.append(hbar_chart(cap, title="What it was extracting (share of exchanges)"))
    if reasons:
        total = sum(reasons.values()) or 1.0
        top = dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:10])
        charts.append(
            hbar_chart({k: v / total for k, v in top.items()}, title="Reasons across members")
        )
    graph = graph_svg(c.members, graph_edges(c), title="Account graph (edges: shared evidence)")
    return (
        f"<section id='{_anchor(c.id)}'><h2>Campaign <code>{esc(c.id)}</code></h2>"
        + head
        + (
            f"<div class='charts'>{''.join(f'<div>{x}</div>' for x in charts)}</div>"
            if charts
            else "<p class='muted'>No capability profile recorded.</p>"
        )
        + "<h3>Timeline</h3>"
        + timeline_html(c)
        + pivot_html(c)
        + infrastructure_html(c)
        + evidence_html(c)
        + "<h3>Account graph</h3>"
        + (graph or "<p class='muted'>No links recorded between members.</p>")
        + _members(c, by_id)
        + "</section>"
    )


def _flagged_section(verdicts: Sequence[Verdict]) -> str:
    flagged = sorted((v for v in verdicts if v.flagged), key=lambda v: (-v.risk, v.account_id))
    rows = [
        [
            f"<code>{esc(v.account_id)}</code>",
            fmt_num(v.risk),
            esc(v.action),
            f"<a href='#{_anchor(v.campaign_id)}'><code>{esc(v.campaign_id)}</code></a>"
            if v.campaign_id
            else "",
            pills(v.reasons),
        ]
        for v in flagged[:MAX_FLAGGED_ROWS]
    ]
    note = (
        f"<p class='muted'>Showing {MAX_FLAGGED_ROWS:,} of {len(flagged):,}, riskiest first; "
        "verdicts.csv has all.</p>"
        if len(flagged) > MAX_FLAGGED_ROWS
        else ""
    )
    if not flagged:
        return "<section><h2>Flagged accounts</h2><p>No account was flagged.</p></section>"
    return (
        f"<section><h2>Flagged accounts ({len(flagged):,})</h2>"
        + table(
            ["account", "risk", "action", "campaign", "reasons"],
            rows,
            numeric=[False, True, False, False, False],
            raw=True,
        )
        + note
        + "</section>"
    )


def render_campaign_report(
    out_dir: Path,
    verdicts: list[Verdict],
    campaigns: list[Campaign],
    summary: dict[str, Any] | None = None,
) -> Path:
    """Write ``out_dir/report.html`` for a scan and return its path.

    ``summary`` is shown as key/value pairs at the top (e.g. stage timings, input files).
    The file is self-contained (inline CSS and SVG, no scripts, no network) and every
    string from the data is HTML-escaped.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_id = {v.account_id: v for v in verdicts}
    flagged = {v.account_id for v in verdicts if v.flagged}
    ordered = sorted(campaigns, key=lambda c: (-(c.risk or 0.0), -len(c.members), c.id))
    body = [
        _summary_section(verdicts, ordered, summary),
        _campaign_list(ordered, flagged),
        *(_campaign_section(c, by_id) for c in ordered),
        _flagged_section(verdicts),
    ]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    html_text = page(
        "distillguard: distillation campaigns",
        f"{len(ordered)} campaign(s), {len(flagged):,} flagged account(s) of {len(verdicts):,}; generated {generated}",
        body,
    )
    path = out_dir / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html_text, encoding="utf-8")
    tmp.replace(path)
    return path
