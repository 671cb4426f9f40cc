"""Degrade transforms are pure and do what they say."""

from __future__ import annotations

import copy

import pytest

from distillguard.watermark.degrade import (
    OutputDegrade,
    cap_length,
    degrade_response,
    final_answer_only,
    reduce_sampling_diversity,
    strip_reasoning,
    summarise_reasoning,
)
from distillguard.watermark.lexical import LexicalKey, detect_text

SOLUTION = (
    "Natalia sold 48/2 = 24 clips in May.\n"
    "Natalia sold 48+24 = 72 clips altogether in April and May.\n"
    "#### 72"
)


def test_strip_reasoning_removes_think_blocks() -> None:
    text = "<think>first I add 2 and 2</think>The answer is 4."
    assert strip_reasoning(text) == "The answer is 4."
    assert strip_reasoning("<reasoning>unterminated") == ""


def test_final_answer_only_keeps_the_answer_and_drops_steps() -> None:
    out = final_answer_only(SOLUTION)
    assert "72" in out
    assert "48/2" not in out


def test_summarise_keeps_first_step_and_answer() -> None:
    out = summarise_reasoning(SOLUTION)
    assert out.startswith("Natalia sold 48/2")
    assert out.endswith("#### 72")
    assert "48+24" not in out


def test_cap_length() -> None:
    text = "One two three. Four five six seven. Eight nine ten eleven twelve."
    assert cap_length(text, 100) == text
    assert cap_length(text, 7) == "One two three. Four five six seven."
    assert len(cap_length(text, 2).split()) == 2
    with pytest.raises(ValueError):
        cap_length(text, 0)


def test_reduce_sampling_diversity_is_pure() -> None:
    body = {
        "n": 5,
        "logprobs": True,
        "top_logprobs": 5,
        "temperature": 1.2,
        "top_p": 1.0,
        "best_of": 3,
    }
    before = copy.deepcopy(body)
    out = reduce_sampling_diversity(body)
    assert body == before
    assert out["n"] == 1 and out["temperature"] == 0.3 and out["top_p"] == 0.9
    assert not {"logprobs", "top_logprobs", "best_of"} & out.keys()
    assert reduce_sampling_diversity({"temperature": 0.1})["temperature"] == 0.1


def test_degrade_openai_response() -> None:
    resp = {
        "choices": [
            {"message": {"content": SOLUTION, "reasoning_content": "secret"}, "logprobs": {"x": 1}},
            {"message": {"content": "second"}},
        ]
    }
    before = copy.deepcopy(resp)
    out = degrade_response(resp, OutputDegrade(withhold_reasoning=True, final_answer_only=True))
    assert resp == before
    assert len(out["choices"]) == 1
    msg = out["choices"][0]["message"]
    assert "reasoning_content" not in msg and "logprobs" not in out["choices"][0]
    assert "72" in msg["content"] and "48/2" not in msg["content"]


def test_degrade_anthropic_response_with_mark() -> None:
    text = "We often calculate it quickly. " * 3 + "Perhaps it is not hard, therefore we began."
    resp = {"content": [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": text}]}
    out = degrade_response(resp, OutputDegrade(withhold_reasoning=True, mark_key="k"))
    assert [b["type"] for b in out["content"]] == ["text"]
    marked = out["content"][0]["text"]
    ev = detect_text(marked, LexicalKey("k"))
    assert ev.slots > 0 and ev.agreeing == ev.slots
