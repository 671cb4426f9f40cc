"""Realistic records of the native format, shared by the ingestion tests."""

from __future__ import annotations

from typing import Any

ANTHROPIC_RECORD: dict[str, Any] = {
    "id": "ex_000000001",
    "timestamp": "2026-03-03T03:14:58.008Z",
    "account_id": "acct_73c2ce6f44",
    "org_id": "org_1d2e",
    "api_key_id": "key_9f1a",
    "access_path": "cloud:aws",
    "client": {
        "ip": "108.6.73.167",
        "user_agent": "Anthropic/Python 0.121.0",
        "headers": {
            "X-Stainless-Lang": "python",
            "x-stainless-os": "Linux",
            "authorization": "Bearer sk-secret",
            "x-api-key": "sk-ant-secret",
        },
    },
    "api": "anthropic.messages",
    "request": {
        "model": "frontier-1",
        "max_tokens": 16000,
        "system": [{"type": "text", "text": "You are a meticulous grader."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Solve step by step:"},
                    {"type": "image", "source": {"type": "base64", "data": "iVBORw0KGgo="}},
                    {"type": "text", "text": "what is 17 * 23?"},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me compute."},
                    {"type": "tool_use", "id": "tu_1", "name": "calculator", "input": {"x": 17}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "391"}],
            },
            {"role": "user", "content": "Now explain your reasoning in detail."},
        ],
        "tools": [
            {
                "name": "calculator",
                "description": "Evaluate arithmetic",
                "input_schema": {"type": "object", "properties": {"x": {"type": "integer"}}},
            },
            {"type": "web_search_20250305", "name": "web_search"},
        ],
        "tool_choice": {"type": "tool", "name": "calculator"},
        "thinking": {"type": "enabled", "budget_tokens": 12000},
        "temperature": 1,
        "stop_sequences": ["</answer>", "END"],
        "metadata": {"user_id": "end-user-42"},
    },
    "response": {
        "status": 200,
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 812, "output_tokens": 5120, "cache_read_input_tokens": 300},
        "content": [{"type": "text", "text": "17 * 23 = 391 because ..."}],
    },
    "latency_ms": 48210,
}

OPENAI_RECORD: dict[str, Any] = {
    "id": "ex_000000002",
    "timestamp": "2026-03-03T04:00:00+02:00",
    "account_id": "acct_0b7e",
    "api": "openai.chat_completions",
    "client": {"ip": "2001:db8::1", "user_agent": "OpenAI/Python 1.99.1"},
    "request": {
        "model": "frontier-1",
        "messages": [
            {"role": "developer", "content": "Answer as JSON."},
            {"role": "system", "content": [{"type": "text", "text": "Be terse."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Grade this answer:"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q": "rubric"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "rubric: 5 points"},
            {"role": "user", "content": "Give the score."},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                },
            }
        ],
        "tool_choice": "required",
        "max_completion_tokens": 2048,
        "max_tokens": 99,
        "n": 4,
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 1234,
        "logprobs": True,
        "top_logprobs": 5,
        "reasoning_effort": "high",
        "response_format": {"type": "json_schema", "json_schema": {"name": "s"}},
        "stop": "\n\n",
        "stream": True,
        "safety_identifier": "user-hash-9",
    },
    "response": {
        "status": 200,
        "stop_reason": "tool_calls",
        "usage": {
            "prompt_tokens": 120,
            "completion_tokens": 900,
            "completion_tokens_details": {"reasoning_tokens": 640},
            "prompt_tokens_details": {"cached_tokens": 64},
        },
    },
}


def native(i: int, **over: Any) -> dict[str, Any]:
    """A small valid native record with id ``ex_<i>``."""
    rec: dict[str, Any] = {
        "id": f"ex_{i:06d}",
        "timestamp": f"2026-03-03T03:{i % 60:02d}:00Z",
        "account_id": f"acct_{i % 7}",
        "api": "anthropic.messages" if i % 2 else "openai.chat_completions",
        "request": {"model": "frontier-1", "messages": [{"role": "user", "content": f"q{i}"}]},
        "response": {"status": 200, "usage": {"input_tokens": 10, "output_tokens": i}},
    }
    rec.update(over)
    return rec
