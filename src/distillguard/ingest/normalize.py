"""Request and response bodies of both APIs onto the canonical exchange columns.

``anthropic.messages`` and ``openai.chat_completions`` bodies are read key by key from
the parsed JSON (never through an inferred nested schema), so each record may declare
different tools, content blocks and parameters. The same functions serve the native
export, LiteLLM payloads and OpenTelemetry spans.

Message content may be a string or a list of blocks. Text blocks count as text; image,
document and audio blocks carry none; ``tool_result`` blocks (Anthropic) and ``tool`` /
``function`` turns (OpenAI) set ``has_tool_results``. A user message holding only tool
results is not a user turn. A prompt is *redacted* when the messages are absent, when a
message has no content, or when its content is only a hash (``sha256:<hex>``, or a
``content_hash`` / ``content_sha256`` key instead of ``content``); texts then stay null.
"""

from __future__ import annotations

import re
from typing import Any

from ..schema import MAX_TEXT_CHARS
from ._fields import (
    bounded,
    opt_bool,
    opt_dict,
    opt_float,
    opt_int,
    opt_list,
    opt_str,
    stop_kind,
    tools_hash,
    wrong_type,
)

__all__ = [
    "apply_anthropic_request",
    "apply_messages",
    "apply_openai_request",
    "apply_response",
    "apply_tools",
    "apply_usage",
    "content_text",
]

_HASH = re.compile(r"(?:sha256|sha1|sha512|md5|blake2b|hash)[:=]?[0-9a-fA-F]{16,128}\Z")
_TEXT_TYPES = frozenset({"text", "input_text", "output_text"})
_TOOL_RESULT_TYPES = frozenset({"tool_result", "tool_call_response", "function_call_output"})


def _is_hash(s: str) -> bool:
    return 16 <= len(s) <= 140 and _HASH.match(s) is not None


def content_text(content: object, field: str) -> tuple[str | None, bool, bool]:
    """Text of a message content: ``(text or None, has tool result, is redacted)``."""
    if isinstance(content, str):
        if _is_hash(content):
            return None, False, True
        return content, False, False
    if content is None:
        return None, False, True
    if isinstance(content, dict):  # a single block, or a hash placeholder
        content = [content]
    if not isinstance(content, list):
        raise wrong_type(field, "string or array of blocks", content)
    parts: list[str] = []
    tool_result = False
    redacted = False
    for block in content:
        if isinstance(block, str):
            parts.append(block)
            continue
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind is not None and not isinstance(kind, str):
            kind = ""  # a type that is no string (hostile input): an unknown block
        if kind in _TEXT_TYPES or (kind is None and "text" in block):
            text = block.get("text", block.get("content"))
            if isinstance(text, str):
                if _is_hash(text):
                    redacted = True
                else:
                    parts.append(text)
            elif "content_hash" in block or "content_sha256" in block or "hash" in block:
                redacted = True
        elif kind in _TOOL_RESULT_TYPES:
            tool_result = True
        elif "content_hash" in block or "content_sha256" in block or "hash" in block:
            redacted = True
    text = "\n".join(parts) if parts else None
    return text, tool_result, redacted and text is None


def _join_bounded(texts: list[str]) -> str:
    out: list[str] = []
    size = 0
    for t in texts:
        out.append(t)
        size += len(t) + 2
        if size > MAX_TEXT_CHARS:
            break
    return "\n\n".join(out)


def apply_messages(
    msgs: object, row: dict[str, Any], field: str, system: list[str] | None = None
) -> None:
    """Fill turn counts, texts, tool-result and redaction columns from ``messages``.

    ``system`` collects system/developer turns found inside the list (OpenAI style);
    the caller decides how to combine them with a top-level system prompt.
    """
    if msgs is None:
        row["prompt_redacted"] = True
        row["n_messages"] = 0
        row["n_user_turns"] = 0
        row["n_assistant_turns"] = 0
        row["has_tool_results"] = False
        return
    msgs = opt_list(msgs, field)
    user_texts: list[str] = []
    n_user = n_asst = n_msgs = 0
    tool_results = redacted = False
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise wrong_type(f"{field}[{i}]", "object", m)
        role = m.get("role")
        if role in ("system", "developer"):
            if system is not None:
                text, _, red = content_text(m.get("content"), f"{field}[{i}].content")
                if text:
                    system.append(text)
                redacted = redacted or red
            continue
        n_msgs += 1
        if role in ("tool", "function", "ipython"):
            tool_results = True
            continue
        if role == "assistant":
            n_asst += 1
            continue
        if "content" in m:
            content = m["content"]
        elif "parts" in m:  # OpenTelemetry GenAI message shape
            content = m["parts"]
        else:
            content = None
        text, tr, red = content_text(content, f"{field}[{i}].content")
        tool_results = tool_results or tr
        if tr and text is None:
            continue  # a turn that only returns tool results
        n_user += 1
        if text is not None:
            user_texts.append(text)
        redacted = redacted or red
    row["n_messages"] = n_msgs
    row["n_user_turns"] = n_user
    row["n_assistant_turns"] = n_asst
    row["has_tool_results"] = tool_results
    if user_texts:
        row["user_text"] = bounded(_join_bounded(user_texts), row)
        row["last_user_text"] = bounded(user_texts[-1], row)
    row["prompt_redacted"] = redacted or n_msgs == 0


