"""SynthID Text (transformers' ``SynthIDTextWatermarkingConfig``) keyed by the provider's
secret, with an exact frequentist detector (extra ``watermark``).

SynthID Text changes *sampling* (a tournament over candidate tokens scored by keyed
g-values), so it only acts when the answer is sampled, never under greedy decoding.
transformers ships a Bayesian detector that must be trained per key and model and
returns a score; :class:`SynthIDDetector` instead gives a p-value with no training:

Each scored position of a text has, for every tournament layer, a key derived from the
preceding ``ngram_len - 1`` tokens, the token and the layer key; the g-value is the bit
of a fixed random table (``sampling_table_size`` bits, seeded) at that key modulo the
table size. Without the watermark the table positions a text hits are, by the hash, a
uniform draw from the table, so counting the ones among the *distinct* positions hit is
hypergeometric (draws without replacement from a table whose number of ones is known).
Marked text hits ones more often. Repeated positions count once, so repeated n-grams
and hash collisions cannot inflate the evidence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from scipy.stats import hypergeom

from ..errors import InputError
from .generation import GenerationEvidence, _require_transformers

__all__ = ["SynthIDDetector", "synthid_config", "synthid_keys"]

_NGRAM = 5
_DEPTH = 16


def synthid_keys(secret: str | bytes, depth: int = _DEPTH) -> list[int]:
    """The ``depth`` tournament-layer keys derived from the provider's secret."""
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if not raw:
        raise InputError("empty key", "the watermark key must not be empty", field="key")
    stream = b""
    counter = 0
    while len(stream) < 2 * depth:
        stream += hashlib.sha256(
            b"distillguard/synthid/v1\x00" + raw + (counter.to_bytes(4, "big") if counter else b"")
        ).digest()
        counter += 1
    return [int.from_bytes(stream[i : i + 2], "big") for i in range(0, 2 * depth, 2)]


def synthid_config(secret: str | bytes, *, ngram_len: int = _NGRAM) -> Any:
    """A ``transformers.SynthIDTextWatermarkingConfig`` keyed by ``secret``."""
    _, transformers = _require_transformers()
    return transformers.SynthIDTextWatermarkingConfig(
        keys=synthid_keys(secret), ngram_len=ngram_len
    )


class SynthIDDetector:
    """Exact hypergeometric test on the g-values of SynthID Text (see the module doc)."""

    def __init__(self, secret: str | bytes, *, ngram_len: int = _NGRAM) -> None:
        torch, _ = _require_transformers()
        from transformers.generation.logits_process import SynthIDTextWatermarkLogitsProcessor

        cfg = synthid_config(secret, ngram_len=ngram_len)
        self._torch = torch
        self.ngram_len = ngram_len
        self._proc = SynthIDTextWatermarkLogitsProcessor(
            ngram_len=ngram_len,
            keys=list(cfg.keys),
            sampling_table_size=cfg.sampling_table_size,
            sampling_table_seed=cfg.sampling_table_seed,
            context_history_size=cfg.context_history_size,
            device=torch.device("cpu"),
        )
        self.table_size = int(cfg.sampling_table_size)
        self.table_ones = int(self._proc.sampling_table.sum())
        self.null_rate = self.table_ones / self.table_size

    def _positions(self, seq: Sequence[int]) -> list[int]:
        if len(seq) < self.ngram_len:
            return []
        ids = self._torch.tensor([list(seq)], dtype=self._torch.long)
        ngrams = ids.unfold(dimension=1, size=self.ngram_len, step=1)
        keys = self._proc.compute_ngram_keys(ngrams) % self.table_size
        return [int(k) for k in keys.flatten().tolist()]

    def score_pooled(self, sequences: Sequence[Sequence[int]]) -> GenerationEvidence:
        """One test over all sequences together (a table position hit twice counts once)."""
        hit: set[int] = set()
        for seq in sequences:
            hit.update(self._positions(seq))
        table = self._proc.sampling_table
        ones = int(table[list(hit)].sum()) if hit else 0
        n = len(hit)
        p = float(hypergeom.sf(ones - 1, self.table_size, self.table_ones, n)) if n else 1.0
        return GenerationEvidence(sum(len(s) for s in sequences), n, ones, self.null_rate, p)

    def score_many(self, sequences: Sequence[Sequence[int]]) -> list[GenerationEvidence]:
        """Evidence for each sequence on its own."""
        return [self.score_pooled([s]) for s in sequences]
