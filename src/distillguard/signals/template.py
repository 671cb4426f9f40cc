"""Template fingerprint: the prompt's structure with its filled-in slots masked.

Campaigns send one prompt template filled with many dataset items. The prompt is
normalised (code blocks, URLs, e-mail addresses, quoted strings, mid-sentence proper
names and numbers masked; case and whitespace folded) into a *skeleton*:

* ``skeleton_hash``: the whole skeleton; equal when only numbers / names / quoted
  values differ;
* ``template_id``: the skeleton's frame, its first and last :data:`FRAME_TOKENS`
  tokens (the whole skeleton when short), so a template whose middle slot holds a
  different question each time keeps one id;
* ``prompt_hash``: the exact prompt (case and whitespace folded), for novelty: does an
  account ask each item once (a dataset sweep)?

All of it is computed once per distinct prompt with Arrow's RE2 kernels.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ._hashing import hash_distinct
from .registry import ExchangeView

__all__ = ["FRAME_TOKENS", "MASKS", "TemplateDetector", "skeletons", "system_hashes"]

#: Tokens kept at each end of a long skeleton to form its frame.
FRAME_TOKENS = 8

#: Longest text (characters) the skeleton is built from.
SKELETON_CHARS = 8_000

#: Masks applied in order before lower-casing / after it: (pattern, replacement, after_lower).
MASKS: tuple[tuple[str, str, bool], ...] = (
    (r"(?s)```.*?(```|$)", " <code> ", False),
    (r"https?://\S+|www\.\S+", " <url> ", False),
    (r"[\w.+-]+@[\w-]+\.[\w.-]+", " <email> ", False),
    (r"\"[^\"\n]{0,200}\"|“[^”\n]{0,200}”|`[^`\n]{1,200}`", " <str> ", False),
    (r"([a-z0-9,;:] +)[A-Z][\w'’-]*", r"\1<ent>", False),
    (r"\d+(?:[.,:/]\d+)*", "<n>", True),
    (r"\s+", " ", True),
)


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


def _frames(skel: pa.Array) -> pa.Array:
    tokens = pc.utf8_split_whitespace(skel)
    n_tok = pc.list_value_length(tokens)
    head = pc.binary_join(pc.list_slice(tokens, 0, FRAME_TOKENS), " ")
    rtok = pc.utf8_split_whitespace(pc.utf8_reverse(skel))
    tail = pc.utf8_reverse(pc.binary_join(pc.list_slice(rtok, 0, FRAME_TOKENS), " "))
    framed = pc.binary_join_element_wise(head, tail, " … ")
    short = pc.less_equal(n_tok, 3 * FRAME_TOKENS)
    return pc.if_else(short, skel, framed)


def system_hashes(view: ExchangeView) -> pa.Array:
    """Per-row hash of the system prompt, case and whitespace folded (cached on the view)."""
    if "system_hash" not in view.derived:
        folded = pc.utf8_trim_whitespace(
            pc.replace_substring_regex(pc.utf8_lower(view.system_raw), r"\s+", " ")
        )
        view.derived["system_hash"] = hash_distinct(folded).take(view.system_index)
    return view.derived["system_hash"]


class TemplateDetector:
    """Writes skeleton hash, template id, exact prompt hash and system prompt hash."""

    name = "template"
    fields: dict[str, tuple[pa.DataType, str]] = {  # noqa: RUF012
        "prompt_hash": (pa.string(), "Hash of the last user turn, case and whitespace folded."),
        "skeleton_hash": (
            pa.string(),
            "Hash of the prompt skeleton (numbers, names, quotes, code, URLs masked).",
        ),
        "template_id": (
            pa.string(),
            "Hash of the skeleton's frame (first and last 8 tokens; whole skeleton when "
            "short): one id per prompt template whatever fills its slots.",
        ),
        "system_hash": (pa.string(), "Hash of the system prompt, case and whitespace folded."),
        "prompt_chars": (pa.int32(), "Length of the last user turn in characters."),
    }

    def analyze(self, view: ExchangeView) -> dict[str, pa.Array]:
        """Fingerprint the batch (distinct prompts only)."""
        raw = view.prompt_raw
        folded = pc.utf8_trim_whitespace(
            pc.replace_substring_regex(pc.utf8_lower(raw), r"\s+", " ")
        )
        skel = skeletons(raw)
        idx = view.prompt_index
        return {
            "prompt_hash": hash_distinct(folded).take(idx),
            "skeleton_hash": hash_distinct(skel).take(idx),
            "template_id": hash_distinct(_frames(skel)).take(idx),
            "system_hash": system_hashes(view),
            "prompt_chars": pc.utf8_length(raw).cast(pa.int32()).take(idx),
        }
