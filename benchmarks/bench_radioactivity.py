"""Radioactivity of the lexical watermark: does a student trained on marked text carry it?

Two students learn from the *same* texts, one marked with the provider's key and one
not; each then writes new text, and ``trace`` tests both. The texts are real answers
and prompts from ../shared/data (GSM8K reference solutions, self-instruct outputs,
arena-hard / MT-bench / Vicuna prompts) standing in for a teacher's outputs: the lexical
mark is a post-processing step, so where the text came from does not change it.

The students are word-bigram language models (counts of next word given previous word,
sampled at temperature 1). That is the cheapest student that can learn word-choice
statistics; a neural student (a small GPT-2 from scratch, LoRA on SmolLM2) did not fit
the CPU budget of this environment (see docs/watermark.md), and would learn the
context-conditioned preference less exactly than counts do.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from typing import Any

from distillguard.resources import shared_data_dir
from distillguard.watermark.lexical import LexicalKey, mark_text
from distillguard.watermark.trace import trace_texts

SECRET = "bench-radioactivity-secret"
_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+|[^\sA-Za-z\d]")


class BigramStudent:
    """A word-bigram language model: the next word given the previous one, by counts."""

    def __init__(self) -> None:
        self.next: dict[str, Counter[str]] = defaultdict(Counter)

    def fit(self, texts: list[str]) -> BigramStudent:
        """Count every (previous word, word) pair of ``texts``."""
        for t in texts:
            prev = "<s>"
            for tok in _TOKEN.findall(t):
                self.next[prev][tok] += 1
                prev = tok.lower() if tok.isalpha() or "'" in tok else tok
            self.next[prev]["</s>"] += 1
        return self

    def sample(self, rng: random.Random, max_words: int) -> str:
        """One text sampled word by word."""
        out: list[str] = []
        prev = "<s>"
        for _ in range(max_words):
            options = self.next.get(prev)
            if not options:
                break
            words, counts = zip(*options.items(), strict=True)
            tok = rng.choices(words, weights=counts)[0]
            if tok == "</s>":
                break
            out.append(tok)
            prev = tok.lower() if tok.isalpha() or "'" in tok else tok
        return " ".join(out)


def _corpus() -> list[str]:
    from .bench_watermark import human_texts

    data = shared_data_dir()
    assert data is not None
    return human_texts(data)


def run(scale: float) -> list[dict[str, Any]]:
    """Train both students, sample from them, trace each; rows per sample size."""
    if shared_data_dir() is None:
        return [{"student": "skipped (no ../shared/data)", "samples": 0}]
    texts = _corpus()
    key = LexicalKey(SECRET)
    marked = [mark_text(t, key) for t in texts]
    students = {
        "trained on marked": BigramStudent().fit(marked),
        "trained on unmarked": BigramStudent().fit(texts),
    }
    rows = []
    for n in (max(10, round(n * scale)) for n in (10, 50, 200, 1000)):
        for name, student in students.items():
            rng = random.Random(n)
            samples = [s for s in (student.sample(rng, 80) for _ in range(n)) if s]
            report = trace_texts(samples, SECRET)
            ev = report.evidence[0]
            rows.append(
                {
                    "student": name,
                    "samples": len(samples),
                    "slots": ev.scored,
                    "agree": round(ev.rate, 3),
                    "p_value": f"{ev.p_value:.2e}",
                    "reported": ev.reported,
                }
            )
    return rows
