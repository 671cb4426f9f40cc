"""Self-contained HTML reports: the campaign report of ``scan`` and the evaluation report.

Both are single files with inline CSS and SVG, no scripts and no network access, so an
analyst can open them offline or attach them to a ticket. All data strings are escaped.
"""

from __future__ import annotations

from .campaigns import render_campaign_report
from .evaluation import render_evaluation_report

__all__ = ["render_campaign_report", "render_evaluation_report"]
