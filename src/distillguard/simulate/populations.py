"""Benign populations that a careless detector would flag, each with its own rhythm.

Hobby users chat in their own evening; production apps repeat one template at volume
from one cloud; enterprises provision many service accounts on one invoice running
tool agents; eval labs fire the same benchmark prompts at temperature 0 in bursts;
university classes share a grant and a campus NAT and work the night before a deadline;
developers drive coding agents through long, growing tool loops; resellers relay many
end users through many keys from cloud egress. None of them is an attack.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import scenario as sc
from .actors import (
    DAY_MS,
    DIURNAL,
    HOUR_MS,
    Account,
    Client,
    Plan,
    Source,
    World,
    cloud_client,
    expand_sessions,
    hex_id,
    sample_hours,
    sdk_client,
)
from .network import RESIDENTIAL_REGIONS
from .prompts import CODING_TOOLS
from .render import Call, Turn, exchange_body
from .texts import (
    APP_TEMPLATES,
    FOLLOWUPS,
    REPLIES,
    TOOL_OUTPUTS,
    pick,
)

__all__ = ["benign_sources"]

_MAIL = [
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "icloud.com",
    "proton.me",
    "hotmail.com",
    "gmx.de",
    "naver.com",
    "qq.com",
]
_COUNTRY = {
    "us": ["US", "CA"],
    "eu": ["DE", "FR", "GB", "ES", "NL"],
    "asia": ["JP", "KR", "IN", "TW", "SG"],
    "latam": ["BR", "MX", "AR"],
}
_REGIONS = list(RESIDENTIAL_REGIONS)
_REGION_P = np.array([0.45, 0.3, 0.18, 0.07])
_SDK_API = {
    "anthropic-sdk-python": "anthropic.messages",
    "openai-python": "openai.chat_completions",
    "openai-node": "openai.chat_completions",
    "claude-cli": "anthropic.messages",
    "anthropic-sdk-node": "anthropic.messages",
}
_CLOUDS = ["cloud:aws", "cloud:gcp", "cloud:azure"]


def _region(rng: np.random.Generator) -> tuple[str, float, str]:
    r = _REGIONS[int(rng.choice(len(_REGIONS), p=_REGION_P))]
    tzs = RESIDENTIAL_REGIONS[r][1]
    return (
        r,
        float(tzs[int(rng.integers(len(tzs)))]),
        _COUNTRY[r][int(rng.integers(len(_COUNTRY[r])))],
    )


def _sdk(rng: np.random.Generator, names: list[str], p: list[float]) -> str:
    return names[int(rng.choice(len(names), p=np.asarray(p) / sum(p)))]


def _tool_turns(
    w: World, conv: int, turn: int, tools_pick: int
) -> tuple[str, list[Any], list[Turn]]:
    q, tools = w.lib.tool_tasks[(conv * 2654435761 + tools_pick) % len(w.lib.tool_tasks)]
    turns: list[Turn] = [("user", q)]
    for j in range(turn):
        t = tools[j % len(tools)]
        cid = f"toolu_{(conv * 131 + j) & 0xFFFFFFFFFF:010x}"
        turns += [
            ("tool_call", cid, t["name"], {"query": q[:40]} if j % 2 else {"input": j}),
            ("tool_result", cid, pick(TOOL_OUTPUTS, conv + j)),
        ]
    return q, tools, turns


def _chat_turns(w: World, conv: int, turn: int) -> list[Turn]:
    lib = w.lib
    mt = lib.multi_turn[conv % len(lib.multi_turn)] if conv % 3 == 0 else None
    first = mt[0] if mt else lib.benign[(conv * 2654435761) % len(lib.benign)]
    turns: list[Turn] = [("user", first)]
    for j in range(1, turn + 1):
        turns.append(("assistant", pick(REPLIES, conv + j)))
        turns.append(("user", mt[j] if mt and j < len(mt) else pick(FOLLOWUPS, conv * 7 + j)))
    return turns


#: Tool round trips a coding agent keeps verbatim before it compacts older context.
KEEP_TOOL_TURNS = 10


def coding_turns(task: str, conv: int, turn: int) -> list[Turn]:
    """A coding agent's conversation at loop step ``turn``: task, (compacted) tool history."""
    turns: list[Turn] = [("user", task)]
    first = max(0, turn - KEEP_TOOL_TURNS)
    if first:  # agents compact old context into a summary, as real coding agents do
        turns += [
            (
                "assistant",
                f"Summary of the work so far: {first} tool calls; read the relevant modules, ran the tests, made edits.",
            ),
            ("user", "Continue."),
        ]
    for j in range(first, turn):
        t = CODING_TOOLS[(conv + j) % len(CODING_TOOLS)]
        cid = f"toolu_{(conv * 977 + j) & 0xFFFFFFFFFF:010x}"
        args = (
            {"command": "pytest -x -q"}
            if t["name"] == "bash"
            else {"path": f"src/module_{(conv + j) % 17}.py"}
        )
        res = pick(TOOL_OUTPUTS, conv + j) if j >= turn - 4 else "[output elided]"
        turns += [("tool_call", cid, t["name"], args), ("tool_result", cid, res)]
    return turns