def _system_text(system: object, field: str) -> tuple[str | None, bool]:
    if system is None:
        return None, False
    text, _, red = content_text(system, field)
    return text, red


def _tool_names(tools: list[Any], field: str) -> list[str]:
    names: list[str] = []
    for i, t in enumerate(tools):
        if not isinstance(t, dict):
            raise wrong_type(f"{field}[{i}]", "object", t)
        fn = t.get("function")
        name = fn.get("name") if isinstance(fn, dict) else t.get("name")
        if name is None and isinstance(t.get("type"), str):
            name = t["type"]  # server tools: web_search_20250305, code_execution, ...
        names.append(opt_str(name, f"{field}[{i}].name", 256) or "")
    return names


def apply_tools(tools: object, row: dict[str, Any], field: str) -> None:
    """Fill n_tools, tool_names and tools_hash from a list of tool declarations."""
    lst = opt_list(tools, field)
    row["n_tools"] = len(lst)
    if lst:
        row["tool_names"] = _tool_names(lst, field)
        row["tools_hash"] = tools_hash(lst, field)


def _tool_choice(tc: object, field: str) -> str | None:
    if tc is None or isinstance(tc, str):
        return opt_str(tc, field, 64)
    if not isinstance(tc, dict):
        raise wrong_type(field, "string or object", tc)
    kind = tc.get("type")
    fn = tc.get("function")
    name = tc.get("name") or (fn.get("name") if isinstance(fn, dict) else None)
    if kind in ("tool", "function") and name:
        return f"tool:{opt_str(name, field + '.name', 256)}"
    return opt_str(kind, field + ".type", 64)


def apply_anthropic_request(req: dict[str, Any], row: dict[str, Any], field: str) -> None:
    """Fill request columns from an Anthropic Messages request body."""
    row["model"] = opt_str(req.get("model"), f"{field}.model", 256)
    row["max_tokens"] = opt_int(req.get("max_tokens"), f"{field}.max_tokens")
    sys_text, sys_red = _system_text(req.get("system"), f"{field}.system")
    apply_messages(req.get("messages"), row, f"{field}.messages")
    row["system_text"] = bounded(sys_text, row)
    if sys_red:
        row["prompt_redacted"] = True
    if req.get("redacted") is True:
        row["prompt_redacted"] = True
    apply_tools(req.get("tools"), row, f"{field}.tools")
    row["tool_choice"] = _tool_choice(req.get("tool_choice"), f"{field}.tool_choice")
    thinking = opt_dict(req.get("thinking"), f"{field}.thinking")
    if thinking:
        kind = thinking.get("type")
        row["thinking_enabled"] = kind in ("enabled", "adaptive")
        row["thinking_budget"] = opt_int(
            thinking.get("budget_tokens"), f"{field}.thinking.budget_tokens"
        )
    else:
        row["thinking_enabled"] = False
    row["n_choices"] = 1
    row["temperature"] = opt_float(req.get("temperature"), f"{field}.temperature")
    row["top_p"] = opt_float(req.get("top_p"), f"{field}.top_p")
    row["stream"] = opt_bool(req.get("stream"), f"{field}.stream")
    row["n_stop_sequences"] = len(opt_list(req.get("stop_sequences"), f"{field}.stop_sequences"))
    meta = opt_dict(req.get("metadata"), f"{field}.metadata")
    if meta.get("user_id") is not None:
        row["end_user_id"] = opt_str(meta["user_id"], f"{field}.metadata.user_id")


