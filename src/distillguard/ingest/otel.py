"""OpenTelemetry GenAI spans in OTLP JSON (``resourceSpans / scopeSpans / spans``).

Attributes are OTLP ``{"key", "value": {"stringValue" | "intValue" | ...}}`` lists
(a plain ``{name: value}`` object is accepted too). Both the current GenAI semantic
convention names and the legacy ones (``gen_ai.system``, ``gen_ai.usage.prompt_tokens``,
``gen_ai.usage.completion_tokens``) are read. Spans without any ``gen_ai.*`` attribute
(HTTP, database...) are not exchanges and are passed over. The billing account is
``user.id`` (resource or span), the end user ``enduser.id``; the exchange id is
``<traceId>-<spanId>``. Without ``gen_ai.input.messages`` (content capture is off by
default) the prompt is redacted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from ..errors import InputError
from ._fields import (
    blank_row,
    bounded,
    clean_row,
    opt_float,
    opt_int,
    opt_list,
    opt_str,
    req_str,
    stop_kind,
    timestamp,
    wrong_type,
)
from .normalize import apply_messages, apply_tools, content_text

__all__ = ["attributes", "is_genai_span", "iter_otel_spans", "normalize_otel_span"]

_CLOUD = {
    "aws.bedrock": "cloud:aws",
    "gcp.vertex_ai": "cloud:gcp",
    "azure.ai.openai": "cloud:azure",
}
_MAX_DEPTH = 32


def _any_value(v: object, depth: int = 0) -> Any:
    """Decode an OTLP AnyValue object into plain Python."""
    if not isinstance(v, dict) or depth > _MAX_DEPTH:
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        iv = v["intValue"]
        return int(iv) if isinstance(iv, str) and iv.lstrip("-").isdigit() else iv
    if "doubleValue" in v:
        return v["doubleValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "arrayValue" in v:
        vals = v["arrayValue"].get("values", []) if isinstance(v["arrayValue"], dict) else []
        return [_any_value(x, depth + 1) for x in vals]
    if "kvlistValue" in v:
        kv = v["kvlistValue"].get("values", []) if isinstance(v["kvlistValue"], dict) else []
        return {
            x.get("key"): _any_value(x.get("value"), depth + 1) for x in kv if isinstance(x, dict)
        }
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def attributes(raw: object, field: str = "attributes") -> dict[str, Any]:
    """OTLP attributes (key/value list, or a plain object) as a dict."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, list):
        raise wrong_type(field, "array of key/value objects", raw)
    out: dict[str, Any] = {}
    for item in raw:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = _any_value(item.get("value"))
    return out


