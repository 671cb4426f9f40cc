"""SynthID Text keyed by the provider's secret, and its exact (training-free) detector."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from distillguard.errors import InputError
from distillguard.watermark.synthid import (
    SynthIDDetector,
    synthid_config,
    synthid_keys,
)

VOCAB = 5000


def _tournament(det: SynthIDDetector, rng: random.Random, length: int) -> list[int]:
    """A toy sampler in SynthID's spirit: of 8 random candidates keep the one whose
    g-values (one per layer) have the most ones; the detector never sees this code."""
    table = det._proc.sampling_table
    seq = [rng.randrange(VOCAB) for _ in range(det.ngram_len - 1)]
    while len(seq) < length:
        best, best_score = None, -1
        for cand in rng.sample(range(VOCAB), 8):
            pos = det._positions([*seq[-(det.ngram_len - 1) :], cand])
            score = int(table[pos].sum())
            if score > best_score:
                best, best_score = cand, score
        seq.append(int(best))  # type: ignore[arg-type]
    return seq


def test_keys_are_deterministic_per_secret_and_need_a_secret() -> None:
    assert synthid_keys("a") == synthid_keys("a")
    assert synthid_keys("a") != synthid_keys("b")
    assert len(synthid_keys("a")) == 16
    assert list(synthid_config("a").keys) == synthid_keys("a")
    with pytest.raises(InputError):
        synthid_keys("")


def test_unmarked_sequences_are_calibrated() -> None:
    det = SynthIDDetector("provider")
    rng = random.Random(3)
    seqs = [[rng.randrange(VOCAB) for _ in range(40)] for _ in range(400)]
    ps = [e.p_value for e in det.score_many(seqs)]
    assert sum(p < 0.05 for p in ps) <= 0.05 * len(ps) + 3 * (0.05 * 0.95 * len(ps)) ** 0.5
    assert sum(p < 0.01 for p in ps) <= 12
    assert 0.35 < sum(ps) / len(ps) < 0.65


def test_marked_text_is_detected_with_its_key_only_and_repeats_count_once() -> None:
    det = SynthIDDetector("provider")
    seq = _tournament(det, random.Random(5), 60)
    ev = det.score_pooled([seq])
    assert ev.p_value < 1e-6 and ev.rate > det.null_rate
    assert SynthIDDetector("someone else").score_pooled([seq]).p_value > 1e-3
    again = det.score_pooled([seq] * 20)
    assert (again.scored, again.green) == (ev.scored, ev.green)
    assert det.score_pooled([[1, 2, 3]]).scored == 0  # shorter than one n-gram


def test_trace_reports_synthid_next_to_lexical() -> None:
    from distillguard.watermark.trace import trace_texts

    det = SynthIDDetector("provider")
    seqs = [_tournament(det, random.Random(s), 30) for s in range(4)]
    texts = [" ".join(map(str, s)) for s in seqs]

    def encode(text: str) -> list[int]:
        return [int(x) for x in text.split()]

    report = trace_texts(texts, "provider", synthid=(det, encode))
    names = [e.watermark for e in report.evidence]
    assert names == ["lexical", "synthid"]
    syn = report.evidence[1]
    assert syn.reported and syn.p_value < 1e-6
    plain = [" ".join(str(random.Random(s).randrange(VOCAB)) for _ in range(30)) for s in range(4)]
    assert not trace_texts(plain, "provider", synthid=(det, encode)).evidence[1].reported
