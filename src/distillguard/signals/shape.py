"""Request-shape fingerprint: how the request was configured, not what it asked.

A harvesting rig sends every request with the same knobs (model family, output cap,
``n``, tool set, turn count, system prompt, temperature, thinking / reasoning settings,
response format); ordinary users vary them. The bucketed knobs are joined into
``shape_key`` and hashed into ``shape_fp``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._hashing import hash_distinct
from .registry import ExchangeView
from .template import system_hashes

__all__ = ["ShapeDetector", "model_family"]

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


def _turns_bucket(turns: np.ndarray) -> np.ndarray:
    return np.select([turns <= 1, turns == 2, turns <= 4, turns <= 8], [1, 2, 4, 8], 16)


class ShapeDetector:
    """Writes the model family, bucketed knobs and the request-shape fingerprint."""

    name = "shape"
    fields: dict[str, tuple[pa.DataType, str]] = {  # noqa: RUF012
        "model_family": (pa.string(), "Requested model without date/version suffix."),
        "max_tokens_bucket": (pa.int64(), "Output cap rounded up to a power of two (0: none)."),
        "turns_bucket": (pa.int32(), "User turns bucketed: 1, 2, 4 (3-4), 8 (5-8), 16 (9+)."),
        "shape_key": (
            pa.string(),
            "Readable request shape: family|max_tokens bucket|n|tools hash|turns bucket|"
            "system hash|temperature|thinking bucket|effort|response format|logprobs|stream.",
        ),
        "shape_fp": (pa.string(), "Hash of shape_key."),
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
        temp = pc.round(b.column("temperature"), 2)

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
            "shape_key": key,
            "shape_fp": hash_distinct(key),
        }
