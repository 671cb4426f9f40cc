"""Building blocks for self-contained HTML reports: escaping, page shell, tables, SVG charts.

Every report distillguard writes is one file an analyst can open offline or attach to a
ticket: inline CSS, inline SVG, no scripts, no fonts, no network. Every string that came
from the data (account ids, prompts, model names, evidence values) goes through
:func:`esc`, because the traffic under study is written by the adversary.

The helpers return HTML fragments as ``str``; callers join them.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "PALETTE",
    "bar_chart",
    "compact",
    "esc",
    "fmt_num",
    "graph_svg",
    "hbar_chart",
    "page",
    "stacked_day_chart",
    "table",
]

#: Colours used for series and nodes, colour-blind friendly (Okabe-Ito), in order.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)

_CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0;color:#1d232a;background:#f6f7f9}
header{background:#17202a;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c9d1d9}
main{padding:18px 28px;max-width:1240px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:14px 18px;margin:0 0 18px}
h2{font-size:18px;margin:0 0 10px}
h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid #e6e8eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;
word-break:break-all}
.muted{color:#66707a}
.pill{display:inline-block;padding:0 6px;border-radius:9px;background:#e8eef7;margin:1px 2px;
font-size:12px}
.bad{background:#fde2dd}.good{background:#dff3e7}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px}
.kv dt{color:#66707a}.kv dd{margin:0}
.charts{display:flex;flex-wrap:wrap;gap:18px}
nav ol{margin:0;padding-left:20px}
svg text{font-family:system-ui,sans-serif}
"""


def esc(value: object) -> str:
    """HTML-escape any value (``None`` becomes an empty string); quotes are escaped too."""
    if value is None:
        return ""
    return html.escape(str(value), quote=True)


def fmt_num(value: object, digits: int = 3) -> str:
    """Format a number for a table cell: ints with thousands separators, floats rounded."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:,.{digits}f}"
    return esc(value)


def compact(value: float) -> str:
    """A short axis label: 950, 12k, 3.4M, 1.2G."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"{value / div:.3g}{unit}"
    return f"{value:.3g}"


