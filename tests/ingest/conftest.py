"""Fixtures of realistic records for the ingestion tests."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ingest_samples import ANTHROPIC_RECORD, OPENAI_RECORD


@pytest.fixture
def anthropic_record() -> dict[str, Any]:
    """A realistic Anthropic Messages exchange (blocks, tool use and result, thinking)."""
    return copy.deepcopy(ANTHROPIC_RECORD)


@pytest.fixture
def openai_record() -> dict[str, Any]:
    """A realistic OpenAI Chat Completions exchange (developer turn, tool calls, n, seed)."""
    return copy.deepcopy(OPENAI_RECORD)
