"""Cached request-time signals have exactly the values of the uncached batch definitions."""

from __future__ import annotations

import random
from typing import Any

import pytest

from distillguard.ingest import normalize_native
from distillguard.online.engine import REQUEST_DETECTORS
from distillguard.online.request_signals import RequestSignals
from distillguard.signals import SignalContext, signals_for_exchange
from distillguard.signals.registry import Registry
from distillguard.signals.template import key_texts
from distillguard.signals.vocabulary import MIN_SUPPORT, TemplateVocabulary

UAS = [
    "OpenAI/Python 1.40.0",
    "OpenAI/Python 2.1.0",
    "Anthropic/Python 0.121.0",
    "curl/8.5.0",
    "Bad\x1bAgent/1.0 \u202ercrc",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    None,
]
SYSTEMS = [
    None,
    "You are a helpful assistant.",
    "You are a   STRICT grader.\n\nScore 1-10.",
    "x" * 6000,
]
FRAME = "Translate the following customer review into French and list every product named: {}"


def _record(rng: random.Random, i: int) -> dict[str, Any]:
    api = rng.choice(["openai.chat_completions", "anthropic.messages"])
    prompt = rng.choice(
        [
            "hi",
            f"Explain topic {rng.randrange(50)} step by step.",
            FRAME.format(rng.randrange(10_000)),
            "Solve: " + "very long problem " * rng.randrange(100, 400),
            "control\x07chars \u202eflip\u202c here",
        ]
    )
    req: dict[str, Any] = {
        "model": rng.choice(["frontier-1", "frontier-1-2026-01-01", "small-2"]),
        "messages": [{"role": "user", "content": prompt}] * rng.choice([1, 1, 3]),
    }
    system = rng.choice(SYSTEMS)
    if system is not None:
        if api == "anthropic.messages":
            req["system"] = system
        else:
            req["messages"] = [{"role": "system", "content": system}, *req["messages"]]
    for knob, values in (
        ("max_tokens", [None, 256, 4000, 32_000]),
        ("temperature", [None, 0.0, 0.7, 1.0]),
        ("stream", [None, True, False]),
    ):
        v = rng.choice(values)
        if v is not None:
            req[knob] = v
    if api == "openai.chat_completions":
        if rng.random() < 0.3:
            req.update(n=rng.choice([1, 4]), logprobs=True)
        if rng.random() < 0.3:
            req["reasoning_effort"] = rng.choice(["low", "high"])
        if rng.random() < 0.2:
            req["response_format"] = {"type": "json_object"}
    elif rng.random() < 0.3:
        req["thinking"] = {"type": "enabled", "budget_tokens": rng.choice([1024, 8000])}
    if rng.random() < 0.3:
        req["tools"] = [{"type": "function", "function": {"name": f"t{rng.randrange(3)}"}}]
    headers = rng.choice([{}, {"x-stainless-lang": "python", "x-stainless-os": "Linux"}])
    ip = rng.choice([f"203.0.113.{rng.randrange(256)}", "2001:db8::7", "10.1.2.3", None])
    return {
        "id": f"ex_{i}",
        "timestamp": 1_790_000_000.123 + i,
        "account_id": f"acct_{rng.randrange(20)}",
        "api": api,
        "client": {"ip": ip, "user_agent": rng.choice(UAS), "headers": headers},
        "request": req,
    }


@pytest.mark.parametrize("detectors", [REQUEST_DETECTORS, None])
def test_cached_signals_equal_uncached(detectors: tuple[str, ...] | None) -> None:
    sctx = SignalContext.default()
    if detectors is not None:
        sctx.registry = Registry([d for d in sctx.registry if d.name in detectors])
    cached = RequestSignals(sctx, cache_size=64)  # small: entries are evicted too
    rng = random.Random(11)
    records = [_record(rng, i) for i in range(400)]
    for rec in records + records[::-1]:
        want = signals_for_exchange(normalize_native(rec), sctx)
        assert cached(rec) == want
    info = cached.cache_info()
    assert info["shape"]["hits"] > 0 and info["client"]["hits"] > 0
    assert info["template"]["hits"] > 0 and info["shape"]["currsize"] <= 64

    # a new template vocabulary: cached template fields are forgotten, values follow it
    frames = [FRAME.format(n) for n in range(MIN_SUPPORT * 2)]
    support: dict[str, int] = {}
    from distillguard.signals._hashing import hash_one

    for text in frames:
        for key in key_texts(text):
            h = hash_one(key)
            if h is not None:
                support[h] = support.get(h, 0) + 1
    sctx.use_templates(TemplateVocabulary(support=support))
    templated = 0
    for rec in records:
        want = signals_for_exchange(normalize_native(rec), sctx)
        got = cached(rec)
        assert got == want
        templated += bool(got["templated"])
    assert templated > 0
