"""Benign populations that look most like distillation: eval labs, classes, resellers."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import scenario as sc
from .actors import DAY_MS, DIURNAL, HOUR_MS, WORKDAY, Plan, World, hex_id, sample_hours, sdk_client
from .populations import _SDK_API, _Base, _chat_turns, _sdk, _tool_turns
from .render import Call, Turn
from .texts import FOLLOWUPS, REPLIES, pick

__all__ = ["EvalLab", "Reseller", "UniversityClass"]

_UNIS = ["stateu", "techinst", "northcollege", "univ-lyon", "tum", "kaist", "ucl", "polimi"]


class EvalLab(_Base):
    """Eval labs: each run sends the lab's fixed benchmark prompts in a burst, temperature 0."""

    group = "eval_lab"

    def __init__(self, spec: sc.EvalLab, w: World, rng: np.random.Generator) -> None:
        super().__init__(w)
        self.spec = spec
        self.labs: list[
            tuple[list[int], list[tuple[int, int]]]
        ] = []  # (account indices, benchmark items)
        when = np.datetime64(w.start_ms, "ms").astype(object).date()
        lib = w.lib
        for _ in range(w.scaled(spec.labs, 1)):
            lo, hi = spec.accounts_per_lab
            k = int(rng.integers(lo, hi + 1))
            kind = "campus" if rng.random() < 0.5 else "cloud:gcp"
            ips = w.net.block(kind, rng, int(rng.integers(2, 6)))
            sdk = _sdk(rng, ["anthropic-sdk-python", "openai-python"], [0.6, 0.4])
            client = sdk_client(w.net, rng, sdk, when, ips)
            pay, org = hex_id(rng, "pm_", 12), hex_id(rng, "org_", 6)
            dom = (
                f"{_UNIS[int(rng.integers(len(_UNIS)))]}.edu"
                if kind == "campus"
                else f"{hex_id(rng, 'evals', 4)}.ai"
            )
            idx = []
            for _ in range(k):
                a = self._acct(
                    rng,
                    created_at_ms=w.start_ms - int(rng.uniform(10, 300) * DAY_MS),
                    account_type="research",
                    email_domain=dom,
                    payment_fingerprint=pay,
                    billing_country="US",
                    verification="id",
                    client=client,
                    org_id=org,
                    api=_SDK_API[sdk],
                    tz=-5.0 if kind == "campus" else 0.0,
                )
                idx.append(self.accounts.index(a))
            # a fixed benchmark suite: GSM8K (0), HumanEval (1), MT-Bench-like chat (2)
            n = spec.benchmark_prompts
            which = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
            sizes = [len(lib.reasoning), len(lib.coding), len(lib.benign)]
            items = [(int(c), int(rng.integers(sizes[int(c)]))) for c in which]
            self.labs.append((idx, items))

    def plan(self, day: int, day_start_ms: int, rng: np.random.Generator) -> Plan | None:
        parts = []
        for li, (idx, items) in enumerate(self.labs):
            for r in range(int(rng.poisson(self.spec.runs_per_day))):
                start = day_start_ms + int(sample_hours(rng, 1, WORKDAY)[0] * HOUR_MS) + 5 * HOUR_MS
                gaps = (
                    rng.exponential(250.0, size=len(items)).cumsum().astype(np.int64)
                )  # concurrent workers
                acct = idx[int(rng.integers(len(idx)))]
                conv = (day * 1000 + li) * 100 + r  # one run; turn = benchmark item
                out = rng.lognormal(np.log(320), 0.6, size=len(items)).astype(np.int64) + 10
                parts.append(Plan.make(start + gaps, acct, conv, np.arange(len(items)), 0, out))
        if not parts:
            return None
        return Plan(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("ts", "acct", "conv", "turn", "kind", "out_tok")
            )
        )

    def render(
        self, acct: Any, ts: int, conv: int, turn: int, kind: int, out_tok: int, u: list[float]
    ) -> dict[str, Any]:
        lab = self.labs[(conv // 100) % 1000]
        c, i = lab[1][turn % len(lab[1])]
        lib = self.w.lib
        if c == 0:
            text = f"Question: {lib.reasoning[i][0]}\nLet's think step by step."
        elif c == 1:
            text = "Complete the following Python function. Return only code.\n\n" + lib.coding[i]
        else:
            text = lib.benign[i]
        # every run of a lab evaluates the newest model it has access to
        call = Call(
            model=self.w.model_at(ts, 0.0, 0.3, 1.0),
            turns=[("user", text)],
            out_tokens=out_tok,
            max_tokens=2048,
            temperature=0.0,
            error_rate=0.05,  # bursts of concurrent workers run into rate limits
            seed=1234 if acct.api.startswith("openai") else None,
        )
        return self._envelope(acct, u, call)


class UniversityClass(_Base):
    """A class: hundreds of education accounts, one grant, a campus NAT, deadline rushes."""

    group = "university_class"

    def __init__(self, spec: sc.UniversityClass, w: World, rng: np.random.Generator) -> None:
        super().__init__(w)
        self.spec = spec
        self.phase: list[int] = []
        when = np.datetime64(w.start_ms, "ms").astype(object).date()
        for ci in range(w.scaled(spec.classes, 1)):
            lo, hi = spec.students
            k = max(2, w.scaled(int(rng.integers(lo, hi + 1)), 2))
            nat = w.net.block("campus", rng, int(rng.integers(2, 5)))
            # the course ships a notebook: everyone runs the same SDK version
            client = sdk_client(w.net, rng, "anthropic-sdk-python", when, nat)
            grant, dom = hex_id(rng, "grant_", 10), f"{_UNIS[int(rng.integers(len(_UNIS)))]}.edu"
            tz = float(rng.choice([-5.0, -8.0, 1.0, 9.0]))
            day0 = w.start_ms - int(rng.uniform(5, 60)) * DAY_MS + int((9 - tz) % 24 * HOUR_MS)
            phase = int(rng.integers(spec.deadline_every_days))
            for _ in range(k):
                self._acct(
                    rng,
                    created_at_ms=day0 + int(rng.exponential(1.2 * HOUR_MS)),
                    account_type="education",
                    email_domain=dom,
                    payment_fingerprint=grant,
                    billing_country="US" if tz < 0 else "DE",
                    verification="email",
                    client=client,
                    org_id=None,
                    api="anthropic.messages",
                    tz=tz,
                    weight=float(rng.gamma(1.2, 0.83)),
                    extra={"class": ci},
                )
            self.phase.append(phase)

    def plan(self, day: int, day_start_ms: int, rng: np.random.Generator) -> Plan | None:
        d = self.spec.deadline_every_days
        lam = np.empty(len(self.accounts))
        for i, a in enumerate(self.accounts):
            to_deadline = (self.phase[a.extra["class"]] - day) % d
            share = {0: 0.42, 1: 0.28, 2: 0.1}.get(to_deadline, 0.2 / max(d - 3, 1))
            lam[i] = a.weight * self.spec.exchanges_per_student_deadline * share / 2.5
        return self._sessions(rng, day_start_ms, lam, DIURNAL, 2.5, 70.0, 420, 0.7, day, 12)

    def render(
        self, acct: Any, ts: int, conv: int, turn: int, kind: int, out_tok: int, u: list[float]
    ) -> dict[str, Any]:
        lib = self.w.lib
        c = conv % 5
        if c <= 1:
            q = lib.reasoning[(conv * 2654435761) % len(lib.reasoning)][0]
            first = f"{q}\n\nCan you explain step by step how to solve this? I don't get the second part."
        elif c == 2:
            first = (
                "I'm stuck on this homework function, why does my version fail the tests?\n\n"
                + lib.coding[conv % len(lib.coding)]
            )
        else:
            first = lib.instructions[(conv * 2654435761) % len(lib.instructions)]
        turns: list[Turn] = [("user", first)]
        for j in range(1, turn + 1):
            turns += [("assistant", pick(REPLIES, conv + j)), ("user", pick(FOLLOWUPS, conv + j))]
        call = Call(
            model=self.w.models[0][0] if self.w.models[0][1] <= ts else self.w.models[-1][0],
            turns=turns,
            out_tokens=out_tok,
            max_tokens=2048,
            temperature=0.7,
        )
        return self._envelope(acct, u, call)


class Reseller(_Base):
    """Legitimate resellers and routers: many keys, many end users, cloud egress, 24/7."""

    group = "reseller"

    def __init__(self, spec: sc.Reseller, w: World, rng: np.random.Generator) -> None:
        super().__init__(w)
        self.spec = spec
        when = np.datetime64(w.start_ms, "ms").astype(object).date()
        for i in range(w.scaled(spec.resellers, 1)):
            cloud = ["cloud:other", "cloud:aws", "cloud:gcp"][int(rng.integers(3))]
            ips = w.net.block(cloud, rng, int(rng.integers(4, 16)))
            sdk = ["openai-python", "openai-node", "anthropic-sdk-python"][
                i % 3
            ]  # routers speak OpenAI mostly
            client = sdk_client(w.net, rng, sdk, when, ips)
            pay, org, dom = (
                hex_id(rng, "pm_", 12),
                hex_id(rng, "org_", 6),
                f"{hex_id(rng, 'router', 4)}.ai",
            )
            lo, hi = spec.accounts_per_reseller
            klo, khi = spec.keys_per_account
            for _ in range(int(rng.integers(lo, hi + 1))):
                self._acct(
                    rng,
                    created_at_ms=w.start_ms - int(rng.uniform(30, 400) * DAY_MS),
                    account_type="startup",
                    email_domain=dom,
                    payment_fingerprint=pay,
                    billing_country="US",
                    verification="kyb",
                    client=client,
                    org_id=org,
                    api=_SDK_API[sdk],
                    keys=[
                        hex_id(rng, "key_", 8)
                        for _ in range(w.scaled(int(rng.integers(klo, khi + 1)), 2))
                    ],
                    tz=0.0,
                    weight=float(rng.lognormal(0, 0.4)),
                )

    def plan(self, day: int, day_start_ms: int, rng: np.random.Generator) -> Plan | None:
        w = np.asarray([a.weight for a in self.accounts])
        lam = self.w.scale * self.spec.exchanges_per_day / 2.0 * w / w.sum()
        flat = (DIURNAL + np.roll(DIURNAL, 8) + np.roll(DIURNAL, -7)) / 3
        return self._sessions(rng, day_start_ms, lam, flat, 2.0, 40.0, 420, 0.9, day, 10)

    def render(
        self, acct: Any, ts: int, conv: int, turn: int, kind: int, out_tok: int, u: list[float]
    ) -> dict[str, Any]:
        lib = self.w.lib
        c = conv % 10
        tools = None
        if c < 7:
            turns = _chat_turns(self.w, conv, turn)
        elif c == 7:
            turns = [
                ("user", lib.reasoning[conv % len(lib.reasoning)][0] + "\nShow your reasoning.")
            ]
        elif c == 8:
            turns = [("user", "Write this function:\n" + lib.coding[conv % len(lib.coding)])]
        else:
            _, tools, turns = _tool_turns(self.w, conv, min(turn, 3), 1)
        call = Call(
            model=self.w.model_at(ts, u[0], 1.5, 0.6),
            turns=turns,
            tools=tools,
            out_tokens=out_tok,
            max_tokens=[1024, 4096, 8192][conv % 3],
            temperature=[None, 0.7, 1.0][conv % 3],
            end_user=f"eu_{(conv * 2654435761) % 1_000_003:07x}",
            reasoning_effort="medium" if conv % 5 == 0 and acct.api.startswith("openai") else None,
            stream=bool(conv % 2),
            stop="tool" if tools else "end",
        )
        return self._envelope(acct, u, call)
