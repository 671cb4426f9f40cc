"""Template fingerprint: the prompt's structure with its filled-in slots masked.

Campaigns send one prompt template filled with many dataset items. The prompt is
normalised (code blocks, URLs, e-mail addresses, quoted strings, mid-sentence proper
names and numbers masked; case and whitespace folded) into a *skeleton*:

* ``template_frame`` / ``template_head`` / ``template_tail``: the skeleton's first
  and last :data:`FRAME_TOKENS` tokens together, the first alone and the last alone
  (each the whole skeleton when short);
* ``template_id``: the template: whichever of those keys the corpus shows shared by
  many distinct prompts (:class:`TemplateVocabulary`): a template with its slot in the
  middle keeps its frame, one with the slot at the end its head, one with the slot at
  the start its tail;
* ``prompt_hash``: the exact prompt (lower-cased, trimmed), for novelty: does an
  account ask each item once (a dataset sweep)?

All of it is computed once per distinct prompt with Arrow's RE2 kernels; the single
exchange path applies the same patterns with Python's ``re`` (ASCII classes, as RE2).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ._hashing import hash_distinct, hash_one
from .registry import ExchangeView, RowText, compiled, lower
from .vocabulary import MIN_SUPPORT, TemplateVocabulary

__all__ = [
    "FRAME_TOKENS",
    "MASKS",
    "MIN_SUPPORT",
    "TemplateDetector",
    "TemplateVocabulary",
    "fold",
    "key_texts",
    "skeleton_one",
    "skeletons",
    "system_hash_one",
    "system_hashes",
]

#: Tokens kept at each end of a long skeleton to form its frame.
FRAME_TOKENS = 8

#: Longest text (characters) the skeleton is built from.
SKELETON_CHARS = 8_000

#: Masks applied in order before lower-casing / after it: (pattern, replacement, after_lower).
MASKS: tuple[tuple[str, str, bool], ...] = (
    (
        r"(?s)```.*?(?:```|$)|https?://[^ \t\n\f\r]+|www\.[^ \t\n\f\r]+|[\w.+-]+@[\w-]+\.[\w.-]+"
        r"|\"[^\"\n]{0,200}\"|“[^”\n]{0,200}”|`[^`\n]{1,200}`",
        " <v> ",
        False,
    ),
    (r"([a-z0-9,;:] )[A-Z][\w'’-]*", r"\1<ent>", False),
    (r"\d+(?:[.,:/]\d+)*", "<n>", True),
    (r"[ \t\n\f\r]{2,}|[\t\n\f\r]", " ", True),
)

#: Whitespace as RE2 means ``\s`` (Python's ``re`` adds ``\v``): spelled out for both.
_WS = r"[ \t\n\f\r]{2,}|[\t\n\f\r]"


def skeletons(texts: pa.Array) -> pa.Array:
    """Skeletons of distinct prompt texts (nulls stay null)."""
    t = pc.utf8_slice_codeunits(texts, 0, SKELETON_CHARS)
    for pattern, repl, after in MASKS:
        if not after:
            t = pc.replace_substring_regex(t, pattern, repl)
    t = pc.utf8_lower(t)
    for pattern, repl, after in MASKS:
        if after:
            t = pc.replace_substring_regex(t, pattern, repl)
    return pc.utf8_trim_whitespace(t)


def skeleton_one(text: str) -> str:
    """:func:`skeletons` for one text."""
    t = text[:SKELETON_CHARS]
    for pattern, repl, after in MASKS:
        if not after:
            t = compiled(pattern).sub(repl, t)
    t = lower(t)
    for pattern, repl, after in MASKS:
        if after:
            t = compiled(pattern).sub(repl, t)
    return t.strip()


def fold(text: str) -> str:
    """Lower-case and collapse whitespace (the system prompt hash normal form)."""
    return compiled(_WS).sub(" ", lower(text)).strip()


def fold_prompt(text: str) -> str:
    """Lower-case and trim (the prompt hash normal form; cheaper than :func:`fold`)."""
    return lower(text).strip()


def key_texts(text: str) -> tuple[str, str, str]:
    """Frame, head and tail key texts of one prompt (what the template ids hash)."""
    return _keys_one(skeleton_one(text))


def _keys_one(skel: str) -> tuple[str, str, str]:
    if skel.count(" ") < 2 * FRAME_TOKENS:
        return skel, skel, skel
    head = " ".join(skel.split(" ", FRAME_TOKENS)[:FRAME_TOKENS])
    tail = " ".join(skel.rsplit(" ", FRAME_TOKENS)[-FRAME_TOKENS:])
    return f"{head} … {tail}", f"^{head}", f"{tail}$"


def _keys(skel: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Frame, head and tail texts of skeletons (all three are the skeleton when short).

    Skeletons have single spaces between tokens, so splitting on ``" "`` with a split
    limit finds the first and last :data:`FRAME_TOKENS` tokens without a full split.
    """
    head_parts = pc.split_pattern(skel, " ", max_splits=FRAME_TOKENS)
    head = pc.binary_join(pc.list_slice(head_parts, 0, FRAME_TOKENS), " ")
    tail_parts = pc.split_pattern(skel, " ", max_splits=FRAME_TOKENS, reverse=True)
    tail = pc.binary_join(pc.list_slice(tail_parts, 1, FRAME_TOKENS + 1), " ")
    short = pc.less(pc.count_substring(skel, " "), 2 * FRAME_TOKENS)
    framed = pc.binary_join_element_wise(head, tail, " … ")
    return (
        pc.if_else(short, skel, framed),
        pc.if_else(short, skel, pc.binary_join_element_wise("^", head, "")),
        pc.if_else(short, skel, pc.binary_join_element_wise(tail, "$", "")),
    )