def iter_otel_spans(doc: object) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Yield ``(field path, span, resource attributes)`` for every span of an OTLP document."""
    if not isinstance(doc, dict):
        raise InputError("not_an_object", f"expected an OTLP object, got {type(doc).__name__}")
    for i, rs in enumerate(opt_list(doc.get("resourceSpans"), "resourceSpans")):
        if not isinstance(rs, dict):
            continue
        res = rs.get("resource")
        rattrs = attributes(res.get("attributes") if isinstance(res, dict) else None)
        scopes = rs.get("scopeSpans", rs.get("instrumentationLibrarySpans"))
        for j, ss in enumerate(opt_list(scopes, f"resourceSpans[{i}].scopeSpans")):
            if not isinstance(ss, dict):
                continue
            for k, span in enumerate(opt_list(ss.get("spans"), "spans")):
                yield f"resourceSpans[{i}].scopeSpans[{j}].spans[{k}]", span, rattrs


def _ns(v: object, field: str) -> int | None:
    if v is None:
        return None
    if isinstance(v, str) and v.isdigit():
        return int(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    raise wrong_type(field, "integer nanoseconds", v)


def _json_attr(v: object, field: str) -> object:
    if isinstance(v, str):
        try:
            return orjson.loads(v)
        except orjson.JSONDecodeError:
            raise InputError("malformed_json", "attribute is not valid JSON", field=field) from None
    return v


def is_genai_span(span: object) -> bool:
    """True when a span carries any ``gen_ai.*`` attribute."""
    if not isinstance(span, dict):
        return False
    raw = span.get("attributes")
    if isinstance(raw, dict):
        return any(k.startswith("gen_ai.") for k in raw)
    if isinstance(raw, list):
        return any(isinstance(a, dict) and str(a.get("key", "")).startswith("gen_ai.") for a in raw)
    return False


def normalize_otel_span(
    span: dict[str, Any], resource_attributes: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Map one GenAI span to a dict holding exactly the EXCHANGE_SCHEMA columns.

    ``resource_attributes`` are the enclosing resource's attributes (span attributes
    win). Raises :class:`~distillguard.errors.InputError` naming the attribute.
    """
    if not isinstance(span, dict):
        raise InputError("not_an_object", f"expected a span object, got {type(span).__name__}")
    a = dict(resource_attributes or {})
    a.update(attributes(span.get("attributes")))
    row = blank_row()
    trace, sid = span.get("traceId"), span.get("spanId")
    row["exchange_id"] = req_str(f"{trace}-{sid}" if trace and sid else None, "spanId")
    start = _ns(span.get("startTimeUnixNano"), "startTimeUnixNano")
    if start is None:
        raise InputError("missing_field", "required field is missing", field="startTimeUnixNano")
    row["timestamp"] = timestamp(start / 1e9, "startTimeUnixNano")
    end = _ns(span.get("endTimeUnixNano"), "endTimeUnixNano")
    if end is not None and end >= start:
        row["latency_ms"] = (end - start) / 1e6
    row["account_id"] = req_str(a.get("user.id"), "attributes.user.id")
    row["end_user_id"] = opt_str(a.get("enduser.id"), "attributes.enduser.id")
    row["client_ip"] = opt_str(a.get("client.address"), "attributes.client.address", 64)
    row["user_agent"] = opt_str(a.get("user_agent.original"), "attributes.user_agent.original")
    provider = a.get("gen_ai.provider.name", a.get("gen_ai.system"))
    row["api"] = "anthropic.messages" if provider == "anthropic" else "openai.chat_completions"
    row["access_path"] = _CLOUD.get(str(provider), "api")
    row["model"] = opt_str(a.get("gen_ai.request.model"), "attributes.gen_ai.request.model", 256)
    row["max_tokens"] = opt_int(a.get("gen_ai.request.max_tokens"), "gen_ai.request.max_tokens")
    n = opt_int(a.get("gen_ai.request.choice.count"), "gen_ai.request.choice.count")
    row["n_choices"] = 1 if n is None else n
    row["temperature"] = opt_float(
        a.get("gen_ai.request.temperature"), "gen_ai.request.temperature"
    )
    row["top_p"] = opt_float(a.get("gen_ai.request.top_p"), "gen_ai.request.top_p")
    row["seed"] = opt_int(a.get("gen_ai.request.seed"), "gen_ai.request.seed")
    stops = a.get("gen_ai.request.stop_sequences")
    row["n_stop_sequences"] = len(stops) if isinstance(stops, list) else 0

    fld = "attributes.gen_ai.input.messages"
    msgs = _json_attr(a.get("gen_ai.input.messages"), fld)
    system: list[str] = []
    apply_messages(msgs, row, fld, system)
    fld = "attributes.gen_ai.system_instructions"
    instr = _json_attr(a.get("gen_ai.system_instructions"), fld)
    if instr is not None:
        text, _, _ = content_text(instr, fld)
        if text:
            system.insert(0, text)
    if system:
        row["system_text"] = bounded("\n\n".join(system), row)
    fld = "attributes.gen_ai.tool.definitions"
    tools = opt_list(_json_attr(a.get("gen_ai.tool.definitions"), fld), fld)
    apply_tools(tools, row, fld)

    reasons = a.get("gen_ai.response.finish_reasons")
    first = reasons[0] if isinstance(reasons, list) and reasons else reasons
    row["stop_reason"] = opt_str(first, "gen_ai.response.finish_reasons", 64)
    row["stop_kind"] = stop_kind(row["stop_reason"])
    it = a.get("gen_ai.usage.input_tokens", a.get("gen_ai.usage.prompt_tokens"))
    ot = a.get("gen_ai.usage.output_tokens", a.get("gen_ai.usage.completion_tokens"))
    row["input_tokens"] = opt_int(it, "gen_ai.usage.input_tokens")
    row["output_tokens"] = opt_int(ot, "gen_ai.usage.output_tokens")
    rt = a.get("gen_ai.usage.reasoning.output_tokens")
    row["reasoning_tokens"] = opt_int(rt, "gen_ai.usage.reasoning.output_tokens")
    cr = a.get("gen_ai.usage.cache_read.input_tokens")
    row["cache_read_tokens"] = opt_int(cr, "gen_ai.usage.cache_read.input_tokens")
    http = opt_int(a.get("http.response.status_code"), "http.response.status_code")
    st = span.get("status")
    failed = (isinstance(st, dict) and st.get("code") in (2, "STATUS_CODE_ERROR")) or (
        a.get("error.type") is not None
    )
    row["status"] = http if http is not None else (None if failed else 200)
    return clean_row(row)
