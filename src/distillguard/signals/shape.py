"""Request-shape fingerprint: how the request was configured, not what it asked.

A harvesting rig sends every request with the same knobs (model family, output cap,
``n``, tool set, turn count, system prompt, temperature, thinking / reasoning settings,
response format); ordinary users vary them. The bucketed knobs are joined into a
readable key (:meth:`ShapeDetector.shape_key`) and hashed into ``shape_fp``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._hashing import hash_distinct, hash_one
from .registry import ExchangeView, RowText, compiled, lower
from .template import system_hash_one, system_hashes

__all__ = ["ShapeDetector", "model_family", "model_family_one"]

#: Version / date suffixes stripped to get a model family.
_MODEL_SUFFIX = r"(-latest|[-@_]?(20\d{2}-?\d{2}-?\d{2}|\d{4})|-v\d+(:\d+)?|-preview)+$"


def model_family(models: pa.Array) -> pa.Array:
    """Model names without date / version suffixes, lower-cased."""
    return pc.replace_substring_regex(pc.utf8_lower(models), _MODEL_SUFFIX, "")


def _pow2_bucket(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Upper power of two of positive values (``0`` for absent)."""
    v = np.where(present & (values > 0), values, 1).astype(np.float64)
    b = np.exp2(np.ceil(np.log2(v))).astype(np.int64)
    return np.where(present, b, 0)


def _pow2_one(value: float | int | None) -> int:
    if value is None:
        return 0
    v = float(value) if value > 0 else 1.0
    return int(np.exp2(np.ceil(np.log2(np.array([v]))))[0])


def model_family_one(model: str | None) -> str | None:
    """:func:`model_family` for one model name."""
    return None if model is None else compiled(_MODEL_SUFFIX).sub("", lower(model))


def _turns_one(turns: int | None) -> int:
    t = turns or 1
    return 1 if t <= 1 else 2 if t == 2 else 4 if t <= 4 else 8 if t <= 8 else 16


def _shape_key_one(text: RowText) -> str:
    row = text.row
    temp = row.get("temperature")

    def s(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    return "|".join(
        s(v)
        for v in (
            model_family_one(row.get("model")),
            _pow2_one(row.get("max_tokens")),
            row.get("n_choices"),
            row.get("tools_hash"),
            _turns_one(row.get("n_user_turns")),
            system_hash_one(text),
            None if temp is None else round(temp * 100.0),
            _pow2_one(row.get("thinking_budget")),
            row.get("reasoning_effort"),
            row.get("response_format"),
            row.get("logprobs"),
            row.get("stream"),
        )
    )


def _turns_bucket(turns: np.ndarray) -> np.ndarray:
    return np.select([turns <= 1, turns == 2, turns <= 4, turns <= 8], [1, 2, 4, 8], 16)


class ShapeDetector:
    """Writes the model family, bucketed knobs and the request-shape fingerprint."""

    name = "shape"
    fields: dict[str, tuple[pa.DataType, str]] = {  # noqa: RUF012
        "model_family": (pa.string(), "Requested model without date/version suffix."),
        "max_tokens_bucket": (pa.int64(), "Output cap rounded up to a power of two (0: none)."),
        "turns_bucket": (pa.int32(), "User turns bucketed: 1, 2, 4 (3-4), 8 (5-8), 16 (9+)."),
        "shape_fp": (
            pa.string(),
            "Hash of the request shape: family|max_tokens bucket|n|tools hash|turns bucket|"
            "system hash|temperature x100|thinking bucket|effort|response format|logprobs|"
            "stream (see ShapeDetector.shape_key).",
        ),
    }

    @staticmethod
    def shape_key(row: dict[str, Any]) -> str:
        """The readable request shape of one exchange (what ``shape_fp`` hashes)."""
        return _shape_key_one(RowText(row))

    def analyze_one(self, text: RowText) -> dict[str, Any]:
        """Fingerprint one exchange; same answer as :meth:`analyze`."""
        row = text.row
        return {
            "model_family": model_family_one(row.get("model")),
            "max_tokens_bucket": _pow2_one(row.get("max_tokens")),
            "turns_bucket": _turns_one(row.get("n_user_turns")),
            "shape_fp": hash_one(_shape_key_one(text)),
        }

    def analyze(self, view: ExchangeView) -> dict[str, pa.Array]:
        """Fingerprint the batch."""
        b = view.batch
        system_hash = system_hashes(view)
        fam = model_family(b.column("model"))
        mt = b.column("max_tokens")
        mtb = _pow2_bucket(
            view.numeric("max_tokens"), pc.is_valid(mt).to_numpy(zero_copy_only=False)
        )
        tb = _turns_bucket(view.numeric("n_user_turns", 1)).astype(np.int32)
        th = b.column("thinking_budget")
        thb = _pow2_bucket(
            view.numeric("thinking_budget"), pc.is_valid(th).to_numpy(zero_copy_only=False)
        )
        temp = pc.cast(pc.round(pc.multiply(b.column("temperature"), 100.0)), pa.int64())

        def s(arr: pa.Array) -> pa.Array:
            return pc.fill_null(arr.cast(pa.string()), "-")

        key = pc.binary_join_element_wise(
            s(fam),
            s(pa.array(mtb)),
            s(b.column("n_choices")),
            s(b.column("tools_hash")),
            s(pa.array(tb)),
            s(system_hash),
            s(temp),
            s(pa.array(thb)),
            s(b.column("reasoning_effort")),
            s(b.column("response_format")),
            s(b.column("logprobs")),
            s(b.column("stream")),
            "|",
        )
        return {
            "model_family": fam,
            "max_tokens_bucket": pa.array(mtb),
            "turns_bucket": pa.array(tb),
            "shape_fp": hash_distinct(key),
        }