class _Base(Source):
    """Shared plumbing: accounts as arrays for vectorised planning."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.accounts = []

    def _sessions(
        self,
        rng: np.random.Generator,
        day_ms: int,
        lam: np.ndarray,
        hours: np.ndarray,
        turns_mean: float,
        gap_s: float,
        out_median: float,
        out_sigma: float,
        day: int,
        max_turns: int = 200,
    ) -> Plan | None:
        n_sess = rng.poisson(lam)
        acct = np.repeat(np.arange(len(lam)), n_sess)
        if len(acct) == 0:
            return None
        tz = np.asarray([a.tz for a in self.accounts])[acct]
        h = sample_hours(rng, len(acct), hours)
        starts = day_ms + ((h - tz) % 24 * HOUR_MS).astype(np.int64)
        turns = np.minimum(rng.geometric(1.0 / turns_mean, size=len(acct)), max_turns)
        ts, sess, turn = expand_sessions(rng, starts, turns, gap_s)
        last = (turn == np.repeat(turns, turns) - 1).astype(np.int8)
        out = rng.lognormal(np.log(out_median), out_sigma, size=len(ts)).astype(np.int64) + 1
        return Plan.make(ts, acct[sess], day * 10_000_000 + sess, turn, last, out)

    def _weekday(self, day_ms: int) -> float:
        return 1.0 if ((day_ms // DAY_MS) + 3) % 7 < 5 else 0.25  # 1970-01-01 was a Thursday

    def _acct(self, rng: np.random.Generator, **kw: Any) -> Account:
        a = Account(account_id=hex_id(rng, "acct_"), **kw)
        if not a.keys:
            a.keys = [hex_id(rng, "key_", 8)]
        self.accounts.append(a)
        return a

    def _envelope(self, a: Account, u: list[float], call: Call) -> dict[str, Any]:
        body = exchange_body(a.api, call, u[5])
        ip = a.client.ips[int(u[4] * len(a.client.ips))]
        body["client"] = {"ip": ip, "user_agent": a.client.user_agent, "headers": a.client.headers}
        body["access_path"] = a.access_path
        body["api_key_id"] = a.keys[int(u[3] * len(a.keys))]
        return body


class Hobby(_Base):
    """Hobby and chat users."""

    group = "hobby"

    def __init__(self, spec: sc.Hobby, w: World, rng: np.random.Generator) -> None:
        super().__init__(w)
        self.spec = spec
        when = np.datetime64(w.start_ms, "ms").astype(object).date()
        for _ in range(w.scaled(spec.accounts, 1)):
            region, tz, country = _region(rng)
            ips = w.net.addresses(f"res:{region}", rng, 1 + int(rng.random() < 0.3))
            created = w.start_ms - int(rng.uniform(1, 700) * DAY_MS)
            if rng.random() < spec.console_share:
                uas, p = w.net.browsers
                client = Client(
                    uas[int(rng.choice(len(uas), p=p))], {"accept-language": "en-US,en;q=0.9"}, ips
                )
                api, path = "anthropic.messages", "console"
            else:
                sdk = _sdk(
                    rng, ["anthropic-sdk-python", "openai-python", "openai-node"], [0.5, 0.3, 0.2]
                )
                client, api, path = sdk_client(w.net, rng, sdk, when, ips), _SDK_API[sdk], "api"
            a = self._acct(
                rng,
                created_at_ms=created,
                account_type="individual",
                email_domain=_MAIL[int(rng.integers(len(_MAIL)))],
                payment_fingerprint=hex_id(rng, "pm_", 12),
                billing_country=country,
                verification=["email", "phone", "card"][int(rng.integers(3))],
                client=client,
                api=api,
                access_path=path,
                tz=tz,
                weight=float(rng.gamma(0.8, 1.25)),
                extra={
                    "max_tokens": [1024, 2048, 4096, 8192][int(rng.integers(4))],
                    "effort": [None, None, "low", "medium", "high"][int(rng.integers(5))]
                    if api.startswith("openai")
                    else None,
                },
            )
            if rng.random() < 0.003:  # a few accounts banned for unrelated reasons (chargebacks)
                a.status = "banned"
                a.status_changed_at_ms = w.start_ms + int(rng.random() * (w.end_ms - w.start_ms))
                a.active_until_ms = a.status_changed_at_ms

    def plan(self, day: int, day_start_ms: int, rng: np.random.Generator) -> Plan | None:
        lam = self.spec.sessions_per_day * np.asarray([a.weight for a in self.accounts])
        return self._sessions(
            rng, day_start_ms, lam, DIURNAL, self.spec.turns_mean, 50.0, 380, 0.8, day, 20
        )

    def render(
        self, acct: Account, ts: int, conv: int, turn: int, kind: int, out_tok: int, u: list[float]
    ) -> dict[str, Any]:
        console = acct.access_path == "console"
        call = Call(
            model=self.w.model_at(ts, u[0], 4.0),
            turns=_chat_turns(self.w, conv, turn),
            out_tokens=out_tok,
            max_tokens=8192 if console else acct.extra["max_tokens"],
            reasoning_effort=acct.extra.get("effort"),
            stream=True if console else (u[1] < 0.3 or None),
        )
        return self._envelope(acct, u, call)


class ProductionApp(_Base):
    """Production apps with one system prompt and one template."""

    group = "production_app"

    def __init__(self, spec: sc.ProductionApp, w: World, rng: np.random.Generator) -> None:
        super().__init__(w)
        self.spec = spec
        when = np.datetime64(w.start_ms, "ms").astype(object).date()
        for i in range(w.scaled(spec.apps, 1)):
            cloud = _CLOUDS[int(rng.integers(3))]
            ips = w.net.block(cloud, rng, int(rng.integers(2, 7)))
            sdk = ["anthropic-sdk-python", "openai-python", "openai-node"][i % 3]
            path = cloud if cloud != "cloud:azure" and i % 4 == 3 else "api"
            client = (
                cloud_client(rng, path, ips)
                if path != "api"
                else sdk_client(w.net, rng, sdk, when, ips)
            )
            api = "anthropic.messages" if path != "api" else _SDK_API[sdk]
            self._acct(
                rng,
                created_at_ms=w.start_ms - int(rng.uniform(30, 500) * DAY_MS),
                account_type=["startup", "enterprise"][int(rng.integers(2))],
                email_domain=f"{hex_id(rng, 'app', 6)}.io",
                payment_fingerprint=hex_id(rng, "pm_", 12),
                billing_country=["US", "GB", "DE", "SG"][int(rng.integers(4))],
                verification="card",
                client=client,
                org_id=hex_id(rng, "org_", 6),
                api=api,
                access_path=path,
                keys=[hex_id(rng, "key_", 8) for _ in range(int(rng.integers(1, 4)))],
                tz=float(rng.choice([-5.0, 0.0, 1.0, 8.0])),
                weight=float(rng.lognormal(0, 0.5)),
                extra={
                    "tpl": (i * 7 + int(rng.integers(len(APP_TEMPLATES)))) % len(APP_TEMPLATES),
                    "temperature": [0.0, 0.2, 0.7][int(rng.integers(3))],
                    "end_users": i % 2 == 0,  # consumer apps pass their user id
                    "model": w.models[-1][0] if w.models[-1][1] <= w.start_ms else w.models[0][0],
                },
            )

    def plan(self, day: int, day_start_ms: int, rng: np.random.Generator) -> Plan | None:
        counts = rng.poisson(
            self.w.scale
            * self.spec.exchanges_per_day
            * np.asarray([a.weight for a in self.accounts])
        )
        acct = np.repeat(np.arange(len(counts)), counts)
        if len(acct) == 0:
            return None
        tz = np.asarray([a.tz for a in self.accounts])[acct]
        ts = day_start_ms + (((sample_hours(rng, len(acct), DIURNAL) - tz) % 24) * HOUR_MS).astype(
            np.int64
        )
        out = rng.lognormal(np.log(140), 0.45, size=len(acct)).astype(np.int64) + 5
        return Plan.make(ts, acct, np.arange(len(acct)) + day * 10_000_000, 0, 1, out)

    def render(
        self, acct: Account, ts: int, conv: int, turn: int, kind: int, out_tok: int, u: list[float]
    ) -> dict[str, Any]:
        system, tpl, fmt = APP_TEMPLATES[acct.extra["tpl"]]
        x = self.w.lib.benign[(conv * 2654435761) % len(self.w.lib.benign)][:600]
        call = Call(
            model=acct.extra["model"],
            system=system,
            turns=[("user", tpl.format(x=x))],
            out_tokens=out_tok,
            max_tokens=512,
            temperature=acct.extra["temperature"],
            response_format=fmt if acct.api.startswith("openai") else None,
            end_user=f"user-{(conv * 2654435761) % 50_000}" if acct.extra["end_users"] else None,
        )
        return self._envelope(acct, u, call)


def benign_sources(s: sc.Scenario, w: World, rng_for: Any) -> list[Source]:
    """Build every benign population of scenario ``s`` (``rng_for(name)`` gives its RNG)."""
    from .populations_agents import CodingAgent, Enterprise
    from .populations_more import EvalLab, Reseller, UniversityClass

    p = s.populations
    out: list[Source] = []
    table: list[tuple[str, Any, Any]] = [
        ("hobby", Hobby, p.hobby),
        ("production_app", ProductionApp, p.production_app),
        ("enterprise", Enterprise, p.enterprise),
        ("eval_lab", EvalLab, p.eval_lab),
        ("university_class", UniversityClass, p.university_class),
        ("coding_agent", CodingAgent, p.coding_agent),
        ("reseller", Reseller, p.reseller),
    ]
    for name, cls, spec in table:
        first = next(iter(type(spec).model_fields))
        if getattr(spec, first) > 0:
            out.append(cls(spec, w, rng_for(name)))
    return out
