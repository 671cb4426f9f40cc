"""Template fingerprints: robust to filled slots, distinct for unrelated prompts."""

from __future__ import annotations

import pyarrow as pa
import pytest
from _realdata import arena, batch, exchange, gsm8k

from distillguard.resources import shared_data_dir
from distillguard.schema import EXCHANGE_SCHEMA
from distillguard.signals import (
    SIGNALS_TABLE,
    SignalContext,
    TemplateVocabulary,
    compute_signals,
    materialise,
    signals_for_exchange,
)
from distillguard.signals.template import skeletons
from distillguard.store import Store

DATA = shared_data_dir()


def _sig(texts: list[str | None], ctx: SignalContext) -> list[dict]:
    return compute_signals(batch([exchange(t, i) for i, t in enumerate(texts)]), ctx).to_pylist()


def test_filled_numbers_names_and_quotes_keep_the_skeleton(ctx: SignalContext) -> None:
    texts = [
        'Translate "good morning" for my friend Alice, who lives at 221 Baker St, in 3 words.',
        'Translate "see you tomorrow" for my friend Bob, who lives at 10 Downing St, in 12 words.',
    ]
    a, b = _sig(texts, ctx)
    assert a["template_frame"] == b["template_frame"]
    assert a["template_id"] == b["template_id"]
    assert a["prompt_hash"] != b["prompt_hash"]


def test_middle_slot_keeps_the_template_id(ctx: SignalContext) -> None:
    head = "You are a meticulous tutor. Solve the following problem carefully and completely:\n\n"
    tail = (
        "\n\nGive a numbered list of steps, then the final answer on its own line as 'Answer: X'."
    )
    problems = [
        "A farmer has some chickens and cows; there are 30 heads and 74 legs. How many cows?",
        "If a rectangle's perimeter is 40 and its length is three times its width, find its area.",
        "What is the sum of all positive divisors of 360 that are themselves perfect squares?",
    ]
    rows = _sig([head + p + tail for p in problems], ctx)
    assert len({r["template_id"] for r in rows}) == 1
    assert len({r["prompt_hash"] for r in rows}) == 3
    other = _sig(["Summarise this article in two sentences for a busy executive, please."], ctx)[0]
    assert other["template_id"] != rows[0]["template_id"]


def test_case_and_surrounding_whitespace_do_not_change_prompt_hash(ctx: SignalContext) -> None:
    a, b, c = _sig(
        ["  What is the capital of France?", "what is the capital of france?\n", None], ctx
    )
    assert a["prompt_hash"] == b["prompt_hash"]
    assert c["prompt_hash"] is None and c["template_id"] is None


def test_skeleton_masks() -> None:
    out = skeletons(
        pa.array(
            [
                "See https://example.com/x?y=1 and mail bob@example.org about `foo()`",
                "Fix this:\n```python\nprint(1)\n```\nthanks",
            ]
        )
    ).to_pylist()
    assert out[0] == "see <v> and mail <v> about <v>"
    assert out[1] == "fix this: <v> thanks"


