"""The evaluation report: distillguard and the baselines side by side, as one HTML file.

Renders the result of :func:`distillguard.evaluate.evaluate` with the same tables the
terminal shows (:func:`distillguard.evaluate.tables.table_rows`) plus charts: headline
metrics per detector, and the false-positive rate of each benign group per detector.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .html import bar_chart, esc, page, table

__all__ = ["render_evaluation_report"]

_EXPLAIN = (
    "<p>Each column is one detector run on the same simulated traffic, scored against the "
    "simulator's ground truth. <b>Recall</b>: share of attack accounts flagged. "
    "<b>Benign FPR</b>: share of benign accounts flagged. <b>Campaign purity</b>: share of a "
    "found campaign's accounts that belong to its main true actor (size-weighted). "
    "<b>Actor completeness</b>: share of a true actor's accounts inside its best-matching "
    "found campaign. Rows marked <i>oracle</i> use thresholds chosen with the answers and "
    "show an upper bound, not something an operator could deploy.</p>"
)


def _charts(result: Mapping[str, Any]) -> str:
    dets = result["detectors"]
    if not dets:
        return ""
    metrics = ["precision", "recall", "f1"]
    series = {d["name"]: [float(d["accounts"].get(m) or 0.0) for m in metrics] for d in dets}
    head = bar_chart(series, ["precision", "recall", "F1"], title="Account detection", vmax=1.0)
    benign = sorted({g for d in dets for g, v in d["groups"].items() if not v.get("is_attack")})
    fpr = {
        d["name"]: [float((d["groups"].get(g) or {}).get("rate") or 0.0) for g in benign]
        for d in dets
    }
    chart2 = bar_chart(
        fpr, benign, title="False-positive rate per benign group", width=max(640, 90 * len(benign))
    )
    return f"<div class='charts'><div>{head}</div><div>{chart2}</div></div>"


def render_evaluation_report(result: Mapping[str, Any], path: Path) -> Path:
    """Write the evaluation report for ``result`` to ``path`` and return it."""
    from ..evaluate.tables import table_rows

    pop = result["population"]
    sections = [
        "<section><h2>What was measured</h2>"
        + _EXPLAIN
        + table(
            ["truth folder", "verdicts folder", "exchanges", "accounts", "attack", "benign"],
            [
                [
                    result.get("truth_dir"),
                    result.get("verdicts_dir") or "(baselines only)",
                    result.get("exchanges"),
                    pop["accounts"],
                    pop["attack"],
                    pop["benign"],
                ]
            ],
            numeric=[False, False, True, True, True, True],
        )
        + _charts(result)
        + "</section>"
    ]
    for title, (header, rows) in table_rows(result).items():
        numeric = [False] + [True] * (len(header) - 1)
        if header[:2] == ["group", "truth"]:
            numeric[1] = False
        sections.append(
            f"<section><h2>{esc(title)}</h2>" + table(header, rows, numeric=numeric) + "</section>"
        )
    notes = [[d["name"], d["kind"], "; ".join(d["notes"])] for d in result["detectors"]]
    sections.append(
        "<section><h2>How each detector was run</h2>"
        + table(["detector", "kind", "notes"], notes)
        + "</section>"
    )
    html_text = page(
        "distillguard: evaluation against ground truth",
        f"{pop['accounts']:,} accounts, {len(result['detectors'])} detector(s); generated {result.get('generated', '')}",
        sections,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(html_text, encoding="utf-8")
    tmp.replace(path)
    return path