def page(title: str, subtitle: str, body: Iterable[str]) -> str:
    """A whole HTML document: header with ``title`` / ``subtitle`` and the ``body`` fragments."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header><main>"
        + "".join(body)
        + "</main></body></html>\n"
    )


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Sequence[bool] | None = None,
    raw: bool = False,
) -> str:
    """An HTML table. Cells are escaped unless ``raw`` (then callers pass escaped HTML).

    ``numeric`` marks columns that are right-aligned; numbers are formatted with
    :func:`fmt_num`.
    """
    numeric = list(numeric) if numeric is not None else [False] * len(headers)
    head = "".join(
        f"<th class='num'>{esc(h)}</th>" if n else f"<th>{esc(h)}</th>"
        for h, n in zip(headers, numeric, strict=True)
    )
    out = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    for row in rows:
        cells = []
        for value, n in zip(row, numeric, strict=True):
            text = str(value) if raw and isinstance(value, str) else fmt_num(value)
            cells.append(f"<td class='num'>{text}</td>" if n else f"<td>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def hbar_chart(
    values: Mapping[str, float], *, title: str = "", width: int = 420, fmt: str = "{:.0%}"
) -> str:
    """Horizontal bars, one per label (e.g. a capability profile); values sorted as given."""
    items = [(str(k), float(v)) for k, v in values.items()]
    if not items:
        return ""
    row_h, label_w = 20, 200
    top = 22 if title else 4
    h = top + row_h * len(items) + 4
    vmax = max((v for _, v in items), default=0.0) or 1.0
    bar_w = width - label_w - 60
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{h}' "
        f"viewBox='0 0 {width} {h}' role='img' aria-label='{esc(title)}'>"
    ]
    if title:
        parts.append(f"<text x='0' y='14' font-size='13' font-weight='600'>{esc(title)}</text>")
    for i, (label, v) in enumerate(items):
        y = top + i * row_h
        w = max(0.0, bar_w * v / vmax)
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f"<text x='{label_w - 6}' y='{y + 14}' font-size='12' text-anchor='end'>"
            f"{esc(label[:30])}</text>"
            f"<rect x='{label_w}' y='{y + 3}' width='{w:.1f}' height='{row_h - 6}' "
            f"fill='{colour}'><title>{esc(label)}: {esc(fmt.format(v))}</title></rect>"
            f"<text x='{label_w + w + 4:.1f}' y='{y + 14}' font-size='11'>"
            f"{esc(fmt.format(v))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    series: Mapping[str, Sequence[float]],
    categories: Sequence[str],
    *,
    title: str = "",
    width: int = 640,
    height: int = 220,
    vmax: float | None = None,
) -> str:
    """Grouped vertical bars: one group per category, one bar per series (e.g. detectors)."""
    names = list(series)
    if not names or not categories:
        return ""
    top, bottom, left = 26, 46, 40
    plot_h = height - top - bottom
    legend_h = 16 * math.ceil(len(names) / 4)
    hmax = vmax if vmax is not None else max(max(s, default=0.0) for s in series.values())
    hmax = hmax or 1.0
    group_w = (width - left - 10) / len(categories)
    bar_w = max(2.0, (group_w - 8) / len(names))
    total_h = height + legend_h
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{total_h}' "
        f"viewBox='0 0 {width} {total_h}' role='img' aria-label='{esc(title)}'>",
        f"<text x='0' y='14' font-size='13' font-weight='600'>{esc(title)}</text>",
        f"<line x1='{left}' y1='{top + plot_h}' x2='{width - 10}' y2='{top + plot_h}' "
        "stroke='#888'/>",
        f"<text x='{left - 4}' y='{top + 8}' font-size='10' text-anchor='end'>"
        f"{esc(f'{hmax:.3g}')}</text>",
    ]
    for ci, cat in enumerate(categories):
        gx = left + ci * group_w + 4
        for si, name in enumerate(names):
            vals = series[name]
            v = float(vals[ci]) if ci < len(vals) and vals[ci] is not None else 0.0
            if math.isnan(v):
                v = 0.0
            bh = plot_h * min(v, hmax) / hmax
            parts.append(
                f"<rect x='{gx + si * bar_w:.1f}' y='{top + plot_h - bh:.1f}' "
                f"width='{bar_w - 1:.1f}' height='{bh:.1f}' fill='{PALETTE[si % len(PALETTE)]}'>"
                f"<title>{esc(name)} / {esc(cat)}: {v:.4g}</title></rect>"
            )
        parts.append(
            f"<text x='{gx + group_w / 2 - 4:.1f}' y='{top + plot_h + 14}' font-size='11' "
            f"text-anchor='middle'>{esc(str(cat)[:18])}</text>"
        )
    for si, name in enumerate(names):
        lx = left + (si % 4) * 150
        ly = height + 16 * (si // 4) - 8
        parts.append(
            f"<rect x='{lx}' y='{ly - 9}' width='10' height='10' "
            f"fill='{PALETTE[si % len(PALETTE)]}'/>"
            f"<text x='{lx + 14}' y='{ly}' font-size='11'>{esc(name[:22])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def stacked_day_chart(
    days: Sequence[str],
    stacks: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    width: int = 640,
    height: int = 200,
    marker: tuple[str, str] | None = None,
) -> str:
    """Stacked bars per day (e.g. exchanges per model); ``marker`` = (day, label) draws a rule."""
    names = list(stacks)
    if not days or not names:
        return ""
    top, bottom, left = 26, 34, 48
    plot_h = height - top - bottom
    totals = [sum(float(stacks[n][i]) for n in names) for i in range(len(days))]
    vmax = max(totals) or 1.0
    step = (width - left - 10) / len(days)
    legend_h = 16 * math.ceil(len(names) / 4)
    total_h = height + legend_h
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{total_h}' "
        f"viewBox='0 0 {width} {total_h}' role='img' aria-label='{esc(title)}'>",
        f"<text x='0' y='14' font-size='13' font-weight='600'>{esc(title)}</text>",
        f"<text x='{left - 4}' y='{top + 8}' font-size='10' text-anchor='end'>"
        f"{esc(compact(vmax))}</text>",
        f"<line x1='{left}' y1='{top + plot_h}' x2='{width - 10}' y2='{top + plot_h}' "
        "stroke='#888'/>",
    ]
    for i, day in enumerate(days):
        x = left + i * step
        y: float = top + plot_h
        for si, name in enumerate(names):
            v = float(stacks[name][i])
            if v <= 0:
                continue
            bh = plot_h * v / vmax
            y -= bh
            parts.append(
                f"<rect x='{x:.1f}' y='{y:.1f}' width='{max(step - 1, 1):.1f}' "
                f"height='{bh:.1f}' fill='{PALETTE[si % len(PALETTE)]}'>"
                f"<title>{esc(day)} {esc(name)}: {v:,.0f}</title></rect>"
            )
    label_every = max(1, math.ceil(len(days) / 8))
    for i in range(0, len(days), label_every):
        parts.append(
            f"<text x='{left + i * step:.1f}' y='{top + plot_h + 14}' font-size='10'>"
            f"{esc(days[i])}</text>"
        )
    if marker and marker[0] in days:
        mx = left + days.index(marker[0]) * step
        parts.append(
            f"<line x1='{mx:.1f}' y1='{top}' x2='{mx:.1f}' y2='{top + plot_h}' "
            "stroke='#D55E00' stroke-dasharray='4 3'/>"
            f"<text x='{mx + 3:.1f}' y='{top + 10}' font-size='10' fill='#D55E00'>"
            f"{esc(marker[1])}</text>"
        )
    for si, name in enumerate(names):
        lx = left + (si % 4) * 150
        ly = height + 16 * (si // 4) - 4
        parts.append(
            f"<rect x='{lx}' y='{ly - 9}' width='10' height='10' "
            f"fill='{PALETTE[si % len(PALETTE)]}'/>"
            f"<text x='{lx + 14}' y='{ly}' font-size='11'>{esc(name[:22])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _layout(n: int, edges: Sequence[tuple[int, int, float]], iterations: int = 60) -> np.ndarray:
    """Deterministic force-directed layout (Fruchterman-Reingold) started from a circle."""
    angles = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    pos = np.column_stack([np.cos(angles), np.sin(angles)])
    if n <= 2 or not edges:
        return pos
    k = 1.6 / math.sqrt(n)
    src = np.array([e[0] for e in edges])
    dst = np.array([e[1] for e in edges])
    w = np.array([max(e[2], 0.05) for e in edges])
    temp = 0.2
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.linalg.norm(delta, axis=2) + 1e-6
        disp = (delta / dist[..., None] * (k * k / dist)[..., None]).sum(axis=1)
        d = pos[src] - pos[dst]
        dl = np.linalg.norm(d, axis=1) + 1e-6
        f = (d / dl[:, None]) * (dl * dl / k * w)[:, None]
        np.add.at(disp, src, -f)
        np.add.at(disp, dst, f)
        length = np.linalg.norm(disp, axis=1) + 1e-9
        pos += disp / length[:, None] * np.minimum(length, temp)[:, None]
        temp *= 0.95
    return pos


def graph_svg(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str, str, float]],
    *,
    title: str = "",
    size: int = 520,
    highlight: set[str] | None = None,
    max_nodes: int = 150,
) -> str:
    """The account graph as SVG: nodes are accounts, edges coloured by evidence kind.

    ``edges`` are (account_a, account_b, kind, weight). Layout is deterministic for a given
    input. Graphs with more than ``max_nodes`` accounts draw the best-connected ones and say so.
    """
    if not nodes:
        return ""
    degree: dict[str, float] = {n: 0.0 for n in nodes}
    for a, b, _, wt in edges:
        if a in degree and b in degree:
            degree[a] += wt
            degree[b] += wt
    shown = sorted(nodes, key=lambda n: (-degree[n], n))[:max_nodes]
    index = {n: i for i, n in enumerate(sorted(shown))}
    kept = [(index[a], index[b], k, wt) for a, b, k, wt in edges if a in index and b in index]
    pos = _layout(len(index), [(a, b, wt) for a, b, _, wt in kept])
    span = np.abs(pos).max() or 1.0
    pad = 24
    scale = (size / 2 - pad) / span
    xy = pos * scale + size / 2
    # colour by an edge's first (primary) evidence kind; "a+b" edges list all in the tooltip
    kinds = sorted({k.split("+")[0] for _, _, k, _ in kept})
    primary = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kinds)}
    colour = {k: primary[k.split("+")[0]] for _, _, k, _ in kept}
    legend_h = 16 * math.ceil(len(kinds) / 3) if kinds else 0
    total_h = size + 20 + legend_h
    wmax = max((wt for *_, wt in kept), default=1.0) or 1.0
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{size}' height='{total_h}' "
        f"viewBox='0 0 {size} {total_h}' role='img' aria-label='{esc(title)}'>",
        f"<text x='0' y='14' font-size='13' font-weight='600'>{esc(title)}</text>",
        "<g transform='translate(0,20)'>",
    ]
    for ia, ib, k, wt in kept:
        parts.append(
            f"<line x1='{xy[ia, 0]:.1f}' y1='{xy[ia, 1]:.1f}' x2='{xy[ib, 0]:.1f}' "
            f"y2='{xy[ib, 1]:.1f}' stroke='{colour[k]}' stroke-opacity='0.55' "
            f"stroke-width='{0.6 + 2.4 * wt / wmax:.2f}'><title>{esc(k)} ({wt:.3g})</title></line>"
        )
    hl = highlight or set()
    for name, i in index.items():
        fill = "#D55E00" if name in hl else "#17202a"
        parts.append(
            f"<circle cx='{xy[i, 0]:.1f}' cy='{xy[i, 1]:.1f}' r='4.5' fill='{fill}'>"
            f"<title>{esc(name)}</title></circle>"
        )
    parts.append("</g>")
    for i, k in enumerate(kinds):
        lx = (i % 3) * (size // 3)
        ly = size + 32 + 16 * (i // 3)
        parts.append(
            f"<rect x='{lx}' y='{ly - 9}' width='10' height='10' fill='{primary[k]}'/>"
            f"<text x='{lx + 14}' y='{ly}' font-size='11'>{esc(k[:28])}</text>"
        )
    parts.append("</svg>")
    if len(nodes) > len(shown):
        parts.append(
            f"<p class='muted'>Showing the {len(shown)} best-connected of {len(nodes)} "
            "accounts.</p>"
        )
    return "".join(parts)
