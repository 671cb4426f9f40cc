"""LiteLLM StandardLoggingPayload and OpenTelemetry GenAI spans onto the canonical columns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from distillguard.errors import InputError
from distillguard.ingest import (
    IngestSummary,
    detect_format,
    normalize_litellm,
    normalize_otel_span,
    read_exchanges,
)


def litellm_payload(**over: Any) -> dict[str, Any]:
    """A StandardLoggingPayload as a LiteLLM CustomLogger receives it."""
    p: dict[str, Any] = {
        "id": "chatcmpl-7f3a",
        "trace_id": "tr-1",
        "call_type": "acompletion",
        "status": "success",
        "startTime": 1772507698.25,
        "endTime": 1772507700.75,
        "model": "frontier-1",
        "model_group": "frontier",
        "api_base": "https://api.example.com",
        "prompt_tokens": 150,
        "completion_tokens": 700,
        "total_tokens": 850,
        "end_user": "customer-7",
        "requester_ip_address": "203.0.113.9",
        "metadata": {
            "user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
            "user_api_key_user_id": "acct_litellm_1",
            "user_api_key_team_id": "team_a",
            "user_api_key_org_id": "org_x",
        },
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": [{"type": "text", "text": "Write a proof."}]},
        ],
        "model_parameters": {
            "temperature": 0.2,
            "max_tokens": 4096,
            "n": 2,
            "seed": 7,
            "tools": [{"type": "function", "function": {"name": "search", "parameters": {}}}],
        },
        "response": {
            "id": "chatcmpl-7f3a",
            "choices": [
                {
                    "finish_reason": "length",
                    "message": {"role": "assistant", "content": "Proof: ..."},
                }
            ],
            "usage": {"completion_tokens_details": {"reasoning_tokens": 300}},
        },
        "hidden_params": {"model_id": "dep-1"},
    }
    p.update(over)
    return p


def test_litellm_payload_maps_onto_canonical_columns() -> None:
    row = normalize_litellm(litellm_payload())
    assert row["exchange_id"] == "chatcmpl-7f3a"
    assert row["timestamp"] == datetime.fromtimestamp(1772507698.25, UTC)
    assert row["account_id"] == "acct_litellm_1" and row["org_id"] == "org_x"
    assert row["api_key_id"].startswith("88dc28d0") and row["end_user_id"] == "customer-7"
    assert row["client_ip"] == "203.0.113.9" and row["api"] == "openai.chat_completions"
    assert row["system_text"] == "You are helpful." and row["user_text"] == "Write a proof."
    assert row["max_tokens"] == 4096 and row["n_choices"] == 2 and row["seed"] == 7
    assert row["tool_names"] == ["search"] and row["status"] == 200
    assert row["stop_reason"] == "length" and row["stop_kind"] == "length"
    assert (row["input_tokens"], row["output_tokens"], row["reasoning_tokens"]) == (150, 700, 300)
    assert row["latency_ms"] == pytest.approx(2500.0)
    assert row["response_text"] == "Proof: ..."


def test_litellm_wrapper_failure_redaction_and_account_fallback() -> None:
    p = litellm_payload(
        status="failure",
        error_information={"error_code": "429", "error_class": "RateLimitError"},
        messages=[{"role": "user", "content": "redacted-by-litellm"}],
        response=None,
    )
    p["metadata"].pop("user_api_key_user_id")
    row = normalize_litellm({"standard_logging_object": p})
    assert row["status"] == 429 and row["account_id"] == "team_a"
    assert row["prompt_redacted"] is True and row["user_text"] is None


def test_litellm_anthropic_route_and_missing_key() -> None:
    p = litellm_payload(call_type="anthropic_messages")
    p["model_parameters"] = {
        "max_tokens": 100,
        "thinking": {"type": "enabled", "budget_tokens": 50},
    }
    row = normalize_litellm(p)
    assert row["api"] == "anthropic.messages" and row["thinking_budget"] == 50
    p["metadata"] = {}
    with pytest.raises(InputError) as exc:
        normalize_litellm(p)
    assert exc.value.reason == "missing_field"


def _kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        v: dict[str, Any] = {"boolValue": value}
    elif isinstance(value, int):
        v = {"intValue": str(value)}  # OTLP JSON writes int64 as a string
    elif isinstance(value, float):
        v = {"doubleValue": value}
    elif isinstance(value, list):
        v = {"arrayValue": {"values": [{"stringValue": x} for x in value]}}
    else:
        v = {"stringValue": value}
    return {"key": key, "value": v}


def genai_span(span_id: str, attrs: dict[str, Any], **over: Any) -> dict[str, Any]:
    """An OTLP JSON span with GenAI attributes."""
    s: dict[str, Any] = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": span_id,
        "name": "chat frontier-1",
        "kind": 3,
        "startTimeUnixNano": "1772507698000000000",
        "endTimeUnixNano": "1772507701500000000",
        "attributes": [_kv(k, v) for k, v in attrs.items()],
        "status": {},
    }
    s.update(over)
    return s


CURRENT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": "frontier-1",
    "gen_ai.request.max_tokens": 8000,
    "gen_ai.request.temperature": 0.5,
    "gen_ai.request.choice.count": 1,
    "gen_ai.usage.input_tokens": 90,
    "gen_ai.usage.output_tokens": 1200,
    "gen_ai.usage.reasoning.output_tokens": 400,
    "gen_ai.response.finish_reasons": ["end_turn"],
    "gen_ai.system_instructions": orjson.dumps([{"type": "text", "content": "Be exact."}]).decode(),
    "gen_ai.input.messages": orjson.dumps(
        [
            {"role": "user", "parts": [{"type": "text", "content": "Prove it step by step."}]},
            {
                "role": "assistant",
                "parts": [{"type": "tool_call", "id": "c1", "name": "sympy", "arguments": {}}],
            },
            {
                "role": "tool",
                "parts": [{"type": "tool_call_response", "id": "c1", "response": "ok"}],
            },
        ]
    ).decode(),
    "gen_ai.tool.definitions": orjson.dumps([{"type": "function", "name": "sympy"}]).decode(),
    "client.address": "198.51.100.4",
    "user.id": "acct_otel_1",
    "enduser.id": "eu-3",
    "session.id": "s-1",
}

LEGACY = {
    "gen_ai.system": "openai",
    "gen_ai.request.model": "frontier-1-mini",
    "gen_ai.usage.prompt_tokens": 11,
    "gen_ai.usage.completion_tokens": 22,
}


def otlp(spans: list[dict[str, Any]], resource: dict[str, Any] | None = None) -> dict[str, Any]:
    """An OTLP JSON ExportTraceServiceRequest."""
    res = {"attributes": [_kv(k, v) for k, v in (resource or {}).items()]}
    return {"resourceSpans": [{"resource": res, "scopeSpans": [{"scope": {}, "spans": spans}]}]}


def test_otel_current_attribute_names() -> None:
    row = normalize_otel_span(genai_span("051581bf3cb55c13", CURRENT))
    assert row["exchange_id"] == "5b8efff798038103d269b633813fc60c-051581bf3cb55c13"
    assert row["timestamp"] == datetime.fromtimestamp(1772507698, UTC)
    assert row["latency_ms"] == pytest.approx(3500.0)
    assert row["account_id"] == "acct_otel_1" and row["end_user_id"] == "eu-3"
    assert row["api"] == "anthropic.messages" and row["model"] == "frontier-1"
    assert row["system_text"] == "Be exact." and row["user_text"] == "Prove it step by step."
    assert row["has_tool_results"] is True and row["n_user_turns"] == 1
    assert row["n_assistant_turns"] == 1 and row["tool_names"] == ["sympy"]
    assert row["max_tokens"] == 8000 and row["temperature"] == 0.5
    assert (row["input_tokens"], row["output_tokens"], row["reasoning_tokens"]) == (90, 1200, 400)
    assert row["stop_kind"] == "end" and row["client_ip"] == "198.51.100.4"
    assert row["prompt_redacted"] is False and row["status"] == 200


def test_otel_legacy_names_resource_user_and_no_content_capture() -> None:
    span = genai_span("aa", LEGACY, status={"code": 2, "message": "boom"})
    row = normalize_otel_span(span, {"user.id": "acct_from_resource"})
    assert row["api"] == "openai.chat_completions" and row["model"] == "frontier-1-mini"
    assert (row["input_tokens"], row["output_tokens"]) == (11, 22)
    assert row["account_id"] == "acct_from_resource"
    assert row["prompt_redacted"] is True and row["user_text"] is None
    assert row["status"] is None  # failed span without an HTTP status


def test_otel_file_skips_non_genai_spans_and_reports_bad_ones(tmp_path: Path) -> None:
    http_span = genai_span("cc", {}, attributes=[_kv("http.request.method", "POST")])
    no_user = dict(CURRENT)
    del no_user["user.id"]
    doc = otlp([genai_span("01", CURRENT), http_span, genai_span("02", no_user)])
    path = tmp_path / "traces.jsonl"
    path.write_bytes(
        orjson.dumps(doc)
        + b"\n"
        + orjson.dumps(otlp([genai_span("03", LEGACY)], {"user.id": "acct_r"}))
        + b"\n"
    )
    assert detect_format(path) == ("otel", False)
    summary = IngestSummary()
    rows = [r for b in read_exchanges(path, summary=summary) for r in b.to_pylist()]
    assert [r["exchange_id"][-2:] for r in rows] == ["01", "03"]
    assert [r["source_line"] for r in rows] == [1, 2]
    (rej,) = summary.rejections
    assert rej.line == 1 and rej.reason == "missing_field"
    assert rej.field == "resourceSpans[0].scopeSpans[0].spans[2].attributes.user.id"


def test_otel_pretty_printed_document(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(orjson.dumps(otlp([genai_span("01", CURRENT)]), option=orjson.OPT_INDENT_2))
    assert detect_format(path) == ("otel", True)
    rows = [r for b in read_exchanges(path) for r in b.to_pylist()]
    assert len(rows) == 1 and rows[0]["account_id"] == "acct_otel_1"


def test_litellm_file_detected_and_read(tmp_path: Path) -> None:
    path = tmp_path / "litellm.jsonl"
    lines = [litellm_payload(id=f"c{i}") for i in range(3)]
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in lines) + b"\n")
    assert detect_format(path) == ("litellm", False)
    rows = [r for b in read_exchanges(path) for r in b.to_pylist()]
    assert [r["exchange_id"] for r in rows] == ["c0", "c1", "c2"]
