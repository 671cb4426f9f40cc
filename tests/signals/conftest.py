"""Shared fixtures for the signal tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from distillguard.signals import SignalContext


@pytest.fixture(scope="session")
def ctx() -> SignalContext:
    """A context with the embedded enrichment only (no shared lists)."""
    return SignalContext.default(use_shared_data=False)
