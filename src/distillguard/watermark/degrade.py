"""Degrade transforms: make an answer less useful for training, each a pure function.

For enforcement's ``degrade`` action and for providers who cannot touch the sampler.
Text transforms take and return a string; request transforms take a request body and
return a changed copy; :func:`degrade_response` applies the text transforms (and
optionally the lexical watermark) to a whole OpenAI chat-completions or Anthropic
messages response. Nothing here mutates its input.

What each costs in answer quality is measured by ``python -m benchmarks watermark``
(GSM8K exact match with SmolLM2) and written in ``docs/watermark.md``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from .lexical import LexicalKey, mark_text

__all__ = [
    "OutputDegrade",
    "cap_length",
    "degrade_response",
    "final_answer_only",
    "reduce_sampling_diversity",
    "strip_reasoning",
    "summarise_reasoning",
]

_THINK = re.compile(
    r"<(think|thinking|reasoning|scratchpad)>.*?(?:</\1>|\Z)\s*", re.DOTALL | re.IGNORECASE
)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")
_ANSWER_LINE = re.compile(
    r"^\s*(?:#{2,}\s*|(?:the\s+)?(?:final\s+)?answer\s*(?:is)?\s*[:=]?|therefore|thus|so,)",
    re.IGNORECASE,
)


def strip_reasoning(text: str) -> str:
    """Remove explicit reasoning blocks (``<think>…</think>`` and kin) from a response."""
    return _THINK.sub("", text).strip()


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def _answer_sentences(sentences: list[str]) -> list[str]:
    marked = [s for s in sentences if _ANSWER_LINE.match(s)]
    return marked[-2:] if marked else sentences[-1:]


def final_answer_only(text: str) -> str:
    """Withhold the working: keep only the sentence(s) that state the final answer.

    Those are the lines that announce an answer (``#### 42``, ``The answer is``,
    ``Therefore``), else the last sentence.
    """
    sentences = _sentences(strip_reasoning(text))
    return " ".join(_answer_sentences(sentences))


def summarise_reasoning(text: str, *, keep: int = 1) -> str:
    """Extractive summary: the first ``keep`` sentence(s) and the answer, steps dropped."""
    sentences = _sentences(strip_reasoning(text))
    if len(sentences) <= keep + 1:
        return " ".join(sentences)
    answer = _answer_sentences(sentences)
    head = [s for s in sentences[:keep] if s not in answer]
    return " ".join([*head, *answer])


def cap_length(text: str, max_words: int) -> str:
    """At most ``max_words`` words, cut back to a sentence end when one is near."""
    if max_words < 1:
        raise ValueError("max_words must be at least 1")
    spans = list(re.finditer(r"\S+", text))
    if len(spans) <= max_words:
        return text
    cut = text[: spans[max_words - 1].end()]
    end = max(cut.rfind(". "), cut.rfind(".\n"), cut.rfind("\n\n"))
    if end >= len(cut) * 0.6:
        return cut[: end + 1].rstrip()
    return cut.rstrip()


def reduce_sampling_diversity(
    body: dict[str, Any], *, max_temperature: float = 0.3
) -> dict[str, Any]:
    """A request copy that yields one low-temperature sample without log-probabilities.

    Forces ``n=1``, removes ``best_of``, ``logprobs``/``top_logprobs`` and
    ``top_k``/``top_p`` widening, and caps ``temperature`` at ``max_temperature``.
    """
    out = dict(body)
    if "n" in out:
        out["n"] = 1
    for field in ("best_of", "logprobs", "top_logprobs"):
        out.pop(field, None)
    temp = out.get("temperature")
    out["temperature"] = (
        min(float(temp), max_temperature) if isinstance(temp, int | float) else max_temperature
    )
    if isinstance(out.get("top_p"), int | float) and out["top_p"] > 0.9:
        out["top_p"] = 0.9
    return out


@dataclass(frozen=True, slots=True)
class OutputDegrade:
    """Which response transforms to apply; the defaults change nothing."""

    withhold_reasoning: bool = False
    summarise_reasoning: bool = False
    final_answer_only: bool = False
    max_words: int | None = None
    mark_key: str | None = None

    def apply_text(self, text: str) -> str:
        """Apply the chosen text transforms to one answer, the watermark last."""
        if self.withhold_reasoning:
            text = strip_reasoning(text)
        if self.final_answer_only:
            text = final_answer_only(text)
        elif self.summarise_reasoning:
            text = summarise_reasoning(text)
        if self.max_words is not None:
            text = cap_length(text, self.max_words)
        if self.mark_key:
            text = mark_text(text, LexicalKey(self.mark_key))
        return text


def _degrade_openai(out: dict[str, Any], spec: OutputDegrade) -> None:
    for choice in out.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        choice.pop("logprobs", None)
        msg = choice.get("message") or choice.get("delta")
        if isinstance(msg, dict):
            if spec.withhold_reasoning:
                msg.pop("reasoning_content", None)
                msg.pop("reasoning", None)
            if isinstance(msg.get("content"), str):
                msg["content"] = spec.apply_text(msg["content"])
        if isinstance(choice.get("text"), str):
            choice["text"] = spec.apply_text(choice["text"])
    if isinstance(out.get("choices"), list) and out["choices"]:
        out["choices"] = out["choices"][:1]


def _degrade_anthropic(out: dict[str, Any], spec: OutputDegrade) -> None:
    blocks = out.get("content")
    if not isinstance(blocks, list):
        return
    kept = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if spec.withhold_reasoning and kind in ("thinking", "redacted_thinking"):
            continue
        if kind == "text" and isinstance(block.get("text"), str):
            block = {**block, "text": spec.apply_text(block["text"])}
        kept.append(block)
    out["content"] = kept


def degrade_response(response: dict[str, Any], spec: OutputDegrade) -> dict[str, Any]:
    """A degraded copy of an OpenAI chat-completions or Anthropic messages response.

    Drops log-probabilities and extra choices (OpenAI), reasoning fields and thinking
    blocks when ``withhold_reasoning``, and applies :meth:`OutputDegrade.apply_text` to
    every answer text.
    """
    out = copy.deepcopy(response)
    if "choices" in out:
        _degrade_openai(out, spec)
    elif "content" in out:
        _degrade_anthropic(out, spec)
    return out
