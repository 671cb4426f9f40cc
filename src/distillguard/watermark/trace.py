"""Trace: does a suspect model's output (or a published data set) carry our watermarks?

:func:`trace_texts` pools a suspect's answers and tests each watermark with an exact
one-sided binomial test, reporting the p-value, the units it rests on (distinct lexical
slots, distinct token pairs), and what it would take to become conclusive: the number of
units that, at the observed effect size, would give ``p < conclusive_p``.

The reporting threshold ``alpha`` (default 1e-4) is shared across the watermarks tested
(Bonferroni), so the chance that unmarked text is reported is at most ``alpha``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from scipy.stats import binom

from ..errors import InputError
from .lexical import MAX_TEXT_CHARS, LexicalKey, detect_texts

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_CONCLUSIVE_P",
    "TEXT_FIELD",
    "TraceReport",
    "WatermarkEvidence",
    "read_answers",
    "trace_texts",
    "units_needed",
]

DEFAULT_ALPHA = 1e-4
DEFAULT_CONCLUSIVE_P = 1e-6
#: The JSON Lines field that holds one answer.
TEXT_FIELD = "text"
_MAX_FILE_BYTES = 512 * 1024 * 1024


def units_needed(rate: float, null_rate: float, target_p: float) -> int | None:
    """Fewest scored units at which the observed ``rate`` would give ``p < target_p``.

    ``None`` when ``rate`` is not above ``null_rate`` (more data would not help).
    """
    if not rate > null_rate:
        return None

    def p_at(n: int) -> float:
        k = math.ceil(rate * n - 1e-9)
        return float(binom.sf(k - 1, n, null_rate))

    hi = 1
    while p_at(hi) >= target_p:
        hi *= 2
        if hi > 1 << 40:
            return None
    lo = hi // 2
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if p_at(mid) < target_p:
            hi = mid
        else:
            lo = mid
    return hi


@dataclass(frozen=True, slots=True)
class WatermarkEvidence:
    """The test of one watermark on the pooled answers."""

    watermark: str
    unit: str
    scored: int
    agreeing: int
    null_rate: float
    p_value: float
    reported: bool
    conclusive: bool
    units_needed: int | None
    note: str

    @property
    def rate(self) -> float:
        """Observed share of agreeing units."""
        return self.agreeing / self.scored if self.scored else 0.0


@dataclass
class TraceReport:
    """All evidence about one suspect, with the thresholds it was judged by."""

    answers: int
    alpha: float
    conclusive_p: float
    evidence: list[WatermarkEvidence] = field(default_factory=list)

    @property
    def reported(self) -> bool:
        """True when any watermark is significant at the shared ``alpha``."""
        return any(e.reported for e in self.evidence)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "answers": self.answers,
            "alpha": self.alpha,
            "conclusive_p": self.conclusive_p,
            "reported": self.reported,
            "evidence": [asdict(e) | {"rate": e.rate} for e in self.evidence],
        }


def _judge(
    name: str,
    unit: str,
    scored: int,
    agreeing: int,
    null_rate: float,
    p: float,
    alpha: float,
    conclusive_p: float,
) -> WatermarkEvidence:
    rate = agreeing / scored if scored else 0.0
    need = units_needed(rate, null_rate, conclusive_p) if scored else None
    if p < conclusive_p:
        note = f"conclusive: p={p:.2e} < {conclusive_p:g} on {scored} {unit}"
    elif need is None:
        note = (
            f"no sign of this watermark: {agreeing}/{scored} {unit} agree "
            f"(expected {null_rate:.0%} without it)"
        )
    else:
        note = (
            f"at the observed rate {rate:.1%} (vs {null_rate:.0%}) about {need} {unit} "
            f"would give p < {conclusive_p:g}; {scored} scored so far"
        )
    return WatermarkEvidence(
        name, unit, scored, agreeing, null_rate, p, p < alpha, p < conclusive_p, need, note
    )


def trace_texts(
    texts: Sequence[str],
    key: str,
    *,
    greenlist: Any | None = None,
    synthid: Any | None = None,
    alpha: float = DEFAULT_ALPHA,
    conclusive_p: float = DEFAULT_CONCLUSIVE_P,
) -> TraceReport:
    """Test ``texts`` for the lexical watermark and, given ``greenlist``, the generation one.

    ``greenlist`` is a ``(GreenListDetector, encode)`` pair: the detector keyed with the
    same secret and the tokenizer's ``encode`` (see :mod:`.generation`); ``synthid`` is a
    ``(SynthIDDetector, encode)`` pair (see :mod:`.synthid`).
    """
    if not texts:
        raise InputError("no answers", "there is nothing to trace")
    tests = 1 + (greenlist is not None) + (synthid is not None)
    per_test = alpha / tests
    lex = detect_texts(texts, LexicalKey(key))
    report = TraceReport(answers=len(texts), alpha=alpha, conclusive_p=conclusive_p)
    report.evidence.append(
        _judge(
            "lexical",
            "slots",
            lex.slots,
            lex.agreeing,
            lex.null_rate,
            lex.p_value,
            per_test,
            conclusive_p,
        )
    )
    for method, unit, pair in (
        ("greenlist", "token pairs", greenlist),
        ("synthid", "g-value positions", synthid),
    ):
        if pair is None:
            continue
        detector, encode = pair
        ev = detector.score_pooled([encode(t) for t in texts])
        report.evidence.append(
            _judge(
                method, unit, ev.scored, ev.green, ev.null_rate, ev.p_value, per_test, conclusive_p
            )
        )
    return report


def _iter_jsonl(path: Path, raw: bytes, text_field: str) -> Iterator[str]:
    for line_no, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError("bad JSON", str(exc), file=str(path), line=line_no) from exc
        value = record.get(text_field) if isinstance(record, dict) else None
        if not isinstance(value, str):
            raise InputError(
                "missing answer",
                f"expected a string field {text_field!r}",
                file=str(path),
                line=line_no,
                field=text_field,
            )
        if len(value) > MAX_TEXT_CHARS:
            raise InputError(
                "text too large",
                f"{len(value):,} characters (limit {MAX_TEXT_CHARS:,})",
                file=str(path),
                line=line_no,
                field=text_field,
            )
        yield value


def read_answers(path: Path, *, text_field: str = TEXT_FIELD) -> list[str]:
    """Answers in ``path``: JSON Lines (one answer per line in ``text_field``) or plain text.

    A file whose first non-blank character is ``{`` is read as JSON Lines; any other
    file is one answer. Binary, empty and oversized files are errors naming the file.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError("unreadable", str(exc), file=str(path)) from exc
    if size > _MAX_FILE_BYTES:
        raise InputError("file too large", f"{size:,} bytes", file=str(path))
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise InputError("binary input", "file contains NUL bytes", file=str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("binary input", f"not UTF-8 at byte {exc.start}", file=str(path)) from exc
    if not text.strip():
        raise InputError("no answers", "the file is empty", file=str(path))
    if text.lstrip().startswith("{"):
        return list(_iter_jsonl(path, raw, text_field))
    if len(text) > MAX_TEXT_CHARS:
        raise InputError("text too large", f"{len(text):,} characters", file=str(path))
    return [text]
