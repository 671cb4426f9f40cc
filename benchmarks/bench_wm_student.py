"""Radioactivity with NEURAL students: does `trace` recognise a model trained on marked text?

``python -m benchmarks wm_student [--scale X]`` (needs the ``watermark`` extra and
../shared/data). Two pairs of students, each pair trained from the same initial weights,
on the same texts in the same order, the only difference being the mark:

- **lexical pair**: real answers and prompts from ../shared/data (the texts of
  ``bench_watermark.human_texts``), unmarked versus marked with the lexical watermark;
- **green-list pair**: SmolLM2-135M-Instruct's answers from ``wm_quality`` (GSM8K,
  word problems, chat prompts), plain versus generated with the green list.

A student is a GPT-2 built from a ``transformers`` config (2 layers, width 128, context
128, tied embeddings) over the SmolLM2 tokens seen in its training text (token ids are
mapped back before tracing), trained from scratch with AdamW. Each student then writes
samples at temperature 1 from a start token, and ``trace_texts`` (lexical) or the
green-list detector (token pairs) tests them, with the provider's key and with a wrong
key. Sizes at scale 1: 60,000 training tokens per lexical student
(``DISTILLGUARD_WM_STUDENT_LEX_TOKENS``), all wm_quality
answers per green-list student, 200 optimizer steps of 16 x 128 tokens, 256 samples of
96 tokens. One thread: the machine this was built on is a shared 2-core CPU.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

from distillguard.resources import shared_data_dir
from distillguard.watermark.lexical import LexicalKey, mark_text
from distillguard.watermark.trace import trace_texts

SECRET = "bench-provider-secret"
CONTEXT = 128


def _row(metric: str, setting: str, value: float, n: int) -> dict[str, Any]:
    # "shown": the value with 3 significant digits (p-values like 1e-40 read as 0.000 otherwise)
    v = float(value)
    return {"metric": metric, "setting": setting, "value": v, "shown": f"{v:.3g}", "n": int(n)}


class Student:
    """A tiny GPT-2 over a restricted SmolLM2 vocabulary (ids mapped in and out)."""

    def __init__(self, vocab: list[int], eos: int, seed: int) -> None:
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel

        self.vocab = vocab
        self.index = {t: i for i, t in enumerate(vocab)}
        self.eos = self.index[eos]
        torch.manual_seed(seed)
        cfg = GPT2Config(
            vocab_size=len(vocab),
            n_positions=CONTEXT,
            n_embd=128,
            n_layer=2,
            n_head=4,
            bos_token_id=self.eos,
            eos_token_id=self.eos,
        )
        self.model = GPT2LMHeadModel(cfg)

    @property
    def parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.model.parameters())

    def fit(self, docs: list[list[int]], steps: int, batch: int, seed: int) -> list[float]:
        """Train on the token stream of ``docs`` (EOS between documents); returns losses."""
        import torch

        stream: list[int] = []
        for d in docs:
            stream.append(self.eos)
            stream.extend(self.index[t] for t in d)
        data = torch.tensor(stream, dtype=torch.long)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(self.model.parameters(), lr=3e-3, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
        self.model.train()
        losses = []
        for _ in range(steps):
            starts = torch.randint(0, len(data) - CONTEXT - 1, (batch,), generator=gen)
            x = torch.stack([data[s : s + CONTEXT] for s in starts.tolist()])
            loss = self.model(input_ids=x, labels=x).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        return losses

    def sample(self, n: int, length: int, seed: int) -> list[list[int]]:
        """``n`` samples of ``length`` tokens at temperature 1, in SmolLM2 ids."""
        import torch

        torch.manual_seed(seed)
        self.model.eval()
        start = torch.full((n, 1), self.eos, dtype=torch.long)
        with torch.inference_mode():
            out = self.model.generate(
                start,
                attention_mask=torch.ones_like(start),
                do_sample=True,
                top_k=0,
                temperature=1.0,
                max_new_tokens=length,
                pad_token_id=self.eos,
                eos_token_id=None,
            )
        rows = []
        for row in out[:, 1:].tolist():
            rows.append([self.vocab[t] for t in row if t != self.eos])
        return rows


def _pair(
    name: str,
    plain: list[list[int]],
    marked: list[list[int]],
    steps: int,
    samples: int,
    judge: Any,
    eos: int,
) -> list[dict[str, Any]]:
    vocab = sorted({t for d in plain + marked for t in d} | {eos})
    rows = []
    for label, docs in (("unmarked", plain), ("marked", marked)):
        student = Student(vocab, eos, seed=7)
        c0, w0 = time.process_time(), time.perf_counter()
        losses = student.fit(docs, steps, 16, seed=11)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        gen = student.sample(samples, 96, seed=13)
        tokens = sum(len(d) for d in docs)
        rows.append(
            _row(
                f"{name} student trained on {label} text",
                f"{student.parameters / 1e6:.1f}M params, {tokens} train tokens, "
                f"loss {losses[0]:.2f}->{sum(losses[-20:]) / 20:.2f}, CPU {cpu:.0f}s (wall {wall:.0f}s)",
                cpu,
                steps,
            )
        )
        rows += judge(f"{name} student ({label})", gen)
    return rows


def _lexical_judge(tok: Any) -> Any:
    def judge(label: str, gen: list[list[int]]) -> list[dict[str, Any]]:
        texts = [tok.decode(g, skip_special_tokens=True) for g in gen]
        rows = []
        for keyname, key in (("provider key", SECRET), ("wrong key", "not-the-key")):
            for k in (len(texts) // 4, len(texts)):
                ev = trace_texts(texts[:k], key).evidence[0]
                rows.append(
                    _row(
                        f"trace lexical, {label}, {keyname}",
                        f"{k} samples: {ev.scored} slots, agree {ev.rate:.2f}",
                        ev.p_value,
                        k,
                    )
                )
        return rows

    return judge


def _greenlist_judge() -> Any:
    from distillguard.watermark.generation import load_greenlist_detector

    dets = {
        "provider key": load_greenlist_detector(SECRET)[0],
        "wrong key": load_greenlist_detector("not-the-key")[0],
    }

    def judge(label: str, gen: list[list[int]]) -> list[dict[str, Any]]:
        rows = []
        for keyname, det in dets.items():
            for k in (len(gen) // 4, len(gen)):
                ev = det.score_pooled(gen[:k])
                rows.append(
                    _row(
                        f"trace green list, {label}, {keyname}",
                        f"{k} samples, {ev.tokens} tokens: {ev.scored} pairs, green {ev.rate:.2f}",
                        ev.p_value,
                        k,
                    )
                )
        return rows

    return judge


def run(scale: float) -> list[dict[str, Any]]:
    """Train and trace both pairs of students (see the module docstring)."""
    data = shared_data_dir()
    if data is None:
        return [_row("wm_student skipped", "no ../shared/data", 0.0, 0)]
    try:
        import torch
        from transformers import AutoTokenizer

        from distillguard.watermark.generation import smollm2_gguf
    except Exception as exc:
        return [_row("wm_student skipped", str(exc)[:100], 0.0, 0)]
    from .bench_watermark import human_texts

    torch.set_num_threads(1)
    path = smollm2_gguf()
    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    eos = int(tok.eos_token_id)
    steps = max(20, round(200 * scale))
    samples = max(16, round(256 * scale))
    rows: list[dict[str, Any]] = []
    key = LexicalKey(SECRET)
    # lexical training tokens (default 60,000 at any scale; fewer tokens, more epochs each)
    budget = int(os.environ.get("DISTILLGUARD_WM_STUDENT_LEX_TOKENS", "60000"))
    plain_docs: list[list[int]] = []
    marked_docs: list[list[int]] = []
    texts = human_texts(data)
    random.Random(5).shuffle(texts)
    for text in texts:
        if sum(len(d) for d in plain_docs) >= budget:
            break
        plain_docs.append(list(tok(text, add_special_tokens=False)["input_ids"]))
        marked_docs.append(list(tok(mark_text(text, key), add_special_tokens=False)["input_ids"]))
    if not os.environ.get("DISTILLGUARD_WM_STUDENT_GREENLIST_ONLY"):
        lex_judge = _lexical_judge(tok)
        rows += _pair("lexical", plain_docs, marked_docs, steps, samples, lex_judge, eos)
    if os.environ.get("DISTILLGUARD_WM_STUDENT_LEXICAL_ONLY"):
        return rows
    from .bench_wm_quality import generate_all

    only = os.environ.get("DISTILLGUARD_WM_STUDENT_TASKS")  # e.g. "chat": a subset of tasks
    gen = generate_all(1.0, set(only.split(",")) if only else None)
    items = [i for its in gen["tasks"].values() for i in its]
    plain_g = [i["plain_ids"] for i in items if i["plain_ids"]]
    marked_g = [i["greenlist_ids"] for i in items if i["greenlist_ids"]]
    rows += _pair("green-list", plain_g, marked_g, steps, samples, _greenlist_judge(), eos)
    return rows
