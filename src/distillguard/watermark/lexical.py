"""Text-level lexical watermark: keyed, context-conditioned synonym substitution.

For providers who cannot touch the sampler, in the spirit of CATER (He et al. 2022):
wherever a response uses one member of a meaning-preserving pair (``often`` /
``frequently``, ``do not`` / ``don't``; see :mod:`._table`), a keyed hash of the
provider's secret, the preceding word and the pair picks the *preferred* member, and
:func:`mark_text` rewrites the slot to it. Code blocks, inline code and URLs are never
touched; capitalisation is kept and ``a``/``an`` are repaired.

Detection (:func:`detect_texts`) counts, over the distinct (context, pair) slots in the
text, how often the preferred member is used. Without the key a text's choices agree
with the keyed preference with probability 1/2 per distinct slot, independently
(repeated slots are collapsed to one majority vote, ties dropped), so the count is
Binomial(n, 1/2) under the null and the one-sided p-value is exact.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from scipy.stats import binom

from ..errors import InputError
from ._table import PAIRS

__all__ = [
    "MAX_TEXT_CHARS",
    "LexicalEvidence",
    "LexicalKey",
    "Slot",
    "detect_text",
    "detect_texts",
    "find_slots",
    "mark_text",
    "score_slots",
]

#: Longest response accepted, characters (bigger inputs are an error, not a slow call).
MAX_TEXT_CHARS = 1_000_000
_NULL_RATE = 0.5
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
_PROTECTED = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`|https?://\S+|www\.\S+", re.DOTALL)
_MAX_PHRASE = max(len(v.split()) for pair in PAIRS for v in pair)
# variants that start with a vowel letter but a consonant sound take "a"
_A_DESPITE_VOWEL = frozenset({"usually", "useful", "unique", "one"})


def _pair_id(pair: tuple[str, str]) -> str:
    return "|".join(sorted(v.lower() for v in pair))


# lowercased word tuple -> (pair index, variant index)
_INDEX: dict[tuple[str, ...], tuple[int, int]] = {}
for _i, _pair in enumerate(PAIRS):
    for _j, _variant in enumerate(_pair):
        _words = tuple(_variant.lower().replace("’", "'").split())
        if _words in _INDEX:
            raise RuntimeError(f"substitution table lists {_variant!r} twice")
        _INDEX[_words] = (_i, _j)
_PAIR_IDS = tuple(_pair_id(p) for p in PAIRS)


class LexicalKey:
    """The provider's secret, turned into the keyed preference of every slot."""

    __slots__ = ("_key",)

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else bytes(secret)
        if not raw:
            raise InputError("empty key", "the watermark key must not be empty", field="key")
        self._key = hashlib.sha256(b"distillguard/lexical/v1\x00" + raw).digest()

    def preferred(self, context: str, pair_index: int) -> int:
        """Which member (0 or 1) of pair ``pair_index`` the key prefers after ``context``."""
        h = hashlib.blake2b(
            f"{context}\x1f{_PAIR_IDS[pair_index]}".encode(), key=self._key, digest_size=8
        )
        return h.digest()[0] & 1

    def __repr__(self) -> str:
        return "LexicalKey(<secret>)"


@dataclass(frozen=True, slots=True)
class Slot:
    """One eligible place in a text: where it is, its pair, variant and context word."""

    start: int
    end: int
    pair_index: int
    variant: int
    context: str


@dataclass(frozen=True, slots=True)
class _Word:
    start: int
    end: int
    lower: str


def _check_text(text: object, where: str | None = None) -> str:
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError("binary input", "not UTF-8 text", file=where) from exc
    if not isinstance(text, str):
        raise InputError("not text", f"expected a string, got {type(text).__name__}", file=where)
    if "\x00" in text:
        raise InputError("binary input", "text contains NUL bytes", file=where)
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(
            "text too large",
            f"{len(text):,} characters; the limit is {MAX_TEXT_CHARS:,} per response",
            file=where,
        )
    return text


def _prose_words(text: str) -> list[_Word]:
    protected = [(m.start(), m.end()) for m in _PROTECTED.finditer(text)]
    words: list[_Word] = []
    k = 0
    for m in _WORD.finditer(text):
        while k < len(protected) and protected[k][1] <= m.start():
            k += 1
        if k < len(protected) and protected[k][0] < m.end():
            continue
        words.append(_Word(m.start(), m.end(), m.group().lower().replace("’", "'")))
    return words


def _context(word: _Word | None) -> str:
    if word is None:
        return "^"
    return "a" if word.lower == "an" else word.lower


