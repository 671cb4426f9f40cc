"""normalize_native: both API bodies onto the canonical columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pytest

from distillguard.errors import InputError
from distillguard.ingest import normalize_native
from distillguard.schema import EXCHANGE_SCHEMA, MAX_TEXT_CHARS


def test_row_has_exactly_the_schema_columns_and_converts(anthropic_record: dict[str, Any]) -> None:
    row = normalize_native(anthropic_record)
    assert list(row) == EXCHANGE_SCHEMA.names
    batch = pa.RecordBatch.from_pylist([row], schema=EXCHANGE_SCHEMA)
    assert batch.num_rows == 1


def test_anthropic_blocks_tools_thinking(anthropic_record: dict[str, Any]) -> None:
    row = normalize_native(anthropic_record)
    assert row["timestamp"] == datetime(2026, 3, 3, 3, 14, 58, 8000, tzinfo=UTC)
    assert row["system_text"] == "You are a meticulous grader."
    # text blocks joined, the image carries no text, the tool_result-only turn is not a user turn
    assert row["user_text"] == (
        "Solve step by step:\nwhat is 17 * 23?\n\nNow explain your reasoning in detail."
    )
    assert row["last_user_text"] == "Now explain your reasoning in detail."
    assert (row["n_messages"], row["n_user_turns"], row["n_assistant_turns"]) == (4, 2, 1)
    assert row["has_tool_results"] is True
    assert row["n_tools"] == 2 and row["tool_names"] == ["calculator", "web_search"]
    assert row["tool_choice"] == "tool:calculator"
    assert row["thinking_enabled"] is True and row["thinking_budget"] == 12000
    assert row["n_stop_sequences"] == 2 and row["n_choices"] == 1
    assert row["end_user_id"] == "end-user-42"
    assert row["stop_kind"] == "end" and row["cache_read_tokens"] == 300
    assert (row["input_tokens"], row["output_tokens"]) == (812, 5120)
    assert row["response_text"] == "17 * 23 = 391 because ..."
    assert row["access_path"] == "cloud:aws" and row["latency_ms"] == 48210.0
    assert row["prompt_redacted"] is False and row["text_truncated"] is False


def test_headers_are_lowercased_sorted_and_credentials_dropped(
    anthropic_record: dict[str, Any],
) -> None:
    row = normalize_native(anthropic_record)
    headers = orjson.loads(row["client_headers"])
    assert headers == {"x-stainless-lang": "python", "x-stainless-os": "Linux"}
    assert "secret" not in row["client_headers"]


def test_openai_turns_tool_calls_and_sampling(openai_record: dict[str, Any]) -> None:
    row = normalize_native(openai_record)
    assert row["timestamp"] == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # offset normalised
    assert row["system_text"] == "Answer as JSON.\n\nBe terse."
    assert row["user_text"] == "Grade this answer:\n\nGive the score."
    assert (row["n_messages"], row["n_user_turns"], row["n_assistant_turns"]) == (4, 2, 1)
    assert row["has_tool_results"] is True
    assert row["tool_names"] == ["lookup"] and row["tool_choice"] == "required"
    assert row["max_tokens"] == 2048  # max_completion_tokens wins over legacy max_tokens
    assert row["n_choices"] == 4 and row["seed"] == 1234
    assert row["logprobs"] is True and row["top_logprobs"] == 5
    assert row["reasoning_effort"] == "high" and row["response_format"] == "json_schema"
    assert row["n_stop_sequences"] == 1 and row["stream"] is True
    assert row["end_user_id"] == "user-hash-9"
    assert row["stop_kind"] == "tool" and row["reasoning_tokens"] == 640
    assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"]) == (120, 900, 64)
    assert row["thinking_enabled"] is None


def test_legacy_openai_fields(openai_record: dict[str, Any]) -> None:
    req = openai_record["request"]
    del req["max_completion_tokens"], req["safety_identifier"], req["n"]
    req["user"] = "legacy-user"
    req["functions"] = [{"name": "old_fn"}]
    del req["tools"]
    row = normalize_native(openai_record)
    assert row["max_tokens"] == 99 and row["end_user_id"] == "legacy-user"
    assert row["tool_names"] == ["old_fn"] and row["n_choices"] == 1


def test_tools_hash_is_order_of_keys_insensitive_but_tool_sensitive(
    anthropic_record: dict[str, Any],
) -> None:
    a = normalize_native(anthropic_record)["tools_hash"]
    tool = anthropic_record["request"]["tools"][0]
    anthropic_record["request"]["tools"][0] = dict(reversed(list(tool.items())))
    assert normalize_native(anthropic_record)["tools_hash"] == a
    tool["description"] = "something else"
    anthropic_record["request"]["tools"][0] = tool
    assert normalize_native(anthropic_record)["tools_hash"] != a


@pytest.mark.parametrize(
    "messages",
    [
        None,
        [{"role": "user", "content_sha256": "ab" * 32}],
        [{"role": "user", "content": "sha256:" + "0f" * 32}],
        [{"role": "user", "content": [{"type": "text", "content_hash": "x"}]}],
    ],
    ids=["absent", "hash-key", "hash-string", "hash-block"],
)
def test_redacted_prompts_leave_texts_null(anthropic_record: dict[str, Any], messages: Any) -> None:
    req = anthropic_record["request"]
    if messages is None:
        del req["messages"]
    else:
        req["messages"] = messages
    row = normalize_native(anthropic_record)
    assert row["prompt_redacted"] is True
    assert row["user_text"] is None and row["last_user_text"] is None


def test_image_only_prompt_is_not_redacted(anthropic_record: dict[str, Any]) -> None:
    block = {"type": "image", "source": {"type": "base64", "data": "iVBORw0KGgo="}}
    anthropic_record["request"]["messages"] = [{"role": "user", "content": [block]}]
    row = normalize_native(anthropic_record)
    assert row["prompt_redacted"] is False and row["user_text"] is None
    assert row["n_user_turns"] == 1


def test_long_text_is_cut_and_flagged(anthropic_record: dict[str, Any]) -> None:
    anthropic_record["request"]["messages"] = [{"role": "user", "content": "x" * 100_000}]
    row = normalize_native(anthropic_record)
    assert len(row["user_text"]) == MAX_TEXT_CHARS and row["text_truncated"] is True


def test_control_and_bidi_characters_are_removed(anthropic_record: dict[str, Any]) -> None:
    anthropic_record["request"]["messages"] = [
        {"role": "user", "content": "ok\x1b[31mred\x00\u202eevil\nline2\tcol"}
    ]
    anthropic_record["account_id"] = "acct\x07_1"
    row = normalize_native(anthropic_record)
    assert row["user_text"] == "ok[31mredevil\nline2\tcol"
    assert row["account_id"] == "acct_1"


@pytest.mark.parametrize(
    ("mutate", "reason", "field"),
    [
        (lambda r: r.pop("account_id"), "missing_field", "account_id"),
        (lambda r: r.pop("timestamp"), "missing_field", "timestamp"),
        (lambda r: r.pop("id"), "missing_field", "id"),
        (lambda r: r.update(timestamp="yesterday"), "bad_timestamp", "timestamp"),
        (lambda r: r.update(api="google.gemini"), "unknown_api", "api"),
        (lambda r: r.update(account_id=["a"]), "wrong_type", "account_id"),
        (lambda r: r["request"].update(max_tokens="16000"), "wrong_type", "request.max_tokens"),
        (lambda r: r["request"].update(messages="hi"), "wrong_type", "request.messages"),
        (lambda r: r["response"].update(usage=[]), "wrong_type", "response.usage"),
    ],
)
def test_bad_records_name_reason_and_field(
    anthropic_record: dict[str, Any], mutate: Any, reason: str, field: str
) -> None:
    mutate(anthropic_record)
    with pytest.raises(InputError) as exc:
        normalize_native(anthropic_record)
    assert exc.value.reason == reason and exc.value.field == field
