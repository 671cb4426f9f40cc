"""The lexical watermark: keyed determinism, detection, calibration, robustness, bad input."""

from __future__ import annotations

import json
import random

import pytest

from distillguard.errors import InputError
from distillguard.resources import shared_data_dir
from distillguard.watermark.lexical import (
    MAX_TEXT_CHARS,
    LexicalKey,
    detect_text,
    detect_texts,
    find_slots,
    mark_text,
)


def test_same_key_same_mark_other_key_other_mark(make_prose) -> None:
    text = make_prose(random.Random(1), 40)
    a1 = mark_text(text, LexicalKey("provider-secret"))
    a2 = mark_text(text, LexicalKey(b"provider-secret"))
    b = mark_text(text, LexicalKey("another-secret"))
    assert a1 == a2
    assert a1 != b
    # marking changes only slot words: the words outside slots are untouched
    assert len(a1.split()) <= len(text.split()) + 2 * len(find_slots(text))


def test_marked_text_is_detected_only_with_its_key(make_prose) -> None:
    text = make_prose(random.Random(2), 60)
    key = LexicalKey("k-1")
    marked = mark_text(text, key)
    ev = detect_text(marked, key)
    assert ev.slots >= 30
    assert ev.p_value < 1e-6
    assert ev.agreeing / ev.slots > 0.9
    other = detect_text(marked, LexicalKey("k-2"))
    assert other.p_value > 1e-3


def test_unmarked_text_is_calibrated_over_keys(make_prose) -> None:
    # Without the mark, p-values over keys must not be smaller than uniform: P(p<=a) <= a.
    rng = random.Random(3)
    texts = [make_prose(rng, 8) for _ in range(40)]
    ps = [
        detect_text(t, LexicalKey(f"key-{i}-{j}")).p_value
        for j, t in enumerate(texts)
        for i in range(10)
    ]
    n = len(ps)
    for a in (0.01, 0.05, 0.2, 0.5):
        share = sum(p <= a for p in ps) / n
        assert share <= a + 3 * (a * (1 - a) / n) ** 0.5 + 0.01, (a, share)
    assert sum(p <= 1e-4 for p in ps) <= 1


def test_repeated_slots_count_once() -> None:
    one = "We often go there. "
    ev = detect_text(one * 50, LexicalKey("k"))
    assert ev.eligible == 50
    assert ev.slots == 1


def _paraphrase(text: str, share: float, rng: random.Random) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), int(len(words) * share)):
        words[i] = rng.choice(["thing", "stuff", "really", "so", "very", "item"])
    return " ".join(words)


def test_survives_ten_percent_paraphrase_and_truncation(make_prose) -> None:
    rng = random.Random(4)
    key = LexicalKey("robust")
    marked = mark_text(make_prose(rng, 80), key)
    edited = _paraphrase(marked, 0.10, rng)
    assert detect_text(edited, key).p_value < 1e-4
    half = marked[: len(marked) // 2]
    assert detect_text(half, key).p_value < 1e-4


def test_code_and_urls_untouched_case_and_article_kept() -> None:
    text = (
        "It is often slow.\n```python\nx = often(1)  # do not touch\n```\n"
        "See https://example.com/often and `do not` here. DO NOT panic; A huge task."
    )
    for i in range(8):
        out = mark_text(text, LexicalKey(f"k{i}"))
        assert "x = often(1)  # do not touch" in out
        assert "https://example.com/often" in out
        assert "`do not`" in out
        assert "DO NOT" in out or "DON'T" in out
        assert ("A huge" in out) or ("An enormous" in out)


def test_bad_input_is_a_clear_error() -> None:
    key = LexicalKey("k")
    assert mark_text("", key) == ""
    assert detect_text("", key).slots == 0 and detect_text("", key).p_value == 1.0
    with pytest.raises(InputError, match="too large"):
        mark_text("a" * (MAX_TEXT_CHARS + 1), key)
    with pytest.raises(InputError, match="binary"):
        detect_texts([b"\xff\xfe\x00\x01"], key)  # type: ignore[list-item]
    with pytest.raises(InputError, match="NUL"):
        mark_text("ok\x00no", key)
    with pytest.raises(InputError, match="empty key"):
        LexicalKey("")


def test_real_answers_calibrated_and_marked_detected() -> None:
    data = shared_data_dir()
    if data is None:
        pytest.skip("no ../shared/data (set DISTILLGUARD_DATA)")
    path = data / "capability" / "gsm8k_test.jsonl"
    answers = [json.loads(line)["answer"] for line in path.open()][:400]
    key = LexicalKey("real")
    # unmarked human solutions: at alpha 1e-3 essentially nothing is flagged
    assert sum(detect_text(a, key).p_value < 1e-3 for a in answers) <= 2
    marked = [mark_text(a, key) for a in answers]
    assert detect_texts(marked, key).p_value < 1e-6
    assert detect_texts(answers, key).p_value > 1e-4
