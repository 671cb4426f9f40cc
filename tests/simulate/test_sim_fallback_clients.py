"""Without the shared changelog table, simulated SDK users still spread over many versions.

A handful of built-in versions once gave thousands of simulated users a few exact client
fingerprints, so the demo on a fresh clone (no ``../shared/data``) linked ordinary
hobbyists to a campaign through a fingerprint real traffic would never share that widely.
"""

from __future__ import annotations

from datetime import date

from distillguard.simulate.network import NetworkPools


def test_fallback_release_history_is_weekly_and_ordered() -> None:
    pools = NetworkPools(None)
    for sdk in ("anthropic-sdk-python", "openai-python", "openai-node"):
        window = pools.sdk_choices(sdk, date(2026, 3, 2), 240)
        assert len(window) >= 30, (sdk, len(window))
        assert len({v.user_agent for v in window}) == len(window)
        days = [v.released for v in window]
        assert days == sorted(days)
        assert all(d <= date(2026, 3, 2) for d in days)


def test_fallback_versions_increase_within_each_sdk() -> None:
    pools = NetworkPools(None)
    for sdk in ("anthropic-sdk-python", "openai-python", "openai-node"):
        vs = [tuple(int(x) for x in v.version.split(".")) for v in pools.sdks if v.sdk == sdk]
        assert vs == sorted(vs) and len(set(vs)) == len(vs)
