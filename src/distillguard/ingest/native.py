"""The native exchange export (``exchanges.jsonl``, see docs/input-formats.md)."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..schema import APIS
from ._fields import (
    blank_row,
    clean_row,
    headers_json,
    opt_dict,
    opt_float,
    opt_str,
    req_str,
    timestamp,
)
from .normalize import apply_anthropic_request, apply_openai_request, apply_response

__all__ = ["native_row", "normalize_native"]


def normalize_native(record: dict[str, Any]) -> dict[str, Any]:
    """Map one native exchange record to a dict holding exactly the EXCHANGE_SCHEMA columns.

    Pure and allocation-light: the online decision path calls it per request. Raises
    :class:`~distillguard.errors.InputError` (reason + field, no file or line; the
    reader adds those) for a missing ``id`` / ``timestamp`` / ``account_id`` / ``api``,
    an unknown ``api``, or a value of the wrong type. Text is bounded and free of
    control characters. ``source_file`` and ``source_line`` stay null.
    """
    return clean_row(native_row(record))


def native_row(record: dict[str, Any]) -> dict[str, Any]:
    """:func:`normalize_native` without the control-character pass (the batch reader
    runs that pass only on lines that may need it)."""
    if not isinstance(record, dict):
        raise InputError("not_an_object", f"expected a JSON object, got {type(record).__name__}")
    row = blank_row()
    row["exchange_id"] = req_str(record.get("id"), "id")
    row["timestamp"] = timestamp(record.get("timestamp"), "timestamp")
    row["account_id"] = req_str(record.get("account_id"), "account_id")
    row["org_id"] = opt_str(record.get("org_id"), "org_id")
    row["api_key_id"] = opt_str(record.get("api_key_id"), "api_key_id")
    row["access_path"] = opt_str(record.get("access_path"), "access_path", 128)
    client = opt_dict(record.get("client"), "client")
    if client:
        row["client_ip"] = opt_str(client.get("ip"), "client.ip", 64)
        row["user_agent"] = opt_str(client.get("user_agent"), "client.user_agent", 512)
        row["client_headers"] = headers_json(client.get("headers"), "client.headers")
    api = record.get("api")
    if api is None:
        raise InputError("missing_field", "required field is missing", field="api")
    if api not in APIS:
        shown = api[:60] if isinstance(api, str) else type(api).__name__
        raise InputError("unknown_api", f"{shown!r} is not one of {', '.join(APIS)}", field="api")
    row["api"] = api
    request = opt_dict(record.get("request"), "request")
    if api == "anthropic.messages":
        apply_anthropic_request(request, row, "request")
    else:
        apply_openai_request(request, row, "request")
    apply_response(opt_dict(record.get("response"), "response"), row, "response")
    row["latency_ms"] = opt_float(record.get("latency_ms"), "latency_ms")
    return row
