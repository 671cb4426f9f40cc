"""Capability detector on real public prompt sets, and without prompt text."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from _realdata import arena, batch, bfcl, exchange, glaive, gsm8k, humaneval, mt_bench

from distillguard.errors import ConfigError
from distillguard.resources import shared_data_dir
from distillguard.signals import (
    CAPABILITIES,
    CapabilityDetector,
    SignalContext,
    compute_signals,
    load_capability_rules,
)
from distillguard.signals.registry import ExchangeView

DATA = shared_data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="no shared data (../shared/data)")


def _labels(rows: list[dict], ctx: SignalContext) -> list[str | None]:
    return compute_signals(batch(rows), ctx).column("capability").to_pylist()


def _share(labels: list[str | None], label: str) -> float:
    return sum(lab == label for lab in labels) / len(labels)


@needs_data
def test_humaneval_is_coding(ctx: SignalContext) -> None:
    assert DATA
    labels = _labels([exchange(t, i) for i, t in enumerate(humaneval(DATA))], ctx)
    assert _share(labels, "coding") >= 0.95


@needs_data
def test_gsm8k_is_math(ctx: SignalContext) -> None:
    assert DATA
    labels = _labels([exchange(t, i) for i, t in enumerate(gsm8k(DATA, 500))], ctx)
    assert _share(labels, "math_reasoning") >= 0.8
    assert _share(labels, "coding") <= 0.02


@needs_data
def test_function_calling_sets_are_tool_use(ctx: SignalContext) -> None:
    assert DATA
    rows = [exchange(t, i, n_tools=k) for i, (t, k) in enumerate(bfcl(DATA))]
    assert _share(_labels(rows, ctx), "tool_agentic") >= 0.9
    with_tools = [(t, k) for t, k in glaive(DATA) if k > 0]
    rows = [exchange(t, i, n_tools=k) for i, (t, k) in enumerate(with_tools)]
    assert _share(_labels(rows, ctx), "tool_agentic") >= 0.7


@needs_data
def test_chat_benchmarks_are_mixed(ctx: SignalContext) -> None:
    assert DATA
    labels = _labels([exchange(t, i) for i, t in enumerate(arena(DATA))], ctx)
    counts = Counter(labels)
    assert len(counts) >= 4
    assert max(counts.values()) / len(labels) <= 0.7
    mt = mt_bench(DATA)
    mt_labels = _labels([exchange(t, i) for i, (_c, t) in enumerate(mt)], ctx)
    by_cat = {c: lab for (c, _t), lab in zip(mt, mt_labels, strict=True) if c == "coding"}
    assert by_cat  # MT-bench's coding questions are recognised as coding
    coding = [lab for (c, _t), lab in zip(mt, mt_labels, strict=True) if c == "coding"]
    assert _share(coding, "coding") >= 0.8


def test_redacted_prompts_fall_back_to_structure(ctx: SignalContext) -> None:
    rows = [
        exchange(None, 0, n_tools=3, has_tool_results=True),
        exchange(None, 1),
        exchange("Write a haiku about autumn leaves for my blog post.", 2),
    ]
    sig = compute_signals(batch(rows), ctx).to_pylist()
    assert sig[0]["capability"] == "tool_agentic" and sig[0]["capability_basis"] == "structure"
    assert "tool_agentic.tools_declared" in sig[0]["capability_cues"]
    assert sig[1]["capability"] is None and sig[1]["capability_basis"] == "structure"
    assert sig[2]["capability"] == "writing_chat" and sig[2]["capability_basis"] == "text"


def test_scores_and_cues_explain_the_label(ctx: SignalContext) -> None:
    text = "Write a Python function that returns the n-th prime.\n```python\ndef nth_prime(n):\n```"
    sig = compute_signals(batch([exchange(text)]), ctx).to_pylist()[0]
    assert sig["capability"] == "coding"
    scores = {c: sig[f"cap_{c}"] for c in CAPABILITIES}
    assert max(scores, key=lambda c: scores[c]) == "coding"
    assert all(0.0 <= v < 1.0 for v in scores.values())
    assert sig["capability_cues"].split(";")[0].startswith("coding.")


def test_rules_load_from_yaml(tmp_path: Path) -> None:
    p = tmp_path / "rules.yaml"
    p.write_text("recipes:\n  - {id: cook, pattern: '\\brecipe\\b', weight: 2}\n")
    det = CapabilityDetector(load_capability_rules(p))
    view = ExchangeView(batch([exchange("Give me a recipe for bread"), exchange("hello")]))
    out = det.analyze(view)
    assert out["capability"].to_pylist() == ["recipes", "general"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("recipes:\n  - {weight: 2}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*recipes"):
        load_capability_rules(bad)
