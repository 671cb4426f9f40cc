"""Accounts, client fingerprints and rhythms shared by benign populations and campaigns.

A *source* (a benign population or a campaign) owns accounts and, for each simulated
day, plans its exchanges as numpy arrays (time, account, conversation, turn, kind,
output tokens); the engine merges the plans of all sources, sorts them by time and asks
each source to render its exchanges. Planning is vectorised, rendering is per exchange.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from .network import NetworkPools

__all__ = [
    "DAY_MS",
    "DIURNAL",
    "WORKDAY",
    "Account",
    "Client",
    "Plan",
    "Source",
    "World",
    "expand_sessions",
    "hex_id",
    "iso_ms",
    "sample_hours",
    "sdk_client",
]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

#: Share of a person's activity per local hour: asleep at night, peaks late morning and evening.
DIURNAL = np.array(
    [
        1.2,
        0.6,
        0.3,
        0.2,
        0.2,
        0.3,
        0.8,
        1.8,
        3.0,
        4.2,
        5.0,
        5.4,
        5.2,
        5.0,
        5.2,
        5.3,
        5.2,
        5.4,
        5.6,
        6.0,
        6.2,
        5.8,
        4.4,
        2.6,
    ]
)
DIURNAL = DIURNAL / DIURNAL.sum()
#: Office hours: activity between 8 and 19 local time, a lunch dip.
WORKDAY = np.array(
    [
        0.1,
        0.05,
        0.05,
        0.05,
        0.05,
        0.1,
        0.3,
        1.2,
        4.0,
        7.0,
        8.0,
        8.0,
        5.5,
        7.0,
        8.0,
        8.0,
        7.0,
        5.0,
        2.5,
        1.4,
        1.0,
        0.8,
        0.5,
        0.2,
    ]
)
WORKDAY = WORKDAY / WORKDAY.sum()


def hex_id(rng: np.random.Generator, prefix: str, n_hex: int = 10) -> str:
    """A random id like ``acct_73c2ce6f44`` drawn from ``rng``."""
    return (
        prefix
        + "".join(f"{b:02x}" for b in rng.integers(0, 256, size=(n_hex + 1) // 2).tolist())[:n_hex]
    )


def iso_ms(ms: int) -> str:
    """RFC 3339 UTC with milliseconds and a ``Z``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def sample_hours(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    """``n`` fractional hours of the day drawn from per-hour ``weights``."""
    return rng.choice(24, size=n, p=weights) + rng.random(n)


def expand_sessions(
    rng: np.random.Generator,
    starts: np.ndarray,
    turns: np.ndarray,
    gap_median_s: float,
    gap_sigma: float = 0.8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand sessions into exchanges: ``(timestamps_ms, session_index, turn)``.

    Turn ``k`` of a session comes ``sum of k lognormal gaps`` after its start.
    """
    turns = np.maximum(turns.astype(np.int64), 1)
    total = int(turns.sum())
    sess = np.repeat(np.arange(len(starts)), turns)
    firsts = np.cumsum(turns) - turns
    turn = np.arange(total) - np.repeat(firsts, turns)
    gaps = rng.lognormal(np.log(gap_median_s * 1000.0), gap_sigma, size=total)
    gaps[firsts] = 0.0
    cs = np.cumsum(gaps)
    offs = cs - np.repeat(cs[firsts], turns)
    ts = np.repeat(starts.astype(np.int64), turns) + offs.astype(np.int64)
    return ts, sess, turn


@dataclass
class Client:
    """What the provider sees of the caller: user agent, SDK headers, addresses."""

    user_agent: str
    headers: dict[str, str]
    ips: list[str]


@dataclass
class Account:
    """One account of the registry plus how it behaves."""

    account_id: str
    created_at_ms: int
    account_type: str
    email_domain: str
    payment_fingerprint: str
    billing_country: str
    verification: str
    client: Client
    org_id: str | None = None
    status: str = "active"
    status_changed_at_ms: int | None = None
    api: str = "anthropic.messages"
    access_path: str = "api"
    keys: list[str] = field(default_factory=list)
    tz: float = 0.0
    active_from_ms: int = 0
    active_until_ms: int = 2**62
    weight: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def registry(self) -> dict[str, Any]:
        """The ``accounts.jsonl`` record of this account (spec field order)."""
        return {
            "account_id": self.account_id,
            "org_id": self.org_id,
            "created_at": iso_ms(self.created_at_ms)[:-5] + "Z",
            "account_type": self.account_type,
            "email_domain": self.email_domain,
            "payment_fingerprint": self.payment_fingerprint,
            "billing_country": self.billing_country,
            "verification": self.verification,
            "status": self.status,
            "status_changed_at": iso_ms(self.status_changed_at_ms)[:-5] + "Z"
            if self.status_changed_at_ms is not None
            else None,
        }


@dataclass
class Plan:
    """One source's exchanges for one day, as parallel arrays."""

    ts: np.ndarray
    acct: np.ndarray
    conv: np.ndarray
    turn: np.ndarray
    kind: np.ndarray
    out_tok: np.ndarray

    @staticmethod
    def make(ts: Any, acct: Any, conv: Any, turn: Any, kind: Any, out_tok: Any) -> Plan:
        """Build a plan with canonical dtypes."""
        n = len(ts)

        def arr(x: Any, dt: Any) -> np.ndarray:
            a = np.asarray(x, dtype=dt)
            return np.full(n, a, dtype=dt) if a.ndim == 0 else a

        return Plan(
            arr(ts, np.int64),
            arr(acct, np.int32),
            arr(conv, np.int64),
            arr(turn, np.int32),
            arr(kind, np.int8),
            arr(out_tok, np.int32),
        )


_OS = [
    ("Linux", "x64"),
    ("MacOS", "arm64"),
    ("MacOS", "x64"),
    ("Windows", "x64"),
    ("Linux", "arm64"),
]
_PY = ["3.10.14", "3.11.9", "3.11.11", "3.12.3", "3.12.8", "3.13.1", "3.9.19"]
_NODE = ["v18.20.4", "v20.11.1", "v20.18.0", "v22.11.0", "v22.12.0"]


def sdk_client(
    net: NetworkPools,
    rng: np.random.Generator,
    sdk: str,
    when: date,
    ips: list[str],
    lag_days: int = 240,
) -> Client:
    """A client profile for an SDK user: a version released before ``when``, its headers."""
    if sdk == "claude-cli":
        v = f"1.0.{int(rng.integers(40, 130))}"
        base = sdk_client(net, rng, "anthropic-sdk-node", when, ips, lag_days)
        return Client(f"claude-cli/{v} (external, cli)", base.headers, ips)
    if sdk == "anthropic-sdk-node":
        # the JS Anthropic SDK is not in the changelog table; it follows the Python numbering loosely
        v = f"0.{int(rng.integers(30, 70))}.{int(rng.integers(0, 3))}"
        node = _NODE[int(rng.integers(len(_NODE)))]
        h = {
            "anthropic-version": "2023-06-01",
            "x-stainless-lang": "js",
            "x-stainless-package-version": v,
            "x-stainless-os": _OS[int(rng.integers(len(_OS)))][0],
            "x-stainless-arch": "x64",
            "x-stainless-runtime": "node",
            "x-stainless-runtime-version": node,
            "x-stainless-retry-count": "0",
        }
        return Client(f"Anthropic/JS {v}", h, ips)
    choices = net.sdk_choices(sdk, when, lag_days)
    # newer versions are more likely: users upgrade, but with a lag
    w = np.linspace(1.0, 3.0, len(choices))
    s = choices[int(rng.choice(len(choices), p=w / w.sum()))]
    os_, arch = _OS[int(rng.integers(len(_OS)))]
    if sdk.endswith("-python"):
        h = {
            "x-stainless-lang": "python",
            "x-stainless-package-version": s.version,
            "x-stainless-os": os_,
            "x-stainless-arch": arch,
            "x-stainless-runtime": "CPython",
            "x-stainless-runtime-version": _PY[int(rng.integers(len(_PY)))],
            "x-stainless-async": "false",
            "x-stainless-retry-count": "0",
        }
    else:
        h = {
            "x-stainless-lang": "js",
            "x-stainless-package-version": s.version,
            "x-stainless-os": os_,
            "x-stainless-arch": arch,
            "x-stainless-runtime": "node",
            "x-stainless-runtime-version": _NODE[int(rng.integers(len(_NODE)))],
            "x-stainless-retry-count": "0",
        }
    if sdk.startswith("anthropic"):
        h["anthropic-version"] = "2023-06-01"
    return Client(s.user_agent, h, ips)


def cloud_client(rng: np.random.Generator, platform: str, ips: list[str]) -> Client:
    """What a reselling cloud platform forwards: its own SDK agent and its egress address."""
    if platform == "cloud:aws":
        v = f"1.35.{int(rng.integers(20, 99))}"
        ua = f"Boto3/{v} md/Botocore#{v} ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard Botocore/{v}"
    else:
        v = f"1.{int(rng.integers(60, 80))}.0"
        ua = f"google-cloud-aiplatform/{v} grpc-python/1.66.2"
    return Client(ua, {}, ips)


@dataclass
class World:
    """What every source shares: the time span, the models, addresses and prompts."""

    start_ms: int
    days: float
    periods: int
    models: list[tuple[str, int]]  # (name, released_at ms), oldest first
    net: NetworkPools
    lib: Any  # PromptLibrary
    scale: float
    period_ban_share: float = 0.6

    @property
    def end_ms(self) -> int:
        """End of the whole span."""
        return self.start_ms + int(self.days * self.periods * DAY_MS)

    def period_bounds(self, p: int) -> tuple[int, int]:
        """Start and end (ms) of period ``p`` (0-based)."""
        a = self.start_ms + int(p * self.days * DAY_MS)
        return a, a + int(self.days * DAY_MS)

    def model_at(self, ts: int, u: float, adopt_days: float = 7.0, max_share: float = 0.7) -> str:
        """The model a customer asks for at ``ts``: the newest, adopted gradually."""
        live = [m for m in self.models if m[1] <= ts]
        if not live:
            return self.models[0][0]
        name, rel = live[-1]
        if len(live) == 1:
            return name
        share = max_share * min(1.0, (ts - rel) / (adopt_days * DAY_MS))
        return name if u < share else live[-2][0]

    def scaled(self, n: float, minimum: int = 0) -> int:
        """``n`` multiplied by the scale, at least ``minimum`` when ``n`` is positive."""
        return max(minimum if n > 0 else 0, round(n * self.scale))


class Source:
    """A benign population or a campaign: accounts plus a daily plan and a renderer."""

    group: str = ""
    actor: str = ""
    is_attack: bool = False
    accounts: list[Account]

    def plan(self, day: int, day_start_ms: int, rng: np.random.Generator) -> Plan | None:
        """The exchanges of ``day`` (vectorised), or ``None`` when there are none."""
        raise NotImplementedError

    def render(
        self, acct: Account, ts: int, conv: int, turn: int, kind: int, out_tok: int, u: list[float]
    ) -> dict[str, Any]:
        """One exchange's ``access_path, client, api, request, response, latency_ms``."""
        raise NotImplementedError