def _store_with(texts: list[str], ctx: SignalContext) -> Store:
    store = Store(":memory:")
    rows = [exchange(t, i, account_id=f"acct_{i % 7}") for i, t in enumerate(texts)]
    store.append_exchanges(pa.RecordBatch.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    materialise(store, ctx)
    return store


QUESTIONS = [
    "A farmer has some chickens and cows; there are 30 heads and 74 legs in all. How many cows?",
    "If a rectangle's perimeter is 40 cm and its length is three times its width, what is its area?",
    "What is the sum of all positive divisors of 360 that are themselves perfect squares of integers?",
    "Two trains leave stations 300 km apart at noon and meet at 2 pm; one is 30 km/h faster. Speeds?",
    "A shop discounts a jacket by 20% and then by a further 15%; what single discount is equivalent?",
    "How many ways can 5 different books be arranged on a shelf if two particular books must be adjacent?",
    "The average of four consecutive odd numbers is 24. What is the largest of the four numbers?",
    "A tank fills in 6 hours with pipe A and in 4 hours with pipe B. How long with both pipes open?",
    "Find the remainder when 2 to the power 100 is divided by 7, and explain the cycle you used.",
    "A recipe needs 3 eggs for every 2 cups of flour. How many eggs are needed for 9 cups of flour?",
    "Priya is twice as old as her brother; in 6 years she will be 1.5 times his age. How old is he now?",
    "A circle is inscribed in a square of side 10. What is the area between the circle and the square?",
]


def test_learned_vocabulary_finds_head_and_tail_slot_templates() -> None:
    ctx = SignalContext.default(use_shared_data=False)
    head_slot = [
        f"{q}\nSolve it step by step and box the final answer at the very end." for q in QUESTIONS
    ]
    tail_slot = [
        f"Answer the following grade school question with full working shown please: {q}"
        for q in QUESTIONS
    ]
    singles = [
        "How do I centre a div horizontally and vertically with flexbox and grid in modern CSS today?",
        "Suggest a five day itinerary for Kyoto in autumn with temples, food markets and a day trip.",
    ]
    store = _store_with(head_slot + tail_slot + singles, ctx)
    ids = (
        store.query(f"SELECT template_id FROM {SIGNALS_TABLE} ORDER BY exchange_id")
        .column(0)
        .to_pylist()
    )
    n = len(QUESTIONS)
    assert len(set(ids[:n])) == 1 and len(set(ids[n : 2 * n])) == 1
    assert ids[0] != ids[n]
    assert len(set(ids[2 * n :])) == 2 and not set(ids[2 * n :]) & {ids[0], ids[n]}
    # the learned vocabulary is saved and set on the context: single events agree
    assert len(TemplateVocabulary.load(store)) == len(ctx.templates) > 0
    again = signals_for_exchange(exchange(head_slot[3], 3, account_id="acct_3"), ctx)
    assert again["template_id"] == ids[0]
    fresh = SignalContext.default(use_shared_data=False).use_templates(
        TemplateVocabulary.load(store)
    )
    assert signals_for_exchange(exchange(tail_slot[5], 5), fresh)["template_id"] == ids[n]


def test_near_duplicate_templates_merge_and_distinct_ones_do_not() -> None:
    ctx = SignalContext.default(use_shared_data=False)
    a = [
        f"{q}\nThink step by step and show your reasoning before the final answer."
        for q in QUESTIONS
    ]
    b = [
        f"{q}\nThink step by step and show all reasoning before the final answer."
        for q in QUESTIONS
    ]
    c = [
        f"{q}\nReply with a single integer and nothing else, no explanation at all."
        for q in QUESTIONS
    ]
    store = _store_with(a + b + c, ctx)
    ids = (
        store.query(f"SELECT template_id FROM {SIGNALS_TABLE} ORDER BY exchange_id")
        .column(0)
        .to_pylist()
    )
    n = len(QUESTIONS)
    assert len(set(ids[: 2 * n])) == 1  # the paraphrase joins the original's cluster
    assert set(ids[2 * n :]).isdisjoint(ids[: 2 * n]) and len(set(ids[2 * n :])) == 1
    vocab = TemplateVocabulary.load(store)
    assert any(len(m) >= 2 for m in vocab.clusters().values())
    assert all(t for t in vocab.texts.values())  # masked key texts kept for analysts
    # the online path names the paraphrase by the same cluster
    assert signals_for_exchange(exchange(b[0], 0), ctx)["template_id"] == ids[0]


@pytest.mark.skipif(DATA is None, reason="no shared data")
def test_real_prompts_are_mostly_distinct_templates() -> None:
    assert DATA
    ctx = SignalContext.default(use_shared_data=False)
    prompts = arena(DATA)
    wrapped = [
        f"Problem: {q}\nSolve it step by step and box the final answer." for q in gsm8k(DATA, 100)
    ]
    store = _store_with(prompts + wrapped, ctx)
    ids = (
        store.query(f"SELECT template_id FROM {SIGNALS_TABLE} ORDER BY exchange_id")
        .column(0)
        .to_pylist()
    )
    real = ids[: len(prompts)]
    assert len(set(real)) / len(real) >= 0.95
    # one harvesting template over a dataset collapses to one id
    assert len(set(ids[len(prompts) :])) == 1
