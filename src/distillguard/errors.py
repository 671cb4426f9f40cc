"""The exception tree of distillguard.

Every error a user can cause derives from :class:`DistillguardError`; where the
error is about input, it names the place (file, line, field) so the message can be
acted on without a debugger.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DistillguardError", "InputError", "StoreError"]


class DistillguardError(Exception):
    """Base class of all errors raised on purpose by distillguard."""


class InputError(DistillguardError):
    """A record, file or document could not be used; says where and why."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.field = field
        where = ":".join(str(p) for p in (file, line) if p is not None)
        loc = f"{where} " if where else ""
        fld = f"[{field}] " if field else ""
        super().__init__(f"{loc}{fld}{reason}: {message}")


class ConfigError(DistillguardError):
    """A scenario, policy or configuration file is invalid; names file, line and key."""


class StoreError(DistillguardError):
    """The embedded store could not be opened or written."""
