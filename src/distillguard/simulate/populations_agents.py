"""Benign populations that run agents: enterprises' service accounts and coding agents."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import scenario as sc
from .actors import DAY_MS, HOUR_MS, WORKDAY, Account, Plan, World, cloud_client, hex_id, sdk_client
from .populations import _CLOUDS, _MAIL, _SDK_API, _Base, _region, _sdk, _tool_turns, coding_turns
from .prompts import CODING_TOOLS
from .render import Call
from .texts import AGENT_SYSTEMS, CODING_SYSTEMS, DEV_TASKS, pick

__all__ = ["CodingAgent", "Enterprise"]


class Enterprise(_Base):
    """Enterprises: service accounts provisioned together on one invoice, running agents."""

    group = "enterprise"

    def __init__(self, spec: sc.Enterprise, w: World, rng: np.random.Generator) -> None:
        super().__init__(w)
        self.spec = spec
        when = np.datetime64(w.start_ms, "ms").astype(object).date()
        for i in range(w.scaled(spec.orgs, 1)):
            lo, hi = spec.accounts_per_org
            k = max(1, w.scaled(int(rng.integers(lo, hi + 1)), 1))
            # enterprises buy through their cloud (Bedrock / Vertex style) about half the time
            path = ["cloud:aws", "api", "cloud:gcp", "api"][i % 4]
            cloud = path if path != "api" else _CLOUDS[int(rng.integers(3))]
            nat = w.net.block(cloud, rng, int(rng.integers(4, 12)))
            sdk = _sdk(rng, ["anthropic-sdk-python", "openai-python"], [0.6, 0.4])
            client = (
                cloud_client(rng, path, nat)
                if path != "api"
                else sdk_client(w.net, rng, sdk, when, nat)
            )
            api = "anthropic.messages" if path != "api" else _SDK_API[sdk]
            org, inv, tz = (
                hex_id(rng, "org_", 6),
                hex_id(rng, "inv_", 12),
                float(rng.choice([-8.0, -5.0, 0.0, 1.0, 9.0])),
            )
            created = w.start_ms - int(rng.uniform(20, 400) * DAY_MS)
            domain = f"{hex_id(rng, 'corp', 6)}.com"
            for _ in range(k):
                self._acct(
                    rng,
                    created_at_ms=created + int(rng.integers(0, 3 * HOUR_MS)),
                    account_type="enterprise",
                    email_domain=domain,
                    payment_fingerprint=inv,
                    billing_country="US" if tz < 0 else "DE",
                    verification="kyb",
                    client=client,
                    org_id=org,
                    api=api,
                    access_path=path,
                    tz=tz,
                    weight=float(rng.lognormal(0, 0.7)),
                    extra={"sys": int(rng.integers(3))},
                )

    def plan(self, day: int, day_start_ms: int, rng: np.random.Generator) -> Plan | None:
        lam = (
            self.spec.exchanges_per_account_day
            / 4.0
            * self._weekday(day_start_ms)
            * np.asarray([a.weight for a in self.accounts])
        )
        return self._sessions(rng, day_start_ms, lam, WORKDAY, 4.0, 4.0, 260, 0.7, day, 30)

    def render(
        self, acct: Account, ts: int, conv: int, turn: int, kind: int, out_tok: int, u: list[float]
    ) -> dict[str, Any]:
        _, tools, turns = _tool_turns(self.w, conv, turn, acct.extra["sys"])
        call = Call(
            model=self.w.model_at(ts, u[0], 21.0, 0.5),
            system=AGENT_SYSTEMS[acct.extra["sys"]],
            turns=turns,
            tools=tools,
            tool_choice="auto",
            out_tokens=out_tok,
            max_tokens=4096,
            temperature=0.2,
            stop="end" if kind else "tool",
        )
        return self._envelope(acct, u, call)


class CodingAgent(_Base):
    """Developers driving coding agents through long, growing tool loops."""

    group = "coding_agent"

    def __init__(self, spec: sc.CodingAgent, w: World, rng: np.random.Generator) -> None:
        super().__init__(w)
        self.spec = spec
        when = np.datetime64(w.start_ms, "ms").astype(object).date()
        for _ in range(w.scaled(spec.developers, 1)):
            region, tz, country = _region(rng)
            sdk = _sdk(rng, ["claude-cli", "anthropic-sdk-python", "openai-node"], [0.5, 0.3, 0.2])
            ips = w.net.addresses(f"res:{region}", rng, 1 + int(rng.integers(0, 3)))
            self._acct(
                rng,
                created_at_ms=w.start_ms - int(rng.uniform(5, 600) * DAY_MS),
                account_type=["individual", "startup"][int(rng.integers(2))],
                email_domain=_MAIL[int(rng.integers(len(_MAIL)))],
                payment_fingerprint=hex_id(rng, "pm_", 12),
                billing_country=country,
                verification="card",
                client=sdk_client(w.net, rng, sdk, when, ips),
                api=_SDK_API[sdk],
                tz=tz,
                weight=float(rng.gamma(1.5, 0.67)),
            )

    def plan(self, day: int, day_start_ms: int, rng: np.random.Generator) -> Plan | None:
        lam = (
            self.spec.sessions_per_day
            * self._weekday(day_start_ms)
            * np.asarray([a.weight for a in self.accounts])
        )
        p = self._sessions(
            rng, day_start_ms, lam, WORKDAY, self.spec.loop_length_mean, 9.0, 650, 1.0, day, 60
        )
        return p

    def render(
        self, acct: Account, ts: int, conv: int, turn: int, kind: int, out_tok: int, u: list[float]
    ) -> dict[str, Any]:
        lib = self.w.lib
        task = (
            pick(DEV_TASKS, conv)
            if conv % 3
            else "Complete this function and add tests:\n\n" + lib.coding[conv % len(lib.coding)]
        )
        turns = coding_turns(task, conv, turn)
        hidden = 5000 + turn * 1400
        call = Call(
            model=self.w.model_at(ts, u[0], 2.0, 0.8),
            system=CODING_SYSTEMS[conv % 2],
            turns=turns,
            tools=CODING_TOOLS,
            out_tokens=out_tok,
            max_tokens=32000,
            stream=True,
            stop="end" if kind else "tool",
            hidden_input_tokens=hidden,
            cached_tokens=int(hidden * 0.9) if turn else 0,
            thinking_budget=8000 if conv % 4 == 0 and acct.api == "anthropic.messages" else None,
        )
        return self._envelope(acct, u, call)
