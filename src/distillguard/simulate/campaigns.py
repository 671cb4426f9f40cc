"""Distillation campaigns modelled on the February 2026 reports, one archetype each.

* ``reasoning_grader``: synchronised accounts on shared payment asking for step-by-step
  reasoning or using the model as a grader of other answers.
* ``agentic``: hundreds of accounts across access paths (direct API, cloud platforms)
  running tool use, data analysis and computer-use style tasks.
* ``agentic_coding``: high-volume coding agent loops that move about half of their
  traffic to a newly released model within a day of its release.
* ``hydra``: proxy clusters of thousands of accounts that mix distillation with resold
  ordinary traffic and replace every banned account with a fresh one.

Every evasion knob of :class:`~distillguard.simulate.scenario.CampaignSpec` combines with
every archetype. Attack traffic carries no artefact benign traffic lacks: real SDK user
agents, real cloud / residential / VPN ranges, real benchmark prompts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
from .populations import _chat_turns, _tool_turns, coding_turns
from .prompts import BUILTIN_TOOLS, CODING_TOOLS, COMPUTER_TOOLS
from .render import Call, Turn, exchange_body
from .scenario import CampaignSpec
from .texts import CODING_SYSTEMS, DEV_TASKS, REPLIES, TOOL_OUTPUTS, pick

__all__ = ["KIND_NAMES", "Campaign"]

ORDINARY, COT, GRADER, TOOLS, COMPUTER, DATA, CODING = range(7)
#: Names of the exchange kinds a campaign sends (index = kind code).
KIND_NAMES = ("ordinary", "cot", "grader", "tool_agent", "computer_use", "data_analysis", "coding")
LAST = 64  # flag bit: last turn of its conversation

# per archetype: kind shares of the distillation part, turns per conversation, output tokens (median, sigma)
_MIX: dict[str, tuple[dict[int, float], float, tuple[float, float]]] = {
    "reasoning_grader": ({COT: 0.6, GRADER: 0.4}, 1.15, (2200, 0.6)),
    "agentic": ({TOOLS: 0.5, DATA: 0.25, COMPUTER: 0.25}, 5.0, (420, 0.7)),
    "agentic_coding": ({CODING: 1.0}, 12.0, (1200, 0.9)),
    "hydra": ({COT: 0.35, GRADER: 0.1, TOOLS: 0.25, CODING: 0.3}, 2.0, (1500, 0.8)),
}
_SYSTEMS: dict[str, list[str | None]] = {
    "reasoning_grader": [
        None,
        "You are a world-class expert problem solver. Always show your complete reasoning.",
        "You are a meticulous teacher. Explain every step so a student could reproduce it.",
    ],
    "agentic": [
        "You are a helpful assistant with access to tools. Call a tool when it helps answer the user's request; otherwise answer directly.",
        "You are an autonomous agent. Plan, call tools, observe results, and continue until the task is complete.",
    ],
    "agentic_coding": list(CODING_SYSTEMS),
    "hydra": [None, "You are a helpful assistant."],
}
_COMPUTER_TASKS = [
    "Book a table for two at an Italian restaurant near the office for Friday 7pm.",
    "Download last month's invoices from the billing portal and save them to Documents.",
    "Fill in the expense report form with the receipts in the Downloads folder.",
    "Find the cheapest direct flight from Berlin to Lisbon next weekend.",
]
_DATA_TASKS = [
    "Which region grew revenue fastest last quarter, and why?",
    "Compute monthly churn for 2025 and explain any spikes.",
    "Find anomalies in the daily order volume for March.",
    "Compare average basket size for new vs returning customers.",
]
_DATA_TOOLS = BUILTIN_TOOLS[2:5]
_EXIT_POOLS = {"datacenter": "datacenter", "vpn": "vpn", "tor": "tor", "proxy": "proxy"}
_EDU = [
    "stateu.edu",
    "techinst.edu",
    "univ-lyon.fr",
    "kaist.ac.kr",
    "ucl.ac.uk",
    "northcollege.edu",
]
_MAIL = ["gmail.com", "outlook.com", "proton.me", "yahoo.com", "qq.com", "163.com"]
_VERIFY = {
    "individual": "email",
    "education": "email",
    "research": "email",
    "startup": "card",
    "enterprise": "card",
}


def _shares(d: dict[Any, float]) -> tuple[list[Any], np.ndarray]:
    keys = list(d)
    p = np.asarray([d[k] for k in keys], dtype=float)
    return keys, p / p.sum()


class Campaign(Source):
    """One actor's campaign across all periods of the scenario."""

    is_attack = True

    def __init__(self, spec: CampaignSpec, w: World, rng: np.random.Generator) -> None:
        self.spec, self.w = spec, w
        self.group, self.actor = spec.archetype, spec.actor
        self.accounts: list[Account] = []
        self.members: list[list[int]] = [[] for _ in range(w.periods)]
        mix, self.turns_mean, self.out = _MIX[spec.archetype]
        self.kinds, self.kind_p = _shares(mix)
        self.pivot_share = (
            spec.pivot_share
            if spec.pivot_share is not None
            else (0.5 if spec.archetype == "agentic_coding" else 0.0)
        )
        self.tz = float(rng.choice([8.0, 3.0, -5.0, 1.0]))  # where the operators sit
        systems = _SYSTEMS[spec.archetype]
        self.systems = [
            systems[int(i)]
            for i in rng.choice(len(systems), size=min(2, len(systems)), replace=False)
        ]
        self.when = np.datetime64(w.start_ms, "ms").astype(object).date()
        self._build_pools(rng)
        for p in range(w.periods):
            self._build_period(p, rng)

    # -- infrastructure --------------------------------------------------------------
    def _build_pools(self, rng: np.random.Generator) -> None:
        w, s = self.w, self.spec
        kinds, p = _shares(s.exits.model_dump())
        self.exit_kinds, self.exit_p = kinds, p
        self.pools: dict[str, list[str]] = {}
        for k, share in zip(kinds, p, strict=True):
            n = max(1, round(s.ip_pool * share)) if share > 0 else 0
            if n == 0:
                continue
            if k == "datacenter":  # rented servers come in a few subnets
                ips: list[str] = []
                while len(ips) < n:
                    ips += w.net.block("datacenter", rng, min(16, n - len(ips)))
                self.pools[k] = ips
            elif k == "residential":
                regions = list(RESIDENTIAL_REGIONS)
                self.pools[k] = [
                    ip
                    for r in regions
                    for ip in w.net.addresses(f"res:{r}", rng, n // len(regions) + 1)
                ][:n]
            else:
                self.pools[k] = w.net.addresses(_EXIT_POOLS[k], rng, n)
        self.cloud_ips = {
            c: w.net.block(c, rng, 8) for c in s.access_paths if c.startswith("cloud:")
        }
        # the actor's own tooling: one or two SDK fingerprints most of its accounts share
        self.base_clients = {
            api: [sdk_client(w.net, rng, sdk, self.when, []) for _ in range(2)]
            for api, sdk in (
                ("anthropic.messages", "anthropic-sdk-python"),
                ("openai.chat_completions", "openai-python"),
            )
        }
        self.payments = [
            hex_id(rng, "pm_", 12) for _ in range(max(1, s.accounts // s.payment_reuse + 1))
        ]

    def _new_account(self, rng: np.random.Generator, created: int, slot: int) -> Account:
        s, w = self.spec, self.w
        types, tp = _shares(s.account_types)
        atype = types[int(rng.choice(len(types), p=tp))]
        apis, ap = _shares(s.apis)
        api = apis[int(rng.choice(len(apis), p=ap))]
        paths, pp = _shares(s.access_paths)
        path = paths[int(rng.choice(len(paths), p=pp))]
        exit_k = self.exit_kinds[int(rng.choice(len(self.exit_kinds), p=self.exit_p))]
        pool = self.pools[exit_k]
        if s.ip_rotation == "sticky":
            ips = [pool[int(rng.integers(len(pool)))]]
        else:
            ips = [pool[int(i)] for i in rng.integers(len(pool), size=min(8, len(pool)))]
        if path.startswith("cloud:"):
            client = cloud_client(rng, path, self.cloud_ips[path])
            api = "anthropic.messages"
        elif rng.random() < s.sdk_spread:
            sdk = {
                "anthropic.messages": "anthropic-sdk-python",
                "openai.chat_completions": ["openai-python", "openai-node"][int(rng.integers(2))],
            }[api]
            client = sdk_client(w.net, rng, sdk, self.when, ips)
        else:
            base = self.base_clients[api][int(rng.random() < 0.2)]
            client = Client(base.user_agent, base.headers, ips)
        human = s.timing == "human"
        r = list(RESIDENTIAL_REGIONS)[int(rng.integers(len(RESIDENTIAL_REGIONS)))]
        tz = float(RESIDENTIAL_REGIONS[r][1][0]) if human else self.tz
        dom = (
            _EDU[int(rng.integers(len(_EDU)))]
            if atype == "education"
            else _MAIL[int(rng.integers(len(_MAIL)))]
        )
        if atype in ("startup", "enterprise"):
            dom = f"{hex_id(rng, 'co', 6)}.com"
        countries = s.billing_countries
        a = Account(
            account_id=hex_id(rng, "acct_"),
            created_at_ms=created,
            account_type=atype,
            email_domain=dom,
            payment_fingerprint=self.payments[(slot // s.payment_reuse) % len(self.payments)],
            billing_country=countries[int(rng.integers(len(countries)))],
            verification=_VERIFY[atype],
            client=client,
            api=api,
            access_path=path,
            keys=[hex_id(rng, "key_", 8)],
            tz=tz,
            weight=float(rng.lognormal(0, 0.8 if human else 0.3)),
            active_from_ms=created,
            extra={"exit": exit_k, "slot": slot},
        )
        self.accounts.append(a)
        return a

    def _build_period(self, p: int, rng: np.random.Generator) -> None:
        s, w = self.spec, self.w
        p0, p1 = w.period_bounds(p)
        begin = p0 + int(s.start_day * DAY_MS)
        lo, hi = s.account_age_days
        members = self.members[p]
        if p > 0:  # returning actors pay with fresh instruments; tooling and habits stay
            self.payments = [hex_id(rng, "pm_", 12) for _ in range(len(self.payments))]
        for slot in range(w.scaled(s.accounts, 1)):
            created = begin - int(rng.uniform(lo, hi) * DAY_MS) - int(rng.integers(0, 6 * HOUR_MS))
            a = self._new_account(rng, created, slot)
            a.active_from_ms = max(created, begin + int(rng.integers(0, 12 * HOUR_MS)))
            members.append(len(self.accounts) - 1)
            while s.ban_rate_per_day > 0:
                ban = a.active_from_ms + int(rng.exponential(1.0 / s.ban_rate_per_day) * DAY_MS)
                if ban >= p1:
                    break
                a.status, a.status_changed_at_ms, a.active_until_ms = "banned", ban, ban
                if not s.replace_banned:
                    break
                dlo, dhi = s.replace_delay_hours
                created = ban + int(rng.uniform(dlo, dhi) * HOUR_MS)
                if created >= p1:
                    break
                a = self._new_account(rng, created, slot)
                a.extra["replaces"] = self.accounts[members[-1]].account_id
                members.append(len(self.accounts) - 1)
            if w.periods > 1 and p == 0:
                a.active_until_ms = min(a.active_until_ms, p1)
                if a.status == "active" and rng.random() < w.period_ban_share:
                    a.status, a.status_changed_at_ms = (
                        "banned",
                        p1 - int(rng.integers(0, 6 * HOUR_MS)),
                    )
                    a.active_until_ms = a.status_changed_at_ms

    # -- planning ----------------------------------------------------------------------
    def plan(self, day: int, day_start_ms: int, rng: np.random.Generator) -> Plan | None:
        s, w = self.spec, self.w
        period = min(int((day_start_ms - w.start_ms) // int(w.days * DAY_MS)), w.periods - 1)
        p0, p1 = w.period_bounds(period)
        begin = p0 + int(s.start_day * DAY_MS)
        day_end = day_start_ms + DAY_MS
        if day_end <= begin or day_start_ms >= p1:
            return None
        idx = np.asarray(self.members[period])
        frm = np.asarray([self.accounts[i].active_from_ms for i in idx])
        until = np.asarray([self.accounts[i].active_until_ms for i in idx])
        overlap = (np.minimum(until, day_end) - np.maximum(frm, day_start_ms)).clip(0) / DAY_MS
        wts = np.asarray([self.accounts[i].weight for i in idx]) * overlap
        if wts.sum() <= 0:
            return None
        active_days = (p1 - begin) / DAY_MS
        frac_day = (min(day_end, p1) - max(day_start_ms, begin)) / DAY_MS
        volume = int(
            rng.poisson(w.scale * s.exchanges / active_days * frac_day * rng.uniform(0.85, 1.15))
        )
        n_sess = rng.multinomial(max(1, int(volume / self.turns_mean)), wts / wts.sum())
        sess_acct = np.repeat(idx, n_sess)
        n = len(sess_acct)
        if n == 0:
            return None
        starts = self._starts(rng, day_start_ms, sess_acct)
        turns = np.minimum(rng.geometric(1.0 / self.turns_mean, size=n), 60)
        gap = 45.0 if s.timing == "human" else 2.5
        ts, sess, turn = expand_sessions(
            rng, starts, turns, gap, 0.9 if s.timing == "human" else 0.5
        )
        kind = np.where(
            rng.random(n) < s.mixed_ordinary,
            ORDINARY,
            np.asarray(self.kinds)[rng.choice(len(self.kinds), size=n, p=self.kind_p)],
        )
        k = kind[sess] + LAST * (turn == np.repeat(turns, turns) - 1)
        med, sig = self.out
        out = rng.lognormal(np.log(med), sig, size=len(ts)).astype(np.int64) + 20
        out = np.where(kind[sess] == ORDINARY, (out * 380 / med).astype(np.int64) + 5, out)
        # keep each exchange inside its account's active window
        a_of = sess_acct[sess]
        lo = np.asarray([self.accounts[i].active_from_ms for i in a_of])
        hi = np.asarray([self.accounts[i].active_until_ms for i in a_of])
        keep = (ts >= lo) & (ts < hi) & (ts < p1)
        conv = day * 10_000_000 + sess
        return Plan.make(ts[keep], a_of[keep], conv[keep], turn[keep], k[keep], out[keep])

    def _starts(self, rng: np.random.Generator, day_ms: int, sess_acct: np.ndarray) -> np.ndarray:
        n, s = len(sess_acct), self.spec
        if s.timing == "human":
            tz = np.asarray([self.accounts[i].tz for i in sess_acct])
            return day_ms + (((sample_hours(rng, n, DIURNAL) - tz) % 24) * HOUR_MS).astype(np.int64)
        if s.synchronized:  # every account works the same shifts of the actor's day
            n_win = int(rng.integers(2, 5))
            win_start = rng.uniform(0, 24 - 4, size=n_win)
            win_len = rng.uniform(1.5, 4.0, size=n_win)
            which = rng.integers(n_win, size=n)
            h = win_start[which] + rng.random(n) * win_len[which]
            return day_ms + (h * HOUR_MS).astype(np.int64)
        return day_ms + (rng.random(n) * DAY_MS).astype(np.int64)

    # -- rendering ---------------------------------------------------------------------
    def _model(self, ts: int, u: float) -> str:
        w = self.w
        live = [m for m in w.models if m[1] <= ts]
        if not live:
            return w.models[0][0]
        if len(live) == 1:
            return live[0][0]
        (old, _), (new, rel) = live[-2], live[-1]
        if self.pivot_share > 0:
            ramp_from, ramp_to = rel + HOUR_MS, rel + int(self.spec.pivot_hours * HOUR_MS)
            share = self.pivot_share * min(
                1.0, max(0.0, (ts - ramp_from) / max(1, ramp_to - ramp_from))
            )
        else:
            share = 0.4 * min(1.0, (ts - rel) / (10 * DAY_MS))
        return new if u < share else old

    def _ip(self, a: Account, conv: int, u: float) -> str:
        if a.access_path.startswith("cloud:"):
            return a.client.ips[int(u * len(a.client.ips))]
        rot = self.spec.ip_rotation
        if rot == "request":
            pool = self.pools[a.extra["exit"]]
            return pool[int(u * len(pool))]
        if rot == "session":
            return a.client.ips[(conv * 2654435761) % len(a.client.ips)]
        return a.client.ips[0]

    def _task(self, kind: int, conv: int, u: list[float]) -> tuple[str, str]:
        lib = self.w.lib
        c = (conv * 2654435761) >> 3
        if kind == GRADER:
            q, ans = lib.reasoning[c % len(lib.reasoning)]
            return q, ans or pick(REPLIES, conv)
        src = (lib.reasoning, lib.instructions, lib.benign)[conv % 3]
        item = src[c % len(src)]
        return (item[0] if isinstance(item, tuple) else item), ""

    def render(
        self, acct: Account, ts: int, conv: int, turn: int, kind: int, out_tok: int, u: list[float]
    ) -> dict[str, Any]:
        s, lib = self.spec, self.w.lib
        last, kind = bool(kind & LAST), kind & ~LAST
        system = self.systems[conv % len(self.systems)]
        tools: list[Any] | None = None
        think, effort, max_tok, temp, end_user = None, None, 8192, None, None
        turns: list[Turn]
        if kind == ORDINARY:
            turns, system = _chat_turns(self.w, conv, min(turn, 4)), None
            end_user = f"eu_{(conv * 40503) % 999_983:06x}" if s.archetype == "hydra" else None
            max_tok = [1024, 4096][conv % 2]
        elif kind in (COT, GRADER):
            task, ans = self._task(kind, conv, u)
            text = lib.elicit("cot" if kind == COT else "grader", task, ans, u[1])
            if u[2] < s.paraphrase:
                text = lib.paraphrase(task, u[1], u[2] / max(s.paraphrase, 1e-9), u[3])
            turns = [("user", text)]
            for j in range(1, turn + 1):
                turns += [
                    ("assistant", pick(REPLIES, conv + j)),
                    ("user", "Now verify each step again and give the final answer."),
                ]
            think, effort, max_tok, temp = 12000, "high", 16000, 1.0
        elif kind == CODING:
            task = (
                pick(DEV_TASKS, conv)
                if conv % 2
                else "Implement this and write tests:\n\n" + lib.coding[conv % len(lib.coding)]
            )
            if u[2] < s.paraphrase:
                task = lib.paraphrase(task, u[1], u[3], u[0])
            turns = coding_turns(task, conv, turn)
            tools, max_tok = CODING_TOOLS, 32000
            system = system or CODING_SYSTEMS[0]
        else:
            if kind == TOOLS:
                task, tools, turns = _tool_turns(self.w, conv, turn, 3)
            else:
                tools = COMPUTER_TOOLS if kind == COMPUTER else _DATA_TOOLS
                task = pick(_COMPUTER_TASKS if kind == COMPUTER else _DATA_TASKS, conv)
                turns = [("user", lib.elicit("agent", task, "", u[1]))]
                for j in range(turn):
                    cid = f"toolu_{(conv * 313 + j) & 0xFFFFFFFFFF:010x}"
                    turns += [
                        (
                            "tool_call",
                            cid,
                            tools[j % len(tools)]["name"],
                            {"action": "screenshot"} if kind == COMPUTER else {"sql": "select 1"},
                        ),
                        ("tool_result", cid, pick(TOOL_OUTPUTS, conv + j)),
                    ]
            max_tok = 4096
        api = acct.api
        hidden = 3000 + 1200 * turn if kind == CODING else 0
        call = Call(
            model=self._model(ts, u[0]),
            system=system,
            turns=turns,
            tools=tools,
            tool_choice="auto" if tools else None,
            out_tokens=out_tok,
            max_tokens=max_tok,
            temperature=temp,
            thinking_budget=think if api == "anthropic.messages" else None,
            reasoning_effort=effort if api != "anthropic.messages" else None,
            end_user=end_user,
            stop="tool" if tools and not last else "end",
            hidden_input_tokens=hidden,
            cached_tokens=int(hidden * 0.85),
            stream=True if kind == CODING else None,
            error_rate=0.02 if s.timing == "machine" else 0.004,
        )
        body = exchange_body(api, call, u[5])
        body["client"] = {
            "ip": self._ip(acct, conv, u[4]),
            "user_agent": acct.client.user_agent,
            "headers": acct.client.headers,
        }
        body["access_path"] = acct.access_path
        body["api_key_id"] = acct.keys[0]
        return body
