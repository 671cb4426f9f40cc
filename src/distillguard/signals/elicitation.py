"""Elicitation of reasoning and judging: what a distiller asks the model to spell out.

Text rules catch requests for step-by-step or hidden reasoning and judge prompts
("grade this answer", pairwise comparisons, rating scales); request fields catch large
thinking budgets, ``reasoning_effort=high``, several samples per prompt and
log-probabilities, which survive prompt redaction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .registry import ExchangeView, RowText, Rule, join_cues, match_rules, match_rules_one

__all__ = ["ELICITATION_RULES", "LARGE_THINKING_BUDGET", "ElicitationDetector"]

#: Thinking budget (tokens) from which a request counts as asking for long reasoning.
LARGE_THINKING_BUDGET = 8_000

#: Text rules; ids starting ``reason.`` mean reasoning elicitation, ``hidden.`` asking for
#: the model's hidden reasoning, ``judge.`` using the model as a grader.
ELICITATION_RULES: tuple[Rule, ...] = (
    Rule(
        "reason.step_by_step",
        r"step[- ]by[- ]step|\bstep \d\b[^\n]*\bstep \d\b|one step at a time",
        1.0,
    ),
    Rule(
        "reason.show_work",
        r"\b(show|explain|walk me through|lay out|detail) (all |each of |every )?(your|the|each|all)? ?(work|working|reasoning|steps|thought process|derivation|logic)\b",
        1.0,
    ),
    Rule(
        "reason.think",
        r"\b(think (carefully|step|through|hard|deeply|before)|let'?s think|reason (carefully|through|about it)|chain[- ]of[- ]thought|think out loud)\b",
        1.0,
    ),
    Rule(
        "reason.justify_each",
        r"\b(justify each step|explain why each|before answering, (reason|think))\b",
        0.8,
    ),
    Rule(
        "hidden.reveal",
        r"\b(reveal|show|output|print|include|share|copy|dump|repeat)\b[^.!?\n]*\b(hidden|internal|private|inner|raw|full|complete|entire)\b[^.!?\n]*\b(reasoning|thoughts?|thinking|monologue|chain[- ]of[- ]thought|scratchpad|trace)\b",
        2.0,
    ),
    Rule("hidden.tags", r"<(thinking|think|scratchpad|reasoning)>", 1.5),
    Rule(
        "hidden.scratchpad",
        r"\b(scratchpad|inner monologue|thinking process verbatim|reasoning trace)\b",
        1.5,
    ),
    Rule(
        "judge.grade",
        r"\b(grade|score|rate|evaluate|assess|judge)\b[^.!?\n]*\b(answer|response|output|completion|solution|submission)s?\b",
        1.5,
    ),
    Rule(
        "judge.pairwise",
        r"\b(which (response|answer|assistant|output) is better|response a\b.*response b|assistant a\b.*assistant b|\[\[a\]\]|\[\[b\]\])",
        1.5,
    ),
    Rule(
        "judge.scale",
        r"\bon a scale (of|from) \d+ ?(to|-) ?\d+|\[\[rating\]\]|rating: \[\[|\bscore (of|from) \d+ ?(to|-) ?\d+",
        1.0,
    ),
    Rule(
        "judge.system",
        r"\b(impartial judge|you are (a|an) (grader|evaluator|judge)|evaluate the quality of the (response|answer))\b",
        1.5,
        "system",
    ),
)


_STRUCTURAL_WEIGHTS = {
    "reason.thinking_budget_large": 1.0,
    "reason.effort_high": 1.0,
    "sample.n_choices": 0.5,
    "sample.logprobs": 0.5,
}


class ElicitationDetector:
    """Flags reasoning elicitation and judge prompts, with a combined score and cues."""

    name = "elicitation"
    fields: dict[str, tuple[pa.DataType, str]] = {  # noqa: RUF012
        "elicits_reasoning": (
            pa.bool_(),
            "Asks for step-by-step / hidden reasoning, or requests a large thinking budget "
            "or reasoning_effort=high.",
        ),
        "hidden_reasoning": (pa.bool_(), "Asks the model to reveal hidden or internal reasoning."),
        "judge_prompt": (pa.bool_(), "Uses the model as a grader / judge of other answers."),
        "elicitation_score": (
            pa.float32(),
            "Strength of reasoning/judging elicitation in [0,1): 1 - exp(-sum of cue weights).",
        ),
        "elicitation_cues": (pa.string(), "`;`-joined ids of the elicitation cues that fired."),
    }

    def __init__(self, rules: tuple[Rule, ...] = ELICITATION_RULES) -> None:
        self.rules = rules

    @property
    def rules_used(self) -> list[Rule]:
        """Every text rule this detector evaluates (the registry prefetches them)."""
        return list(self.rules)

    def analyze_one(self, text: RowText) -> dict[str, Any]:
        """Score one exchange; same answer as :meth:`analyze` on a batch holding it."""
        row = text.row
        hits = match_rules_one(text, self.rules)
        weight = {r.id: r.weight for r in self.rules}
        weight.update(_STRUCTURAL_WEIGHTS)
        allc = {
            **hits,
            "reason.thinking_budget_large": (row.get("thinking_budget") or 0)
            >= LARGE_THINKING_BUDGET,
            "reason.effort_high": row.get("reasoning_effort") == "high",
            "sample.n_choices": (row.get("n_choices") or 1) > 1,
            "sample.logprobs": bool(row.get("logprobs")) or (row.get("top_logprobs") or 0) > 0,
        }
        raw = 0.0
        for cid, m in allc.items():
            raw += weight[cid] * m
        hidden = any(v for k, v in allc.items() if k.startswith("hidden."))
        return {
            "elicits_reasoning": hidden
            or any(v for k, v in allc.items() if k.startswith("reason.")),
            "hidden_reasoning": hidden,
            "judge_prompt": any(v for k, v in allc.items() if k.startswith("judge.")),
            "elicitation_score": float((1.0 - np.exp(-np.array([raw]))).astype(np.float32)[0]),
            "elicitation_cues": ";".join(k for k, v in allc.items() if v),
        }

    def analyze(self, view: ExchangeView) -> dict[str, pa.Array]:
        """Score the batch."""
        n = view.num_rows
        hits = match_rules(view, self.rules)
        weight = {r.id: r.weight for r in self.rules}
        budget = view.numeric("thinking_budget")
        effort = pc.fill_null(view.column("reasoning_effort"), "").to_numpy(zero_copy_only=False)
        structural = {
            "reason.thinking_budget_large": budget >= LARGE_THINKING_BUDGET,
            "reason.effort_high": effort == "high",
            "sample.n_choices": view.numeric("n_choices", 1) > 1,
            "sample.logprobs": view.flag("logprobs") | (view.numeric("top_logprobs") > 0),
        }
        weight.update(_STRUCTURAL_WEIGHTS)
        allc = {**hits, **structural}
        raw = np.zeros(n)
        for cid, mask in allc.items():
            raw += weight[cid] * mask

        def any_of(prefix: str) -> np.ndarray:
            masks = [m for k, m in allc.items() if k.startswith(prefix)]
            return np.logical_or.reduce(masks) if masks else np.zeros(n, dtype=bool)

        hidden = any_of("hidden.")
        return {
            "elicits_reasoning": pa.array(any_of("reason.") | hidden),
            "hidden_reasoning": pa.array(hidden),
            "judge_prompt": pa.array(any_of("judge.")),
            "elicitation_score": pa.array((1.0 - np.exp(-raw)).astype(np.float32)),
            "elicitation_cues": join_cues({k: v for k, v in allc.items() if v.any()}, n),
        }
