"""The template vocabulary: which template keys a corpus shows to be templates.

Every prompt has three template keys (hashes of its skeleton's frame, head and tail; see
:mod:`distillguard.signals.template`). A key shared by at least :data:`MIN_SUPPORT`
distinct prompts is a template. Near-duplicate templates (the same instructions with a
word changed, a common evasion) are merged: the key texts are MinHashed (words and
word pairs; vectorised numpy MinHash) and banded (LSH); keys that share a band and whose
estimated Jaccard similarity passes :data:`MERGE_THRESHOLD` join one cluster, named by
its best-supported key. Learned in batch by :func:`distillguard.signals.materialise`, saved in the store
(table ``template_vocabulary``) and loaded by the online path, so one exchange gets
the same ``template_id`` in both.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..store import Store

__all__ = ["MERGE_THRESHOLD", "MIN_SUPPORT", "NUM_PERM", "TemplateVocabulary"]

#: Distinct prompts that must share a key before it counts as a template.
MIN_SUPPORT = 8

#: Estimated Jaccard similarity (words + word pairs) above which two templates merge.
MERGE_THRESHOLD = 0.6

#: LSH bands and rows per band (``NUM_PERM = BANDS * ROWS``); candidate pairs share a
#: band, then the signature agreement must reach the threshold.
BANDS = 15
ROWS = 4

#: MinHash permutations.
NUM_PERM = BANDS * ROWS

_PRIME = (1 << 31) - 1


def _shingles(text: str) -> list[int]:
    """Words and word pairs (CRC-32 each): one word changed in an 8-token key keeps the
    Jaccard similarity near 0.67."""
    words = text.split(" ")
    grams = set(words) | {" ".join(words[i : i + 2]) for i in range(len(words) - 1)}
    return [zlib.crc32(g.encode()) for g in grams]


def _minhash(shingle_sets: list[list[int]]) -> np.ndarray:
    """MinHash signatures, one row per set: ``(a*h + b) mod p`` minimised per permutation."""
    rng = np.random.default_rng(20_260_301)
    a = rng.integers(1, _PRIME, NUM_PERM, dtype=np.uint64)
    b = rng.integers(0, _PRIME, NUM_PERM, dtype=np.uint64)
    lengths = np.array([max(1, len(s)) for s in shingle_sets])
    flat = np.array([h for s in shingle_sets for h in (s or [0])], dtype=np.uint64) % np.uint64(
        _PRIME
    )
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    sig = np.empty((len(shingle_sets), NUM_PERM), dtype=np.uint64)
    for k in range(NUM_PERM):
        perm = (a[k] * flat + b[k]) % np.uint64(_PRIME)
        sig[:, k] = np.minimum.reduceat(perm, starts)
    return sig


class TemplateVocabulary:
    """Supported template keys, their texts and the near-duplicate cluster of each."""

    TABLE = "template_vocabulary"

    def __init__(
        self,
        support: dict[str, int] | None = None,
        *,
        canonical: dict[str, str] | None = None,
        texts: dict[str, str] | None = None,
    ) -> None:
        self.support: dict[str, int] = dict(support or {})
        self.canonical: dict[str, str] = dict(canonical or {})
        self.texts: dict[str, str] = dict(texts or {})

    def __len__(self) -> int:
        return len(self.support)

    # ------------------------------------------------------------------ resolve
    def resolve_one(
        self, frame: str | None, head: str | None, tail: str | None
    ) -> tuple[str | None, bool]:
        """:meth:`resolve` for one exchange."""
        sup = self.support
        f, h, t = sup.get(frame or "", 0), sup.get(head or "", 0), sup.get(tail or "", 0)
        side_sup = max(h, t)
        if side_sup > f and side_sup >= MIN_SUPPORT:
            key = head if h >= t else tail
            templated = True
        else:
            key, templated = frame, f >= MIN_SUPPORT
        if key is None:
            return None, False
        return self.canonical.get(key, key), templated

    def resolve(self, frame: pa.Array, head: pa.Array, tail: pa.Array) -> tuple[pa.Array, pa.Array]:
        """Template id per row: the best-supported of frame, head and tail (ties: frame,
        then head; the frame when none is a template), named by its cluster; and whether
        that key is a template of the corpus."""
        if not self.support:
            return frame, pa.array(np.zeros(len(frame), dtype=bool))
        keys = pa.array(list(self.support), pa.string())
        counts = pa.array(list(self.support.values()), pa.int64())

        def sup(arr: pa.Array) -> pa.Array:
            return pc.fill_null(counts.take(pc.index_in(arr, value_set=keys)), 0)

        f, h, t = sup(frame), sup(head), sup(tail)
        side = pc.if_else(pc.greater_equal(h, t), head, tail)
        side_sup = pc.max_element_wise(h, t)
        use_side = pc.and_(pc.greater(side_sup, f), pc.greater_equal(side_sup, MIN_SUPPORT))
        templated = pc.and_(pc.or_(use_side, pc.greater_equal(f, MIN_SUPPORT)), pc.is_valid(frame))
        return self.rename(pc.if_else(use_side, side, frame)), templated

    def rename(self, ids: pa.Array) -> pa.Array:
        """Replace each key by its cluster's name."""
        moved = {k: v for k, v in self.canonical.items() if k != v}
        if not moved:
            return ids
        src = pa.array(list(moved), pa.string())
        dst = pa.array(list(moved.values()), pa.string())
        pos = pc.index_in(ids, value_set=src)
        return pc.if_else(pc.is_valid(pos), dst.take(pos), ids)

    # ------------------------------------------------------------------ learn
    @classmethod
    def learn(
        cls,
        store: Store,
        table: str,
        key_texts: Callable[[Iterable[str]], dict[str, str]] | None = None,
    ) -> TemplateVocabulary:
        """Supported keys of ``table`` (``template_frame/head/tail`` + ``prompt_hash``).

        ``key_texts(exchange_ids)`` returns ``{key hash: key text}`` for the keys of those
        exchanges; with it, near-duplicate templates are merged (:meth:`merge`).
        """
        rows = store.query(
            f"""SELECT key, count(DISTINCT prompt_hash) AS n, min(exchange_id) AS example
                FROM (SELECT template_frame AS key, prompt_hash, exchange_id FROM {table}
                      UNION ALL SELECT template_head, prompt_hash, exchange_id FROM {table}
                      UNION ALL SELECT template_tail, prompt_hash, exchange_id FROM {table})
                WHERE key IS NOT NULL GROUP BY key
                HAVING count(DISTINCT prompt_hash) >= ?""",
            [MIN_SUPPORT],
        )
        keys = rows.column("key").to_pylist()
        vocab = cls(dict(zip(keys, rows.column("n").to_pylist(), strict=True)))
        if key_texts is not None and keys:
            found = key_texts(sorted(set(rows.column("example").to_pylist())))
            vocab.texts = {k: found[k] for k in keys if k in found}
            vocab.merge()
        return vocab

    def merge(self, threshold: float = MERGE_THRESHOLD) -> None:
        """Cluster near-duplicate key texts (vectorised MinHash + LSH bands, verified by
        the estimated Jaccard similarity); name each cluster by its best-supported key."""
        keys = sorted(self.texts)
        self.canonical = {}
        if not keys:
            return
        sig = _minhash([_shingles(self.texts[k]) for k in keys])
        parent = list(range(len(keys)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for band in range(BANDS):
            cols = sig[:, band * ROWS : (band + 1) * ROWS]
            _, first, inverse = np.unique(cols, axis=0, return_index=True, return_inverse=True)
            head = first[inverse.ravel()]
            for row in np.flatnonzero(head != np.arange(len(keys))).tolist():
                j = int(head[row])
                if (sig[row] == sig[j]).mean() >= threshold:
                    a, b = find(row), find(j)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
        groups: dict[int, list[str]] = {}
        for pos, k in enumerate(keys):
            groups.setdefault(find(pos), []).append(k)
        for members in groups.values():
            best = max(members, key=lambda m: (self.support.get(m, 0), -int(m, 16)))
            for m in members:
                self.canonical[m] = best

    # ------------------------------------------------------------------ persist
    def save(self, store: Store) -> None:
        """Replace the vocabulary table in ``store``."""
        keys = list(self.support)
        tbl = pa.table(
            {
                "key": pa.array(keys, pa.string()),
                "support": pa.array([self.support[k] for k in keys], pa.int64()),
                "canonical": pa.array([self.canonical.get(k, k) for k in keys], pa.string()),
                "text": pa.array([self.texts.get(k) for k in keys], pa.string()),
            }
        )
        store.con.register("_tv", tbl)
        try:
            store.con.execute(f"CREATE OR REPLACE TABLE {self.TABLE} AS SELECT * FROM _tv")
        finally:
            store.con.unregister("_tv")

    @classmethod
    def load(cls, store: Store) -> TemplateVocabulary:
        """The vocabulary saved in ``store`` (empty when none)."""
        try:
            tbl = store.query(f"SELECT * FROM {cls.TABLE}")
        except duckdb.CatalogException:  # nothing learned yet
            return cls()
        keys = tbl.column("key").to_pylist()
        support = dict(zip(keys, tbl.column("support").to_pylist(), strict=True))
        canon = tbl.column("canonical").to_pylist() if "canonical" in tbl.column_names else keys
        texts = tbl.column("text").to_pylist() if "text" in tbl.column_names else [None] * len(keys)
        return cls(
            support,
            canonical=dict(zip(keys, canon, strict=True)),
            texts={k: t for k, t in zip(keys, texts, strict=True) if t is not None},
        )

    def clusters(self) -> dict[str, list[str]]:
        """Cluster name -> member keys (only clusters with more than one key)."""
        out: dict[str, list[str]] = {}
        for k, c in self.canonical.items():
            out.setdefault(c, []).append(k)
        return {c: sorted(m) for c, m in out.items() if len(m) > 1}
