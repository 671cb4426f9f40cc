"""Fixtures of the simulator tests; the shared builders live in ``sim_world`` (a unique
module name, so test files import them without clashing with other folders' conftest)."""

from sim_world import small_world

__all__ = ["small_world"]