def apply_openai_request(req: dict[str, Any], row: dict[str, Any], field: str) -> None:
    """Fill request columns from an OpenAI Chat Completions request body."""
    row["model"] = opt_str(req.get("model"), f"{field}.model", 256)
    mt = req.get("max_completion_tokens")
    if mt is None:
        row["max_tokens"] = opt_int(req.get("max_tokens"), f"{field}.max_tokens")
    else:
        row["max_tokens"] = opt_int(mt, f"{field}.max_completion_tokens")
    system: list[str] = []
    apply_messages(req.get("messages"), row, f"{field}.messages", system)
    if system:
        row["system_text"] = bounded("\n\n".join(system), row)
    if req.get("redacted") is True:
        row["prompt_redacted"] = True
    tools = req.get("tools")
    if tools is None and req.get("functions") is not None:
        tools = req["functions"]
    apply_tools(tools, row, f"{field}.tools")
    row["tool_choice"] = _tool_choice(req.get("tool_choice"), f"{field}.tool_choice")
    row["reasoning_effort"] = opt_str(req.get("reasoning_effort"), f"{field}.reasoning_effort", 32)
    n = opt_int(req.get("n"), f"{field}.n")
    row["n_choices"] = 1 if n is None else n
    row["temperature"] = opt_float(req.get("temperature"), f"{field}.temperature")
    row["top_p"] = opt_float(req.get("top_p"), f"{field}.top_p")
    row["seed"] = opt_int(req.get("seed"), f"{field}.seed")
    row["logprobs"] = opt_bool(req.get("logprobs"), f"{field}.logprobs")
    row["top_logprobs"] = opt_int(req.get("top_logprobs"), f"{field}.top_logprobs")
    row["stream"] = opt_bool(req.get("stream"), f"{field}.stream")
    rf = req.get("response_format")
    if isinstance(rf, dict):
        row["response_format"] = opt_str(rf.get("type"), f"{field}.response_format.type", 64)
    else:
        row["response_format"] = opt_str(rf, f"{field}.response_format", 64)
    stop = req.get("stop")
    row["n_stop_sequences"] = 1 if isinstance(stop, str) else len(opt_list(stop, f"{field}.stop"))
    user = req.get("safety_identifier")
    if user is None:
        user = req.get("user")
    row["end_user_id"] = opt_str(user, f"{field}.safety_identifier")


def apply_usage(usage: dict[str, Any], row: dict[str, Any], field: str) -> None:
    """Fill token columns from an Anthropic or OpenAI usage block (either key set)."""
    it = usage.get("input_tokens")
    if it is None:
        it = usage.get("prompt_tokens")
    ot = usage.get("output_tokens")
    if ot is None:
        ot = usage.get("completion_tokens")
    row["input_tokens"] = opt_int(it, f"{field}.input_tokens")
    row["output_tokens"] = opt_int(ot, f"{field}.output_tokens")
    details = opt_dict(usage.get("completion_tokens_details"), f"{field}.completion_tokens_details")
    rt = details.get("reasoning_tokens", usage.get("reasoning_tokens"))
    row["reasoning_tokens"] = opt_int(rt, f"{field}.reasoning_tokens")
    cr = usage.get("cache_read_input_tokens")
    if cr is None:
        pd = opt_dict(usage.get("prompt_tokens_details"), f"{field}.prompt_tokens_details")
        cr = pd.get("cached_tokens")
    row["cache_read_tokens"] = opt_int(cr, f"{field}.cache_read_input_tokens")


def apply_response(resp: dict[str, Any], row: dict[str, Any], field: str) -> None:
    """Fill status, stop reason, usage and (when logged) the generated text."""
    row["status"] = opt_int(resp.get("status"), f"{field}.status")
    reason = resp.get("stop_reason")
    choices = resp.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    if reason is None:
        reason = resp.get("finish_reason")
    if reason is None and isinstance(first, dict):
        reason = first.get("finish_reason")
    row["stop_reason"] = opt_str(reason, f"{field}.stop_reason", 64)
    row["stop_kind"] = stop_kind(row["stop_reason"])
    apply_usage(opt_dict(resp.get("usage"), f"{field}.usage"), row, f"{field}.usage")
    content = resp.get("content")
    if content is None and isinstance(first, dict):
        msg = first.get("message")
        content = msg.get("content") if isinstance(msg, dict) else None
    if content is not None:
        text, _, _ = content_text(content, f"{field}.content")
        row["response_text"] = bounded(text, row)
