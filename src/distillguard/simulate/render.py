"""Turn a neutral description of an exchange into a real API request and response.

Sources describe a conversation once (system prompt, user and assistant turns, tool
calls and results, sampling parameters, how the answer ended) and :func:`exchange_body`
writes it either as an Anthropic Messages body or as an OpenAI Chat Completions body,
with the usage block, stop reason and latency those APIs report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .prompts import Tool

__all__ = ["Call", "Turn", "exchange_body", "latency_ms"]

#: A conversation turn: ("user", text) | ("assistant", text) | ("tool_call", id, name, args) | ("tool_result", id, text)
Turn = tuple[Any, ...]

_STOP = {
    "anthropic.messages": {
        "end": "end_turn",
        "tool": "tool_use",
        "length": "max_tokens",
        "stop_sequence": "stop_sequence",
    },
    "openai.chat_completions": {
        "end": "stop",
        "tool": "tool_calls",
        "length": "length",
        "stop_sequence": "stop",
    },
}


@dataclass
class Call:
    """Everything needed to write one exchange in either API."""

    model: str
    turns: list[Turn]
    out_tokens: int
    max_tokens: int
    system: str | None = None
    tools: list[Tool] | None = None
    tool_choice: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    thinking_budget: int | None = None
    reasoning_effort: str | None = None
    n: int | None = None
    seed: int | None = None
    stream: bool | None = None
    end_user: str | None = None
    response_format: str | None = None
    stop: str = "end"
    cached_tokens: int = 0
    hidden_input_tokens: int = 0
    status: int = 200
    error_rate: float = 0.004
    extra: dict[str, Any] = field(default_factory=dict)


_TOOL_CACHE: dict[int, tuple[list[Tool], int, list[dict[str, Any]]]] = {}


def _tool_facts(tools: list[Tool]) -> tuple[int, list[dict[str, Any]]]:
    """Characters of a tool list and its OpenAI form, cached (tool lists are shared)."""
    hit = _TOOL_CACHE.get(id(tools))
    if hit is None or hit[0] is not tools:
        oa = [
            {
                "type": "function",
                "function": {
                    "name": x["name"],
                    "description": x.get("description", ""),
                    "parameters": x.get("input_schema", {}),
                },
            }
            for x in tools
        ]
        hit = (tools, sum(len(str(x)) for x in tools), oa)
        if len(_TOOL_CACHE) > 10_000:
            _TOOL_CACHE.clear()
        _TOOL_CACHE[id(tools)] = hit
    return hit[1], hit[2]


def _anthropic(c: Call) -> tuple[dict[str, Any], int]:
    msgs: list[dict[str, Any]] = []
    chars = len(c.system or "")
    for t in c.turns:
        kind = t[0]
        if kind == "user":
            msgs.append({"role": "user", "content": t[1]})
            chars += len(t[1])
        elif kind == "assistant":
            msgs.append({"role": "assistant", "content": t[1]})
            chars += len(t[1])
        elif kind == "tool_call":
            block = {"type": "tool_use", "id": t[1], "name": t[2], "input": t[3]}
            if msgs and msgs[-1]["role"] == "assistant" and isinstance(msgs[-1]["content"], list):
                msgs[-1]["content"].append(block)
            else:
                msgs.append({"role": "assistant", "content": [block]})
            chars += 60
        elif kind == "tool_result":
            msgs.append(
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": t[1], "content": t[2]}],
                }
            )
            chars += len(t[2])
    req: dict[str, Any] = {"model": c.model, "max_tokens": c.max_tokens}
    if c.system:
        req["system"] = c.system
    req["messages"] = msgs
    if c.tools:
        req["tools"] = c.tools
        chars += _tool_facts(c.tools)[0]
        if c.tool_choice:
            req["tool_choice"] = {"type": c.tool_choice}
    if c.thinking_budget:
        req["thinking"] = {"type": "enabled", "budget_tokens": c.thinking_budget}
    if c.temperature is not None:
        req["temperature"] = c.temperature
    if c.top_p is not None:
        req["top_p"] = c.top_p
    if c.stream is not None:
        req["stream"] = c.stream
    if c.end_user:
        req["metadata"] = {"user_id": c.end_user}
    return req, chars


def _openai(c: Call) -> tuple[dict[str, Any], int]:
    msgs: list[dict[str, Any]] = []
    chars = 0
    if c.system:
        msgs.append({"role": "system", "content": c.system})
        chars += len(c.system)
    for t in c.turns:
        kind = t[0]
        if kind in ("user", "assistant"):
            msgs.append({"role": kind, "content": t[1]})
            chars += len(t[1])
        elif kind == "tool_call":
            call = {
                "id": t[1],
                "type": "function",
                "function": {"name": t[2], "arguments": _args(t[3])},
            }
            if msgs and msgs[-1]["role"] == "assistant" and "tool_calls" in msgs[-1]:
                msgs[-1]["tool_calls"].append(call)
            else:
                msgs.append({"role": "assistant", "content": None, "tool_calls": [call]})
            chars += 60
        elif kind == "tool_result":
            msgs.append({"role": "tool", "tool_call_id": t[1], "content": t[2]})
            chars += len(t[2])
    req: dict[str, Any] = {"model": c.model, "messages": msgs}
    if c.tools:
        n_chars, oa = _tool_facts(c.tools)
        req["tools"] = oa
        chars += n_chars
        if c.tool_choice:
            req["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}.get(
                c.tool_choice, "auto"
            )
    req["max_completion_tokens"] = c.max_tokens
    if c.reasoning_effort:
        req["reasoning_effort"] = c.reasoning_effort
    if c.n and c.n > 1:
        req["n"] = c.n
    if c.temperature is not None:
        req["temperature"] = c.temperature
    if c.top_p is not None:
        req["top_p"] = c.top_p
    if c.seed is not None:
        req["seed"] = c.seed
    if c.response_format:
        req["response_format"] = {"type": c.response_format}
    if c.stream is not None:
        req["stream"] = c.stream
    if c.end_user:
        req["safety_identifier"] = c.end_user
    return req, chars


def _args(a: Any) -> str:
    import orjson

    return orjson.dumps(a).decode()


def latency_ms(out_tokens: int, reasoning: int, u: float, tps: float = 70.0) -> int:
    """Time to the full response: queueing and prefill, then decoding at ``tps`` tokens/s."""
    return int(350 + 900 * u + (out_tokens + reasoning) / (tps * (0.75 + 0.5 * u)) * 1000)


def exchange_body(api: str, c: Call, u: float) -> dict[str, Any]:
    """``{"api", "request", "response", "latency_ms"}`` for ``c`` written in ``api``."""
    out = min(c.out_tokens, c.max_tokens) if c.max_tokens else c.out_tokens
    stop = "length" if c.max_tokens and c.out_tokens >= c.max_tokens else c.stop
    if api == "openai.chat_completions":
        req, chars = _openai(c)
        reasoning = int(out * (0.55 + 0.3 * u)) if c.reasoning_effort else 0
        in_tok = chars // 4 + 8 * len(req["messages"]) + c.hidden_input_tokens
        usage: dict[str, Any] = {
            "prompt_tokens": in_tok,
            "completion_tokens": out,
            "total_tokens": in_tok + out,
        }
        if c.cached_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": min(c.cached_tokens, in_tok)}
        if reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    else:
        req, chars = _anthropic(c)
        reasoning = int(out * (0.4 + 0.3 * u)) if c.thinking_budget else 0
        in_tok = chars // 4 + 6 * len(req["messages"]) + c.hidden_input_tokens
        usage = {"input_tokens": max(in_tok - c.cached_tokens, 1), "output_tokens": out}
        if c.cached_tokens:
            usage["cache_read_input_tokens"] = c.cached_tokens
            usage["cache_creation_input_tokens"] = 0
    if u < c.error_rate:  # rate limited or overloaded: the request is logged, nothing is generated
        status = 429 if u < 0.7 * c.error_rate else (529 if api == "anthropic.messages" else 500)
        err = {429: "rate_limit_error", 529: "overloaded_error", 500: "api_error"}[status]
        failed = {"status": status, "error": {"type": err}}
        return {
            "api": api,
            "request": req,
            "response": failed,
            "latency_ms": int(40 + 400 * u / c.error_rate),
        }
    resp: dict[str, Any] = {"status": c.status, "stop_reason": _STOP[api][stop], "usage": usage}
    return {"api": api, "request": req, "response": resp, "latency_ms": latency_ms(out, 0, u)}
