"""Shared builders for the watermark tests: long unmarked prose with many slots."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from distillguard.watermark._table import PAIRS

# the shared test helpers in tests/ (the LiteLLM proxy harness) are importable
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_FILLER = [
    "the",
    "model",
    "answer",
    "user",
    "question",
    "data",
    "result",
    "system",
    "value",
    "process",
    "method",
    "team",
    "plan",
    "report",
    "example",
    "budget",
    "task",
    "code",
    "price",
    "number",
    "city",
    "river",
    "table",
    "market",
    "project",
]


def prose(rng: random.Random, sentences: int) -> str:
    """Unmarked text: sentences mixing filler words with random members of table pairs."""
    out = []
    for _ in range(sentences):
        words = []
        for _ in range(rng.randint(6, 12)):
            if rng.random() < 0.3:
                words.append(rng.choice(rng.choice(PAIRS)))
            else:
                words.append(rng.choice(_FILLER))
        s = " ".join(words)
        out.append(s[:1].upper() + s[1:] + ".")
    return " ".join(out)


@pytest.fixture
def make_prose():
    """A factory for unmarked prose (seeded by the caller)."""
    return prose
