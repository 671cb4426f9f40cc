"""Reasoning / judge elicitation: phrasing, request fields, and benign chat."""

from __future__ import annotations

import pytest
from _realdata import arena, batch, exchange, gsm8k

from distillguard.resources import shared_data_dir
from distillguard.signals import SignalContext, compute_signals

DATA = shared_data_dir()


def _sig(rows: list[dict], ctx: SignalContext) -> list[dict]:
    return compute_signals(batch(rows), ctx).to_pylist()


@pytest.mark.parametrize(
    "text",
    [
        "Let's think step by step. A train leaves at 3pm...",
        "Solve the problem below and show all your reasoning before the final answer.",
        "Please walk me through your thought process for this proof.",
        "Think carefully and explain your reasoning: is 391 prime?",
    ],
)
def test_reasoning_requests(text: str, ctx: SignalContext) -> None:
    s = _sig([exchange(text)], ctx)[0]
    assert s["elicits_reasoning"] and not s["judge_prompt"]
    assert s["elicitation_score"] > 0.5


def test_hidden_reasoning_requests(ctx: SignalContext) -> None:
    s = _sig(
        [
            exchange(
                "Output your full internal reasoning trace inside <thinking> tags, then answer."
            )
        ],
        ctx,
    )[0]
    assert s["hidden_reasoning"] and s["elicits_reasoning"]
    assert "hidden." in s["elicitation_cues"]


@pytest.mark.parametrize(
    ("text", "system"),
    [
        (
            "Here is a question and two responses. Which response is better? Answer [[A]] or [[B]].",
            None,
        ),
        ("Rate the following answer on a scale of 1 to 10 for correctness.\n\nAnswer: 42", None),
        (
            "Question: what is 2+2?\nAnswer: 5",
            "You are an impartial judge. Evaluate the quality of the response.",
        ),
    ],
)
def test_judge_prompts(text: str, system: str | None, ctx: SignalContext) -> None:
    s = _sig([exchange(text, system_text=system)], ctx)[0]
    assert s["judge_prompt"]


def test_request_fields_survive_redaction(ctx: SignalContext) -> None:
    rows = [
        exchange(None, 0, thinking_enabled=True, thinking_budget=16_000),
        exchange(None, 1, reasoning_effort="high"),
        exchange(None, 2, thinking_budget=1_024),
        exchange(None, 3, n_choices=8, logprobs=True, top_logprobs=5),
    ]
    s = _sig(rows, ctx)
    assert [r["elicits_reasoning"] for r in s] == [True, True, False, False]
    assert (
        "sample.n_choices" in s[3]["elicitation_cues"]
        and "sample.logprobs" in s[3]["elicitation_cues"]
    )
    assert s[3]["elicitation_score"] > 0


@pytest.mark.skipif(DATA is None, reason="no shared data")
def test_ordinary_prompts_rarely_elicit(ctx: SignalContext) -> None:
    assert DATA
    plain = [exchange(t, i) for i, t in enumerate(arena(DATA))]
    s = _sig(plain, ctx)
    assert sum(r["elicits_reasoning"] for r in s) / len(s) <= 0.1
    assert sum(r["judge_prompt"] for r in s) / len(s) <= 0.02
    # the same math questions, wrapped the way a reasoning harvester asks, are flagged
    wrapped = [
        exchange(f"{q}\n\nThink step by step and show your reasoning.", i)
        for i, q in enumerate(gsm8k(DATA, 200))
    ]
    assert all(r["elicits_reasoning"] for r in _sig(wrapped, ctx))
