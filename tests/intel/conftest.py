"""Fixtures of the intel tests; the shared builders live in ``intel_world`` (a unique
module name, so test files import them without clashing with other folders' conftest)."""

from intel_world import store_factory, world

__all__ = ["store_factory", "world"]