def system_hashes(view: ExchangeView) -> pa.Array:
    """Per-row hash of the system prompt, case and whitespace folded (cached on the view)."""
    if "system_hash" not in view.derived:
        folded = pc.utf8_trim_whitespace(
            pc.replace_substring_regex(pc.utf8_lower(view.system_raw), _WS, " ")
        )
        view.derived["system_hash"] = hash_distinct(folded).take(view.system_index)
    return view.derived["system_hash"]


def _hash_keys(frame: pa.Array, head: pa.Array, tail: pa.Array) -> tuple[pa.Array, ...]:
    """Hash the three key columns together: a short prompt's identical keys hash once."""
    n = len(frame)
    hashed = hash_distinct(pa.concat_arrays([frame, head, tail]))
    return hashed.slice(0, n), hashed.slice(n, n), hashed.slice(2 * n, n)


def system_hash_one(text: RowText) -> str | None:
    """:func:`system_hashes` for one exchange."""
    return None if text.system_raw is None else hash_one(fold(text.system_raw))


class TemplateDetector:
    """Writes skeleton hash, template id, exact prompt hash and system prompt hash."""

    name = "template"
    fields: dict[str, tuple[pa.DataType, str]] = {  # noqa: RUF012
        "prompt_hash": (pa.string(), "Hash of the last user turn, lower-cased and trimmed."),
        "template_id": (
            pa.string(),
            "Prompt template: the frame, head or tail key that the corpus shows many "
            "distinct prompts share (see TemplateVocabulary), else the frame.",
        ),
        "templated": (
            pa.bool_(),
            "The prompt follows a template of the corpus (its template key is shared by "
            "at least MIN_SUPPORT distinct prompts).",
        ),
        "template_frame": (
            pa.string(),
            "Hash of the skeleton's first and last 8 tokens (whole skeleton when short).",
        ),
        "template_head": (pa.string(), "Hash of the skeleton's first 8 tokens."),
        "template_tail": (pa.string(), "Hash of the skeleton's last 8 tokens."),
        "system_hash": (pa.string(), "Hash of the system prompt, case and whitespace folded."),
        "prompt_chars": (pa.int32(), "Length of the last user turn in characters."),
    }

    def __init__(self, vocabulary: TemplateVocabulary | None = None) -> None:
        self.vocabulary = vocabulary if vocabulary is not None else TemplateVocabulary()

    def analyze_one(self, text: RowText) -> dict[str, Any]:
        """Fingerprint one exchange; same answer as :meth:`analyze`."""
        raw = text.prompt_raw
        out: dict[str, Any] = {"system_hash": system_hash_one(text)}
        if raw is None:
            out.update(
                dict.fromkeys(
                    (
                        "prompt_hash",
                        "template_id",
                        "templated",
                        "template_frame",
                        "template_head",
                        "template_tail",
                        "prompt_chars",
                    ),
                )
            )
            return out
        skel = skeleton_one(raw)
        frame, head, tail = (hash_one(k) for k in _keys_one(skel))
        template_id, templated = self.vocabulary.resolve_one(frame, head, tail)
        out.update(
            prompt_hash=hash_one(fold_prompt(raw)),
            template_id=template_id,
            templated=templated,
            template_frame=frame,
            template_head=head,
            template_tail=tail,
            prompt_chars=len(raw),
        )
        return out

    def analyze(self, view: ExchangeView) -> dict[str, pa.Array]:
        """Fingerprint the batch (distinct prompts only)."""
        raw = view.prompt_raw
        folded = pc.utf8_trim_whitespace(pc.utf8_lower(raw))
        skel = skeletons(raw)
        idx = view.prompt_index
        frame, head, tail = _hash_keys(*_keys(skel))
        template, templated = self.vocabulary.resolve(frame, head, tail)
        return {
            "prompt_hash": hash_distinct(folded, distinct=True).take(idx),
            "template_id": template.take(idx),
            "templated": templated.take(idx),
            "template_frame": frame.take(idx),
            "template_head": head.take(idx),
            "template_tail": tail.take(idx),
            "system_hash": system_hashes(view),
            "prompt_chars": pc.utf8_length(raw).cast(pa.int32()).take(idx),
        }
