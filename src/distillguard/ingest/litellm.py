"""LiteLLM proxy logs: the ``StandardLoggingPayload`` a LiteLLM ``CustomLogger`` receives.

One payload per line, either bare or wrapped as ``{"standard_logging_object": {...}}``.
The billing account is the key's user (``metadata.user_api_key_user_id``), else its
team, else the key hash; the key hash is the API key id. Messages are OpenAI-shaped
unless ``call_type`` says the Anthropic Messages route was used. LiteLLM's own
redaction marker (``redacted-by-litellm``) marks the prompt as redacted.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ._fields import (
    blank_row,
    bounded,
    clean_row,
    opt_dict,
    opt_float,
    opt_int,
    opt_str,
    req_str,
    stop_kind,
    timestamp,
)
from .normalize import (
    apply_anthropic_request,
    apply_openai_request,
    apply_usage,
    content_text,
)

__all__ = ["is_litellm_payload", "litellm_row", "normalize_litellm"]

_REDACTED = "redacted-by-litellm"


def is_litellm_payload(obj: object) -> bool:
    """True when ``obj`` looks like a StandardLoggingPayload (or its wrapper)."""
    if not isinstance(obj, dict):
        return False
    if isinstance(obj.get("standard_logging_object"), dict):
        return True
    return "startTime" in obj and ("model_parameters" in obj or "call_type" in obj)


def _messages(raw: object) -> object:
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    if isinstance(raw, dict):
        return [raw]
    return raw


def _scrub_redacted(msgs: object) -> tuple[object, bool]:
    """Replace LiteLLM's redaction marker by absent content."""
    if not isinstance(msgs, list):
        return msgs, False
    found = False
    out = []
    for m in msgs:
        if isinstance(m, dict) and m.get("content") == _REDACTED:
            m = {k: v for k, v in m.items() if k != "content"}
            found = True
        out.append(m)
    return out, found


def normalize_litellm(record: dict[str, Any]) -> dict[str, Any]:
    """Map one StandardLoggingPayload to a dict holding exactly the EXCHANGE_SCHEMA columns."""
    return clean_row(litellm_row(record))


def litellm_row(record: dict[str, Any]) -> dict[str, Any]:
    """:func:`normalize_litellm` without the control-character pass."""
    if not isinstance(record, dict):
        raise InputError("not_an_object", f"expected a JSON object, got {type(record).__name__}")
    inner = record.get("standard_logging_object")
    if isinstance(inner, dict):
        record = inner
    row = blank_row()
    row["exchange_id"] = req_str(record.get("id"), "id")
    start = record.get("startTime")
    row["timestamp"] = timestamp(start, "startTime")
    meta = opt_dict(record.get("metadata"), "metadata")
    account = (
        meta.get("user_api_key_user_id")
        or meta.get("user_api_key_team_id")
        or meta.get("user_api_key_hash")
    )
    row["account_id"] = req_str(account, "metadata.user_api_key_user_id")
    row["org_id"] = opt_str(
        meta.get("user_api_key_org_id") or meta.get("user_api_key_team_id"),
        "metadata.user_api_key_org_id",
    )
    row["api_key_id"] = opt_str(meta.get("user_api_key_hash"), "metadata.user_api_key_hash")
    row["access_path"] = "api"
    ip = record.get("requester_ip_address") or meta.get("requester_ip_address")
    row["client_ip"] = opt_str(ip, "requester_ip_address", 64)
    ua = meta.get("user_agent")
    if ua is None:
        ua = opt_dict(meta.get("requester_metadata"), "metadata.requester_metadata").get(
            "user_agent"
        )
    row["user_agent"] = opt_str(ua, "metadata.user_agent", 512)

    call_type = str(record.get("call_type") or "")
    params = dict(opt_dict(record.get("model_parameters"), "model_parameters"))
    msgs, redacted = _scrub_redacted(_messages(record.get("messages")))
    params["model"] = record.get("model") or params.get("model")
    params["messages"] = msgs
    if "anthropic_messages" in call_type:
        row["api"] = "anthropic.messages"
        apply_anthropic_request(params, row, "model_parameters")
    else:
        row["api"] = "openai.chat_completions"
        apply_openai_request(params, row, "model_parameters")
    end_user = opt_str(record.get("end_user"), "end_user")
    if end_user is not None:
        row["end_user_id"] = end_user
    if redacted:
        row["prompt_redacted"] = True
        row["user_text"] = row["last_user_text"] = None

    _apply_litellm_response(record, row)
    end = opt_float(record.get("endTime"), "endTime")
    if end is not None and isinstance(start, int | float) and not isinstance(start, bool):
        row["latency_ms"] = max(0.0, (end - float(start)) * 1000.0)
    return row


def _apply_litellm_response(record: dict[str, Any], row: dict[str, Any]) -> None:
    status = record.get("status")
    if status == "success":
        row["status"] = 200
    elif status == "failure":
        err = opt_dict(record.get("error_information"), "error_information")
        code = err.get("error_code")
        row["status"] = int(code) if isinstance(code, str) and code.isdigit() else 500
    resp = record.get("response")
    if isinstance(resp, dict):
        choices = resp.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        if isinstance(first, dict):
            row["stop_reason"] = opt_str(first.get("finish_reason"), "response.choices[0]", 64)
            msg = first.get("message")
            if isinstance(msg, dict) and msg.get("content") is not None:
                text, _, _ = content_text(msg["content"], "response.choices[0].message.content")
                row["response_text"] = bounded(text, row)
        if resp.get("stop_reason") is not None:  # Anthropic-shaped response
            row["stop_reason"] = opt_str(resp["stop_reason"], "response.stop_reason", 64)
        usage = resp.get("usage")
        if isinstance(usage, dict):
            apply_usage(usage, row, "response.usage")
    elif isinstance(resp, str) and resp != _REDACTED:
        row["response_text"] = bounded(resp, row)
    row["stop_kind"] = stop_kind(row["stop_reason"])
    pt = opt_int(record.get("prompt_tokens"), "prompt_tokens")
    ct = opt_int(record.get("completion_tokens"), "completion_tokens")
    if pt is not None:
        row["input_tokens"] = pt
    if ct is not None:
        row["output_tokens"] = ct
