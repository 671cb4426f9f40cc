"""The built-in substitution table of the lexical watermark.

Each entry is a pair of variants that can stand in for each other in running English
prose without changing meaning or grammar: spelling/function-word doublets, negated
auxiliaries and their contractions, and adverbs, adjectives and inflected verbs whose
pair member fills the same slot. Words with a common second part of speech that the
partner lacks (``start`` the noun, ``odd`` the number) are left out on purpose, and so
are pairs whose members begin with a vowel sound on one side only unless the article
is repaired (see :func:`distillguard.watermark.lexical.mark_text`).

Every variant belongs to exactly one pair, so a word names its slot unambiguously.
Written for distillguard; the list is small on purpose and easy to audit.
"""

from __future__ import annotations

__all__ = ["PAIRS"]

#: (variant_a, variant_b); a variant may be two words (a contraction's long form).
PAIRS: tuple[tuple[str, str], ...] = (
    # function-word and spelling doublets
    ("toward", "towards"),
    ("among", "amongst"),
    ("while", "whilst"),
    ("afterward", "afterwards"),
    ("anyway", "anyhow"),
    ("until", "till"),
    ("for example", "for instance"),
    ("in order to", "so as to"),
    # negated auxiliaries
    ("is not", "isn't"),
    ("are not", "aren't"),
    ("was not", "wasn't"),
    ("were not", "weren't"),
    ("do not", "don't"),
    ("does not", "doesn't"),
    ("did not", "didn't"),
    ("cannot", "can't"),
    ("will not", "won't"),
    ("would not", "wouldn't"),
    ("should not", "shouldn't"),
    ("could not", "couldn't"),
    ("has not", "hasn't"),
    ("have not", "haven't"),
    # pronoun + auxiliary
    ("I am", "I'm"),
    ("you are", "you're"),
    ("we are", "we're"),
    ("they are", "they're"),
    ("I will", "I'll"),
    ("you will", "you'll"),
    ("we will", "we'll"),
    ("they will", "they'll"),
    # adverbs
    ("often", "frequently"),
    ("usually", "typically"),
    ("quickly", "rapidly"),
    ("mainly", "primarily"),
    ("mostly", "largely"),
    ("nearly", "almost"),
    ("perhaps", "maybe"),
    ("entirely", "completely"),
    ("therefore", "thus"),
    ("moreover", "furthermore"),
    ("particularly", "especially"),
    ("certainly", "definitely"),
    ("roughly", "approximately"),
    ("immediately", "instantly"),
    ("eventually", "ultimately"),
    ("correctly", "properly"),
    ("significantly", "substantially"),
    ("slightly", "somewhat"),
    ("precisely", "exactly"),
    ("rarely", "seldom"),
    ("simultaneously", "concurrently"),
    ("additionally", "also"),
    ("easily", "readily"),
    ("initially", "originally"),
    ("swiftly", "speedily"),
    # adjectives
    ("huge", "enormous"),
    ("main", "primary"),
    ("essential", "vital"),
    ("obvious", "evident"),
    ("accurate", "precise"),
    ("rapid", "swift"),
    ("appropriate", "suitable"),
    ("beautiful", "lovely"),
    ("intelligent", "smart"),
    ("important", "significant"),
    ("difficult", "challenging"),
    ("various", "diverse"),
    ("sufficient", "adequate"),
    ("fundamental", "basic"),
    # inflected verbs with no common noun reading
    ("began", "started"),
    ("begins", "starts"),
    ("finished", "completed"),
    ("attempted", "tried"),
    ("bought", "purchased"),
    ("calculate", "compute"),
    ("calculated", "computed"),
    ("allows", "enables"),
    ("demonstrates", "illustrates"),
    ("obtained", "acquired"),
    ("examine", "inspect"),
    ("examined", "inspected"),
    ("indicates", "suggests"),
)
