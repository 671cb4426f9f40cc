"""Request-time signals with bounded caches for what repeats from request to request.

:class:`RequestSignals` gives, for one native record, exactly the values of
:func:`distillguard.signals.signals_for_exchange` (the batch definitions) over the
detectors of its :class:`~distillguard.signals.SignalContext`, but a decision service
sees the same few client fingerprints, request shapes and system prompts millions of
times, so their parts are kept in LRU caches of bounded size:

* the client fingerprint, per user agent and SDK header set;
* the request shape (model family, output cap, turns, ``shape_fp``), per the request
  knobs it reads plus the system prompt's hash (the template detector's
  ``system_hash``, the only way the shape sees the system prompt);
* the template fields, per prompt and system prompt when both together are short
  (repeated prompts: retries, canned prompts, evaluation harnesses; a long text is
  never kept); the cache is emptied when the template vocabulary changes.

Address enrichment is cached by the enricher itself (per distinct address). Detectors
other than the template and shape detectors run uncached, through the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..ingest._fields import clean, clean_row
from ..ingest.native import native_row
from ..signals import SignalContext
from ..signals.pipeline import PASSTHROUGH, _utc_ms
from ..signals.registry import Registry, RowText
from ..signals.shape import ShapeDetector
from ..signals.template import TemplateDetector

__all__ = ["SHAPE_INPUTS", "RequestSignals"]

#: Canonical columns the shape detector reads; the system prompt it reads as its hash.
SHAPE_INPUTS = (
    "model",
    "max_tokens",
    "n_choices",
    "tools_hash",
    "n_user_turns",
    "temperature",
    "thinking_budget",
    "reasoning_effort",
    "response_format",
    "logprobs",
    "stream",
)
#: Prompt plus system prompt lengths up to which the template fields are cached.
TEMPLATE_CACHE_CHARS = 4096
#: Canonical columns the address, client, template and shape signals read: the only
#: ones cleaned of control characters when no other detector runs.
READ_COLUMNS = tuple(
    dict.fromkeys(
        (
            *PASSTHROUGH,
            "client_ip",
            "user_agent",
            "client_headers",
            "last_user_text",
            "system_text",
            *SHAPE_INPUTS,
        )
    )
)


class RequestSignals:
    """Native record -> per-exchange signals (a ``SignalFn``), cached where values repeat."""

    def __init__(self, sctx: SignalContext, *, cache_size: int = 16_384) -> None:
        self.sctx = sctx
        self.names = sctx.field_names
        dets = list(sctx.registry)
        self._template = next((d for d in dets if isinstance(d, TemplateDetector)), None)
        self._shape = next((d for d in dets if isinstance(d, ShapeDetector)), None)
        rest = [d for d in dets if d is not self._template and d is not self._shape]
        self._rest = Registry(rest) if rest else None
        self._vocab_stamp: tuple[int, int] | None = None
        self._client: Callable[[str | None, str | None], dict[str, Any]] = lru_cache(
            maxsize=cache_size // 4
        )(sctx.client.fingerprint_one)
        self._shape_of = _Lru(cache_size)
        self._template_of: Callable[[str | None, str | None], dict[str, Any]] = lru_cache(
            maxsize=cache_size // 4
        )(self._template_uncached)

    # ------------------------------------------------------------------ parts
    def _shape_fields(self, row: dict[str, Any], system_hash: str | None) -> dict[str, Any]:
        assert self._shape is not None
        key = (*(row.get(k) for k in SHAPE_INPUTS), system_hash)
        try:
            hit = self._shape_of.get(key)
        except TypeError:  # an unhashable knob: computed, not kept
            return self._shape.analyze_one(RowText(row))
        if hit is None:
            hit = self._shape.analyze_one(RowText(row))
            self._shape_of.put(key, hit)
        return hit

    def _template_uncached(self, prompt: str | None, system: str | None) -> dict[str, Any]:
        assert self._template is not None
        return self._template.analyze_one(
            RowText({"last_user_text": prompt, "system_text": system})
        )

    def _check_vocabulary(self) -> None:
        """Forget cached template fields when the template vocabulary was replaced."""
        if self._template is None:
            return
        vocab = self._template.vocabulary
        stamp = (id(vocab.support), len(vocab.support))
        if stamp != self._vocab_stamp:
            self._template_of.cache_clear()  # type: ignore[attr-defined]
            self._vocab_stamp = stamp

    def cache_info(self) -> dict[str, Any]:
        """Hits, misses and sizes of the caches."""
        info = {
            name: fn.cache_info()._asdict()  # type: ignore[attr-defined]
            for name, fn in (("client", self._client), ("template", self._template_of))
        }
        info["shape"] = self._shape_of.info()
        return info

    # ------------------------------------------------------------------ call
    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        """The signals of one native record (the values of ``signals_for_exchange``).

        The record is normalised as :func:`~distillguard.ingest.normalize_native` does
        (same validation and errors); only the columns the signals read are cleaned of
        control characters unless other detectors (which may read any text) run.
        """
        row = native_row(record)
        if self._rest is not None:
            return self.from_row(clean_row(row))
        for k in READ_COLUMNS:
            v = row[k]
            if isinstance(v, str):
                row[k] = clean(v)
            elif isinstance(v, list):
                row[k] = [clean(x) if isinstance(x, str) else x for x in v]
        return self.from_row(row)

    def from_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """The signals of one canonical exchange row."""
        sctx = self.sctx
        out: dict[str, Any] = {n: row.get(n) for n in PASSTHROUGH}
        out["timestamp"] = _utc_ms(out["timestamp"])
        out.update(sctx.ip.enrich_one(row.get("client_ip")))
        out.update(self._client(row.get("user_agent"), row.get("client_headers")))
        if self._template is not None:
            self._check_vocabulary()
            prompt, system = row.get("last_user_text"), row.get("system_text")
            size = (len(prompt) if prompt else 0) + (len(system) if system else 0)
            if size <= TEMPLATE_CACHE_CHARS:
                out.update(self._template_of(prompt, system))
            else:
                out.update(self._template_uncached(prompt, system))
            if self._shape is not None:
                out.update(self._shape_fields(row, out["system_hash"]))
        elif self._shape is not None:
            out.update(self._shape.analyze_one(RowText(row)))
        if self._rest is not None:
            out.update(self._rest.analyze_one(row))
        return {name: out[name] for name in self.names}


class _Lru:
    """A bounded least-recently-used map (oldest entry dropped when full)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: dict[Any, Any] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Any) -> Any:
        """The value, refreshed as most recent; ``None`` when absent."""
        data = self.data
        hit = data.pop(key, None)
        if hit is None:
            self.misses += 1
            return None
        data[key] = hit
        self.hits += 1
        return hit

    def put(self, key: Any, value: Any) -> None:
        """Keep ``value``; drops the least recently used entry when full."""
        data = self.data
        if len(data) >= self.size:
            del data[next(iter(data))]
        data[key] = value

    def info(self) -> dict[str, int]:
        """Hits, misses, entries and the bound."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "currsize": len(self.data),
            "maxsize": self.size,
        }
