"""Pluggable per-exchange detectors (the presidio recognizer pattern).

A detector is a small object with a ``name``, the ``fields`` it writes (name -> Arrow
type and meaning) and ``analyze(view) -> {field: array}``. It reads an
:class:`ExchangeView`: the record batch plus the *distinct* prompt texts, prepared
once per batch (lower-cased, cut to :data:`SCAN_CHARS`), so that every regex runs once
per distinct text, vectorised by Arrow's RE2 kernels. Each detector also explains
itself as data: a ``*_cues`` column of rule ids that fired.

Rules are data too (:class:`Rule`): an id, an RE2 pattern over lower-cased text, a
weight and the text it reads. Users add detectors with :meth:`Registry.register`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import re2

__all__ = [
    "SCAN_CHARS",
    "Detector",
    "ExchangeView",
    "Registry",
    "RowText",
    "Rule",
    "compiled",
    "join_cues",
    "lower",
    "match_rules",
    "match_rules_one",
    "rule_set",
]

#: Characters of each prompt that text rules read (head of the text; bounds cost).
SCAN_CHARS = 4_000


@dataclass(frozen=True)
class Rule:
    """One weighted pattern: fires when ``pattern`` (RE2, lower-case text) matches."""

    id: str
    pattern: str
    weight: float = 1.0
    field: str = "prompt"  # "prompt" (last user turn) or "system"


class ExchangeView:
    """A record batch prepared for detectors: distinct texts, lower-cased, with indices.

    ``prompt_text`` / ``system_text`` hold the distinct texts, lower-cased and cut to
    :data:`SCAN_CHARS` (``prompt_raw`` / ``system_raw`` as sent); ``prompt_index`` /
    ``system_index`` map each row to its text (null for none or redacted).
    """

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch
        self.num_rows = batch.num_rows
        self.prompt_raw, self.prompt_text, self.prompt_index = _distinct_lower(
            batch.column("last_user_text")
        )
        self.system_raw, self.system_text, self.system_index = _distinct_lower(
            batch.column("system_text")
        )
        #: Intermediate results detectors share within this batch (e.g. ``system_hash``).
        self.derived: dict[str, pa.Array] = {}
        self._hits: dict[str, dict[str, np.ndarray]] = {}
        self.has_prompt = pc.is_valid(batch.column("last_user_text")).to_numpy(zero_copy_only=False)

    def prefetch(self, rules: Sequence[Rule]) -> None:
        """Match these rules in one pass per field now (detectors then read the cache)."""
        for field in ("prompt", "system"):
            pats = [r.pattern for r in rules if r.field == field]
            if pats:
                self.pattern_hits(field, pats)

    def pattern_hits(self, field: str, patterns: Sequence[str]) -> dict[str, np.ndarray]:
        """Per-row booleans for RE2 ``patterns`` over the ``field`` texts (cached)."""
        cache = self._hits.setdefault(field, {})
        todo = sorted({p for p in patterns if p not in cache})
        if todo:
            texts, index = self.texts(field)
            n_text = len(texts)
            matrix = np.zeros((len(todo), n_text + 1), dtype=bool)  # last column: no text
            if n_text:
                match = rule_set(tuple(todo)).Match
                blobs = pc.cast(texts, pa.binary()).to_pylist()
                for j, blob in enumerate(blobs):
                    if blob is not None:
                        found = match(blob)
                        if found:
                            matrix[found, j] = True
            rows = pc.fill_null(index, n_text).to_numpy(zero_copy_only=False)
            for k, p in enumerate(todo):
                cache[p] = matrix[k, rows]
        return {p: cache[p] for p in patterns}

    def column(self, name: str) -> pa.Array:
        """A column of the underlying exchange batch."""
        return self.batch.column(name)

    def numeric(self, name: str, fill: float = 0) -> np.ndarray:
        """A numeric column as numpy, nulls filled."""
        return pc.fill_null(self.batch.column(name), fill).to_numpy(zero_copy_only=False)

    def flag(self, name: str) -> np.ndarray:
        """A boolean column as numpy, null = False."""
        return pc.fill_null(self.batch.column(name), False).to_numpy(zero_copy_only=False)

    def texts(self, field: str) -> tuple[pa.Array, pa.Array]:
        """``(distinct texts, row indices)`` for ``prompt`` or ``system``."""
        if field == "system":
            return self.system_text, self.system_index
        return self.prompt_text, self.prompt_index


def _distinct_lower(col: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array, pa.Array]:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    enc = pc.dictionary_encode(col)
    d = pc.utf8_lower(pc.utf8_slice_codeunits(enc.dictionary, 0, SCAN_CHARS))
    return enc.dictionary, d, enc.indices


def match_rules(view: ExchangeView, rules: Sequence[Rule]) -> dict[str, np.ndarray]:
    """Evaluate rules on the distinct texts; returns rule id -> boolean per row.

    All rules on one field run as one RE2 set: a single linear pass per distinct text
    finds every rule that matches (cached on the view, so detectors that share the
    registry's :meth:`ExchangeView.prefetch` share that pass).
    """
    out: dict[str, np.ndarray] = {}
    for field in ("prompt", "system"):
        mine = [r for r in rules if r.field == field]
        if not mine:
            continue
        hits = view.pattern_hits(field, [r.pattern for r in mine])
        for r in mine:
            out[r.id] = hits[r.pattern]
    return {r.id: out[r.id] for r in rules}


def join_cues(cues: dict[str, np.ndarray], n: int) -> pa.Array:
    """``;``-joined ids of the cues that fired per row (empty string when none)."""
    if not cues:
        return pa.array([""] * n, pa.string())
    empty = pa.scalar("", pa.string())
    parts = [
        pc.if_else(pa.array(mask), pa.scalar(cid, pa.string()), empty) for cid, mask in cues.items()
    ]
    joined = pc.binary_join_element_wise(*parts, ";") if len(parts) > 1 else parts[0]
    if len(parts) > 1:
        joined = pc.utf8_trim(pc.replace_substring_regex(joined, ";{2,}", ";"), ";")
    return joined


def lower(text: str) -> str:
    """Lower-case exactly like Arrow's ``utf8_lower`` (simple case mapping)."""
    return text.replace("\u0130", "i").lower()


@lru_cache(maxsize=1024)
def compiled(pattern: str) -> re.Pattern[str]:
    """A rewrite pattern (masks, folding) for Python's ``re`` with RE2's ASCII classes.

    Only for the simple, linear rewrite patterns; rule matching uses RE2 itself
    (:func:`rule_set`).
    """
    return re.compile(pattern, re.ASCII)


@lru_cache(maxsize=64)
def rule_set(patterns: tuple[str, ...]) -> Any:
    """All ``patterns`` in one RE2 set (``google-re2``): one linear pass finds every rule
    that matches, with the engine Arrow's kernels use, so one exchange matches exactly
    what the batch path matches."""
    opts = re2.Options()
    opts.max_mem = 64 << 20
    rs = re2.Set.SearchSet(opts)
    for p in patterns:
        rs.Add(p)
    rs.Compile()
    return rs._set  # the compiled set itself: Match(bytes) -> indices


class RowText:
    """One exchange's texts prepared like :class:`ExchangeView` prepares a batch's."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.prompt_raw: str | None = row.get("last_user_text")
        self.system_raw: str | None = row.get("system_text")
        self.prompt = None if self.prompt_raw is None else lower(self.prompt_raw[:SCAN_CHARS])
        self.system = None if self.system_raw is None else lower(self.system_raw[:SCAN_CHARS])
        #: Intermediate results detectors share for this row.
        self.derived: dict[str, Any] = {}

    def text(self, field: str) -> str | None:
        """Prepared text of ``prompt`` or ``system``."""
        return self.system if field == "system" else self.prompt


def match_rules_one(text: RowText, rules: Sequence[Rule]) -> dict[str, bool]:
    """:func:`match_rules` for one exchange (the same RE2 sets, one pass per field)."""
    out = dict.fromkeys((r.id for r in rules), False)
    for field in ("prompt", "system"):
        t = text.text(field)
        mine = [r for r in rules if r.field == field]
        if t is None or not mine:
            continue
        todo = sorted({r.pattern for r in mine})
        found = {
            todo[i] for i in (rule_set(tuple(todo)).Match(t.encode("utf-8", "surrogatepass")) or ())
        }
        for r in mine:
            out[r.id] = r.pattern in found
    return out


@runtime_checkable
class Detector(Protocol):
    """What every registered detector provides."""

    name: str
    fields: dict[str, tuple[pa.DataType, str]]

    def analyze(self, view: ExchangeView) -> dict[str, pa.Array]:
        """Return one array per entry of ``fields``, aligned with ``view.batch``."""
        ...


class Registry:
    """An ordered set of detectors; :meth:`analyze` runs them all over one view."""

    def __init__(self, detectors: Sequence[Detector] = ()) -> None:
        self._detectors: dict[str, Detector] = {}
        for d in detectors:
            self.register(d)

    def register(self, detector: Detector, *, replace: bool = False) -> None:
        """Add a detector; its name and field names must be new unless ``replace``."""
        if not isinstance(detector, Detector):
            raise TypeError(f"{detector!r} does not implement the Detector protocol")
        if detector.name in self._detectors and not replace:
            raise ValueError(f"detector {detector.name!r} already registered")
        taken = {f for n, d in self._detectors.items() if n != detector.name for f in d.fields}
        clash = taken & set(detector.fields)
        if clash:
            raise ValueError(f"detector {detector.name!r} redefines fields {sorted(clash)}")
        self._detectors[detector.name] = detector

    def __iter__(self) -> Iterator[Detector]:
        return iter(self._detectors.values())

    def __len__(self) -> int:
        return len(self._detectors)

    @property
    def names(self) -> list[str]:
        """Registered detector names, in run order."""
        return list(self._detectors)

    def fields(self) -> dict[str, tuple[pa.DataType, str]]:
        """All output fields of all detectors, in order."""
        return {k: v for d in self._detectors.values() for k, v in d.fields.items()}

    def analyze_one(self, row: dict[str, Any]) -> dict[str, Any]:
        """Run every detector on one exchange: their scalar path, else a one-row batch."""
        text = RowText(row)
        out: dict[str, Any] = {}
        batch_view: ExchangeView | None = None
        for d in self._detectors.values():
            one = getattr(d, "analyze_one", None)
            if one is not None:
                out.update(one(text))
                continue
            if batch_view is None:
                from ..schema import EXCHANGE_SCHEMA

                full = {n: row.get(n) for n in EXCHANGE_SCHEMA.names}
                batch_view = ExchangeView(
                    pa.RecordBatch.from_pylist([full], schema=EXCHANGE_SCHEMA)
                )
            for name, (typ, _doc) in d.fields.items():
                out[name] = d.analyze(batch_view)[name].cast(typ)[0].as_py()
        return out

    def analyze(self, view: ExchangeView) -> dict[str, pa.Array]:
        """Run every detector; returns all their columns."""
        out: dict[str, pa.Array] = {}
        view.prefetch([r for d in self._detectors.values() for r in getattr(d, "rules_used", ())])
        for d in self._detectors.values():
            cols = d.analyze(view)
            missing = set(d.fields) - set(cols)
            if missing:
                raise ValueError(f"detector {d.name!r} did not produce {sorted(missing)}")
            for name, (typ, _doc) in d.fields.items():
                out[name] = cols[name].cast(typ) if cols[name].type != typ else cols[name]
        return out