def find_slots(text: str) -> list[Slot]:
    """Every eligible slot of ``text`` in order (longest phrase wins, words must be adjacent)."""
    text = _check_text(text)
    words = _prose_words(text)
    slots: list[Slot] = []
    i, prev = 0, None
    while i < len(words):
        hit = None
        for n in range(min(_MAX_PHRASE, len(words) - i), 0, -1):
            span = words[i : i + n]
            if any(text[a.end : b.start].strip() for a, b in itertools.pairwise(span)):
                continue
            found = _INDEX.get(tuple(w.lower for w in span))
            if found is not None:
                hit = (n, found)
                break
        if hit is None:
            prev = words[i]
            i += 1
            continue
        n, (pair_index, variant) = hit
        slots.append(
            Slot(words[i].start, words[i + n - 1].end, pair_index, variant, _context(prev))
        )
        prev = words[i + n - 1]
        i += n
    return slots


def _surface(variant: str, original: str, apostrophe: str) -> str:
    out = variant.replace("'", apostrophe)
    if original.isupper() and len(original) > 1:
        return out.upper()
    if original[:1].isupper():
        return out[:1].upper() + out[1:]
    return out


def _article_for(word: str) -> str:
    w = word.lower()
    return "an" if w[:1] in "aeiou" and w.split()[0] not in _A_DESPITE_VOWEL else "a"


def _last_word(surface: str | None) -> str:
    if not surface:
        return "^"
    found = _WORD.findall(surface)
    last = found[-1].lower().replace("’", "'") if found else "^"
    return "a" if last == "an" else last


def mark_text(text: str, key: LexicalKey) -> str:
    """``text`` with every slot rewritten to the member ``key`` prefers in its context.

    Works left to right so each slot's context is the already-marked preceding word,
    exactly what the detector will see.
    """
    text = _check_text(text)
    apostrophe = "’" if "’" in text and "'" not in text else "'"
    slots = {s.start: s for s in find_slots(text)}
    pieces: list[str] = []
    pos, prev_surface, prev_piece = 0, "", -1
    for w in _prose_words(text):
        if w.start < pos:
            continue  # inside a phrase slot already rewritten
        slot = slots.get(w.start)
        pieces.append(text[pos : w.start])
        if slot is None:
            surface, pos = text[w.start : w.end], w.end
        else:
            choice = key.preferred(_last_word(prev_surface), slot.pair_index)
            original = text[slot.start : slot.end]
            surface = _surface(PAIRS[slot.pair_index][choice], original, apostrophe)
            if prev_surface.lower() in ("a", "an") and prev_piece >= 0:
                article = _article_for(surface)
                if article != prev_surface.lower():
                    pieces[prev_piece] = _surface(article, prev_surface, apostrophe)
            pos = slot.end
        pieces.append(surface)
        prev_surface, prev_piece = surface, len(pieces) - 1
    pieces.append(text[pos:])
    return "".join(pieces)


@dataclass(frozen=True, slots=True)
class LexicalEvidence:
    """What the lexical detector found: distinct slots scored, agreements, exact p-value."""

    slots: int
    agreeing: int
    eligible: int
    words: int
    p_value: float

    @property
    def rate(self) -> float:
        """Share of distinct slots that agree with the key (1/2 expected without the mark)."""
        return self.agreeing / self.slots if self.slots else 0.0

    null_rate: float = _NULL_RATE


def _binom_p(agreeing: int, slots: int) -> float:
    if slots == 0:
        return 1.0
    return float(binom.sf(agreeing - 1, slots, _NULL_RATE))


def score_slots(slots: Iterable[Slot], key: LexicalKey, *, words: int = 0) -> LexicalEvidence:
    """The exact test on already-found slots (see :func:`detect_texts`).

    Lets a caller that tests many keys or pools on the same texts find slots once.
    """
    votes: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    eligible = 0
    for slot in slots:
        eligible += 1
        votes[(slot.context, slot.pair_index)][slot.variant] += 1
    scored = agreeing = 0
    for (context, pair_index), counts in votes.items():
        if counts[0] == counts[1]:
            continue
        scored += 1
        majority = int(counts[1] > counts[0])
        agreeing += int(majority == key.preferred(context, pair_index))
    return LexicalEvidence(scored, agreeing, eligible, words, _binom_p(agreeing, scored))


def detect_texts(texts: Iterable[str], key: LexicalKey) -> LexicalEvidence:
    """Pool the evidence of many texts (one suspect's answers) into one exact test.

    A (context, pair) slot seen several times, within or across texts, counts once by
    majority vote of the variant used (ties dropped), so repeated phrases cannot inflate
    the evidence; the count of distinct slots agreeing with the key is Binomial(n, 1/2)
    without the mark.
    """
    slots: list[Slot] = []
    words = 0
    for n, text in enumerate(texts, start=1):
        text = _check_text(text, where=f"text {n}")
        words += len(_prose_words(text))
        slots.extend(find_slots(text))
    return score_slots(slots, key, words=words)


def detect_text(text: str, key: LexicalKey) -> LexicalEvidence:
    """The evidence in one text (see :func:`detect_texts`)."""
    return detect_texts([text], key)
