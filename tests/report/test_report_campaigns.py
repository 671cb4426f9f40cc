"""The campaign report: content, escaping of hostile strings, and a real headless render."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from distillguard.contracts import (
    AttributedActor,
    Campaign,
    InfrastructureIndicators,
    Verdict,
)
from distillguard.report import render_campaign_report

HOSTILE = "<script>alert('x')</script>"


def _campaign(cid: str, members: list[str], extra: dict | None = None) -> Campaign:
    return Campaign(
        id=cid,
        members=members,
        first_seen=datetime(2026, 3, 1, tzinfo=UTC),
        last_seen=datetime(2026, 3, 4, 12, tzinfo=UTC),
        exchanges=12_345,
        output_tokens=9_876_543,
        capability_profile={"coding": 0.6, "reasoning": 0.3, "tool_use": 0.1},
        infrastructure=InfrastructureIndicators(
            ip_ranges=["45.9.0.0/24"],
            asns=[64500],
            asn_orgs=["Example Hosting"],
            hosting_share=0.92,
            access_paths={"api": 0.7, "cloud:aws": 0.3},
            client_fingerprints=["python-sdk/0.40|linux"],
            payment_fingerprints=["pm_shared"],
        ),
        evidence=[
            {"kind": "payment", "value": "pm_shared", "accounts": members, "weight": 3.2},
            {"kind": "template", "value": HOSTILE, "accounts": members[:2], "weight": 1.5},
        ],
        attributed_actor=AttributedActor(actor="alpha", confidence=0.83, evidence=["ttp overlap"]),
        risk=0.97,
        extra=extra or {},
    )


FULL_EXTRA = {
    "timeline": [
        {
            "date": "2026-03-01",
            "exchanges": 100,
            "output_tokens": 5000,
            "models": {"frontier-1": 100},
        },
        {
            "date": "2026-03-02",
            "exchanges": 120,
            "output_tokens": 6000,
            "models": {"frontier-1": 60, "frontier-2": 60},
        },
        {
            "date": "2026-03-03",
            "exchanges": 90,
            "output_tokens": 4000,
            "models": {"frontier-2": 90},
        },
    ],
    "edges": [
        {"a": "acct_1", "b": "acct_2", "kind": "payment", "weight": 2.0},
        {"a": "acct_2", "b": "acct_3", "kind": "ip_/24", "weight": 0.5},
        {"a": "acct_1", "b": HOSTILE, "kind": "fingerprint", "weight": 1.0},
    ],
    "pivot": {"model": "frontier-2", "released": "2026-03-02T00:00:00Z", "hours_to_half": 17.5},
    "reasons": {"shared_payment": 4, "reasoning_elicitation": 3},
}


def _report(tmp_path: Path, extra: dict | None = FULL_EXTRA) -> str:
    members = ["acct_1", "acct_2", "acct_3", HOSTILE]
    verdicts = [
        Verdict(
            account_id=m,
            risk=0.9,
            flagged=True,
            campaign_id="camp-1",
            action="block",
            reasons=["shared_payment", HOSTILE],
        )
        for m in members
    ] + [Verdict(account_id="quiet_user", risk=0.02, flagged=False)]
    path = render_campaign_report(
        tmp_path,
        verdicts,
        [_campaign("camp-1", members, extra)],
        summary={"input": HOSTILE, "seconds": 1.5},
    )
    assert path == tmp_path / "report.html"
    return path.read_text(encoding="utf-8")


def test_report_has_every_part(tmp_path: Path) -> None:
    html = _report(tmp_path)
    for needle in (
        "Campaigns",
        "Campaign <code>camp-1</code>",
        "alpha",
        "83%",
        "Timeline",
        "Model-release pivot",
        "17.5 h",
        "45.9.0.0/24",
        "AS64500",
        "pm_shared",
        "Linking evidence",
        "Account graph",
        "Members and reasons",
        "Flagged accounts (4)",
        "12,345",
        "9,876,543",
    ):
        assert needle in html, needle
    # charts and graph are inline SVG: 4 account nodes
    assert html.count("<circle") == 4
    assert "frontier-2 arrives" in html


def test_report_escapes_hostile_strings_and_is_self_contained(tmp_path: Path) -> None:
    html = _report(tmp_path)
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    # no external fetches: no http(s) URLs except the SVG namespace, no src= attributes
    urls = set(re.findall(r"https?://[^\s'\"<>]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}
    assert " src=" not in html


def test_report_without_optional_details(tmp_path: Path) -> None:
    html = _report(tmp_path, extra=None)
    assert "No timeline was recorded" in html
    assert "Model-release pivot" not in html
    # graph falls back to the evidence's accounts
    assert html.count("<circle") == 4


def test_report_with_nothing_found(tmp_path: Path) -> None:
    path = render_campaign_report(tmp_path, [Verdict(account_id="a", risk=0.0, flagged=False)], [])
    html = path.read_text()
    assert "No campaign was found" in html and "No account was flagged" in html


def _png_residual_share(path: Path) -> float:
    """Share of non-zero bytes in the PNG's filtered scanlines (a blank page has almost none)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return sum(1 for b in raw[::7] if b) / len(raw[::7])


def _screenshot(html_path: Path, png: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=1280,2000",
            html_path.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.browser
@pytest.mark.skipif(
    not (shutil.which("chromium") or shutil.which("chromium-browser")),
    reason="Debian's chromium is not installed (scripts/system-deps.sh installs it)",
)
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    _report(tmp_path)
    png = tmp_path / "shot.png"
    _screenshot(tmp_path / "report.html", png, tmp_path)
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    blank_png = tmp_path / "blank.png"
    _screenshot(blank, blank_png, tmp_path)
    drawn, empty = _png_residual_share(png), _png_residual_share(blank_png)
    assert empty < 0.01  # the control really is blank
    assert drawn > 0.005 and drawn > 10 * empty, (drawn, empty)


def test_report_reads_the_scan_engine_variants(tmp_path: Path) -> None:
    """scan writes ``day``, edge ``kinds`` lists, reason lists, counts for evidence accounts."""
    extra = {
        "timeline": [
            {"day": "2026-03-01", "exchanges": 10, "output_tokens": 100},
            {"day": "2026-03-02", "exchanges": 30, "output_tokens": 900},
        ],
        "edges": [{"a": "acct_1", "b": "acct_2", "weight": 1.0, "kinds": ["payment", "client_fp"]}],
        "pivot": {
            "model": "frontier-2",
            "first_used": "2026-03-02T00:00:00",
            "share_after": 0.5,
            "hours_to_half": None,
        },
        "reasons": [{"code": "member_of_campaign", "accounts": 3}],
    }
    c = _campaign("camp-2", ["acct_1", "acct_2", "acct_3"], extra)
    c.evidence = [{"kind": "payment", "value": "pm_x", "accounts": 3, "weight": 2.0}]
    html = render_campaign_report(tmp_path, [], [c]).read_text()
    assert "Exchanges per day" in html and "2026-03-02" in html
    assert "payment+client_fp" in html
    assert "first appeared in its traffic" in html and "50%" in html
    assert "member_of_campaign" in html
    assert html.count("<circle") == 3
