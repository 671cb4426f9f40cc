"""Marking answers on their way out of a gateway, when the decision says ``mark``.

:func:`resolve_key` reads the provider's secret from where the policy's ``mark`` section
says it is (an environment variable or a file; never the policy itself).
:func:`mark_response` applies the lexical watermark to every answer text of an OpenAI
chat-completions or Anthropic messages response, as a plain dict or as the response
objects LiteLLM passes to its post-call hooks, and drops log-probabilities (they would
describe the unmarked tokens). :class:`StreamMarker` does the same for a streamed
answer: it holds the text back and releases it marked when the stream ends.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .lexical import LexicalKey, mark_text

__all__ = ["StreamMarker", "lexical_key", "mark_response", "resolve_key"]


def resolve_key(key_env: str | None, key_file: str | Path | None) -> str:
    """The marking secret from the file ``key_file`` or else the variable ``key_env``."""
    if key_file:
        path = Path(key_file)
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the watermark key: {exc}") from exc
        if not secret:
            raise ConfigError(f"{path}: the watermark key file is empty")
        return secret
    if key_env:
        secret = os.environ.get(key_env, "").strip()
        if not secret:
            raise ConfigError(f"the watermark key variable {key_env} is unset or empty")
        return secret
    raise ConfigError("no watermark key source: set mark.key_env or mark.key_file")


@lru_cache(maxsize=8)
def lexical_key(secret: str) -> LexicalKey:
    """The (cached) :class:`LexicalKey` of a secret."""
    return LexicalKey(secret)


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _set(obj: Any, name: str, value: Any) -> None:
    if isinstance(obj, dict):
        obj[name] = value
    else:
        setattr(obj, name, value)


def mark_response(response: Any, secret: str) -> Any:
    """Mark every answer text in ``response`` in place and return it.

    OpenAI shape: ``choices[].message.content`` (or ``.text``), log-probabilities
    removed. Anthropic shape: every ``content[]`` block of type ``text``. Anything else
    (tool calls, images, thinking blocks) is left as it is.
    """
    key = lexical_key(secret)
    choices = _get(response, "choices")
    if isinstance(choices, list):
        for choice in choices:
            if _get(choice, "logprobs") is not None:
                _set(choice, "logprobs", None)
            msg = _get(choice, "message")
            if msg is not None and isinstance(_get(msg, "content"), str):
                _set(msg, "content", mark_text(_get(msg, "content"), key))
            if isinstance(_get(choice, "text"), str):
                _set(choice, "text", mark_text(_get(choice, "text"), key))
        return response
    blocks = _get(response, "content")
    if isinstance(blocks, list):
        for block in blocks:
            if _get(block, "type") == "text" and isinstance(_get(block, "text"), str):
                _set(block, "text", mark_text(_get(block, "text"), key))
    return response


class StreamMarker:
    """Marks a streamed OpenAI-style answer: the caller holds the chunks back.

    Feed every chunk to :meth:`push` (it records where each choice's text is), then call
    :meth:`finish`, which puts each choice's whole text, marked, into that choice's first
    text delta and empties the others; then send the chunks. A marked stream therefore
    arrives at once at its end: the price of marking what is streamed.
    """

    def __init__(self, secret: str) -> None:
        self._key = lexical_key(secret)
        self._parts: dict[int, list[tuple[Any, str]]] = {}

    def push(self, chunk: Any) -> None:
        """Record the answer text deltas of one chunk (log-probabilities are dropped)."""
        for choice in _get(chunk, "choices") or []:
            if _get(choice, "logprobs") is not None:
                _set(choice, "logprobs", None)
            delta = _get(choice, "delta")
            text = _get(delta, "content") if delta is not None else None
            if isinstance(text, str) and text:
                self._parts.setdefault(int(_get(choice, "index") or 0), []).append((delta, text))

    def finish(self) -> None:
        """Rewrite the recorded deltas: all marked text in the first, the rest empty."""
        for parts in self._parts.values():
            marked = mark_text("".join(t for _, t in parts), self._key)
            for i, (delta, _) in enumerate(parts):
                _set(delta, "content", marked if i == 0 else "")
