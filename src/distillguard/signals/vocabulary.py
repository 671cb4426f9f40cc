"""The template vocabulary: which template keys a corpus shows to be templates.

Every prompt has three template keys (hashes of its skeleton's frame, head and tail; see
:mod:`distillguard.signals.template`). A key shared by at least :data:`MIN_SUPPORT`
distinct prompts is a template. Near-duplicate templates (the same instructions with a
word changed, a common evasion) are merged: the key texts are MinHashed (word
shingles, datasketch) and banded in an LSH index; keys whose estimated Jaccard
similarity passes :data:`MERGE_THRESHOLD` join one cluster, named by its best-supported
key. Learned in batch by :func:`distillguard.signals.materialise`, saved in the store
(table ``template_vocabulary``) and loaded by the online path, so one exchange gets
the same ``template_id`` in both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasketch import MinHash, MinHashLSH

from ..store import Store

__all__ = ["MERGE_THRESHOLD", "MIN_SUPPORT", "NUM_PERM", "TemplateVocabulary"]

#: Distinct prompts that must share a key before it counts as a template.
MIN_SUPPORT = 8

#: Estimated Jaccard similarity (words + word pairs) above which two templates merge.
MERGE_THRESHOLD = 0.6

#: MinHash permutations.
NUM_PERM = 64


def _shingles(text: str) -> set[bytes]:
    """Words and word pairs: one word changed in an 8-token key keeps Jaccard near 0.67."""
    words = text.split(" ")
    grams = set(words) | {" ".join(words[i : i + 2]) for i in range(len(words) - 1)}
    return {g.encode() for g in grams}


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
        """Cluster near-duplicate key texts (MinHash LSH); name each by its best key."""
        keys = sorted(self.texts)
        lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        sigs = {}
        for k in keys:
            mh = MinHash(num_perm=NUM_PERM, seed=1)
            mh.update_batch(list(_shingles(self.texts[k])))
            sigs[k] = mh
            lsh.insert(k, mh)
        parent = {k: k for k in keys}

        def find(k: str) -> str:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        for k in keys:
            for other in lsh.query(sigs[k]):
                a, b = find(k), find(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
        groups: dict[str, list[str]] = {}
        for k in keys:
            groups.setdefault(find(k), []).append(k)
        self.canonical = {}
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
