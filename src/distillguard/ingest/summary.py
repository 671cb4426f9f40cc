"""What an ingestion run read, kept, skipped and rejected, with where and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..errors import InputError

__all__ = ["MAX_KEPT_REJECTIONS", "IngestSummary", "Rejection"]

#: Rejections kept with full detail; beyond this they are still counted by reason.
MAX_KEPT_REJECTIONS = 100_000


@dataclass(frozen=True, slots=True)
class Rejection:
    """One record (or stretch of a file) that could not be ingested."""

    file: str
    line: int | None
    field: str | None
    reason: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        fld = f" [{self.field}]" if self.field else ""
        return f"{where}{fld} {self.reason}: {self.message}"

    @classmethod
    def from_error(cls, err: InputError, file: str, line: int | None) -> Rejection:
        """Build a rejection from an InputError raised by a normaliser."""
        msg = str(err).split(f"{err.reason}: ", 1)[-1]
        return cls(file, line, err.field, err.reason, msg)


@dataclass
class IngestSummary:
    """Counts of one run, plus every rejection with file, line and field.

    ``records_read`` counts every non-blank line / row / span met; each ends up in
    exactly one of ``ingested``, ``duplicates`` or ``rejected`` (a rejection that is
    not a record, such as a truncated gzip stream, is counted in ``rejected`` but
    not in ``records_read``). ``neutralised`` counts records kept after repair
    (invalid UTF-8 replaced), by reason.
    """

    files: list[str] = field(default_factory=list)
    formats: Counter[str] = field(default_factory=Counter)
    records_read: int = 0
    ingested: int = 0
    duplicates: int = 0
    accounts_upserted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    neutralised: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    bytes_read: int = 0

    @property
    def n_rejected(self) -> int:
        """Total rejections over all reasons."""
        return sum(self.rejected.values())

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return self.n_rejected == 0

    def reject(self, rejection: Rejection) -> None:
        """Count a rejection and keep its detail (up to MAX_KEPT_REJECTIONS)."""
        self.rejected[rejection.reason] += 1
        if len(self.rejections) < MAX_KEPT_REJECTIONS:
            self.rejections.append(rejection)

    def merge(self, other: IngestSummary) -> None:
        """Add another summary's counts and rejections to this one."""
        self.files.extend(other.files)
        self.formats.update(other.formats)
        self.records_read += other.records_read
        self.ingested += other.ingested
        self.duplicates += other.duplicates
        self.accounts_upserted += other.accounts_upserted
        self.neutralised.update(other.neutralised)
        self.bytes_read += other.bytes_read
        for r in other.rejections:
            self.reject(r)
        extra = other.rejected - Counter(r.reason for r in other.rejections)
        self.rejected.update(extra)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view (counts and the first rejections)."""
        return {
            "files": len(self.files),
            "formats": dict(self.formats),
            "records_read": self.records_read,
            "ingested": self.ingested,
            "duplicates_skipped": self.duplicates,
            "rejected": dict(self.rejected),
            "neutralised": dict(self.neutralised),
            "accounts_upserted": self.accounts_upserted,
            "rejections": [str(r) for r in self.rejections[:1000]],
        }
