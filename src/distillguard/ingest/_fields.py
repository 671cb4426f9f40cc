"""Small, fast primitives the record normalisers share.

Every getter takes the raw value and the dotted field name it came from, so a wrong
type becomes an :class:`~distillguard.errors.InputError` that names the field. Text
that leaves here is bounded (:data:`~distillguard.schema.MAX_TEXT_CHARS`) and free of
control characters, so a hostile record can neither blow up a batch nor smuggle
terminal escapes into a report.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from ..errors import InputError
from ..schema import EXCHANGE_SCHEMA, MAX_TEXT_CHARS

#: Canonical column names, in schema order.
COLUMNS: tuple[str, ...] = tuple(EXCHANGE_SCHEMA.names)

_BLANK: dict[str, Any] = dict.fromkeys(COLUMNS)
_BLANK["text_truncated"] = False

#: Control characters removed from every string (tab, newline and carriage return stay).
_CTRL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")

#: Header names never kept, whatever the log says (credentials and session material).
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "cookie",
        "set-cookie",
        "anthropic-api-key",
        "openai-api-key",
        "x-goog-api-key",
    }
)

_STOP_KINDS = {
    "end_turn": "end",
    "stop": "end",
    "max_tokens": "length",
    "length": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool",
    "tool_calls": "tool",
    "function_call": "tool",
    "stop_sequence": "stop_sequence",
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def blank_row() -> dict[str, Any]:
    """A row with every canonical column set to null."""
    return _BLANK.copy()


def clean(s: str) -> str:
    """Remove control and bidi-override characters from ``s``."""
    return _CTRL.sub("", s) if _CTRL.search(s) else s


def clean_row(row: dict[str, Any]) -> dict[str, Any]:
    """Remove control and bidi-override characters from every text value of a row."""
    for k, v in row.items():
        if isinstance(v, str):
            row[k] = clean(v)
        elif isinstance(v, list):
            row[k] = [clean(x) if isinstance(x, str) else x for x in v]
    return row


def bounded(s: str | None, row: dict[str, Any]) -> str | None:
    """Cut ``s`` to MAX_TEXT_CHARS, flagging the cut in ``row``."""
    if s is not None and len(s) > MAX_TEXT_CHARS:
        row["text_truncated"] = True
        return s[:MAX_TEXT_CHARS]
    return s


def wrong_type(field: str, want: str, got: object) -> InputError:
    """The error for a value of the wrong JSON type."""
    return InputError("wrong_type", f"expected {want}, got {type(got).__name__}", field=field)


def opt_str(v: object, field: str, limit: int = 1024) -> str | None:
    """An optional short string (ids, names, enums); numbers are accepted as text."""
    if v is None:
        return None
    if isinstance(v, str):
        return v[:limit] if v else None
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)
    raise wrong_type(field, "string", v)


def req_str(v: object, field: str) -> str:
    """A required short string; missing or empty is a ``missing_field`` rejection."""
    if v is None or v == "":
        raise InputError("missing_field", "required field is missing or empty", field=field)
    if isinstance(v, str):
        return v[:1024]
    if isinstance(v, int) and not isinstance(v, bool) and field in ("id", "exchange_id"):
        return str(v)
    raise wrong_type(field, "string", v)


def opt_int(v: object, field: str) -> int | None:
    """An optional integer (a float with no fraction is accepted)."""
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        if -(2**62) < v < 2**62:
            return v
        raise InputError("wrong_type", "integer out of range", field=field)
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**62:
        return int(v)
    raise wrong_type(field, "integer", v)


def opt_float(v: object, field: str) -> float | None:
    """An optional number."""
    if v is None:
        return None
    if isinstance(v, float | int) and not isinstance(v, bool):
        return float(v)
    raise wrong_type(field, "number", v)


def opt_bool(v: object, field: str) -> bool | None:
    """An optional boolean."""
    if v is None or isinstance(v, bool):
        return v
    raise wrong_type(field, "boolean", v)


def opt_dict(v: object, field: str) -> dict[str, Any]:
    """An optional object; null becomes an empty dict."""
    if v is None:
        return {}
    if isinstance(v, dict):
        return v
    raise wrong_type(field, "object", v)


def opt_list(v: object, field: str) -> list[Any]:
    """An optional array; null becomes an empty list."""
    if v is None:
        return []
    if isinstance(v, list):
        return v
    raise wrong_type(field, "array", v)


def timestamp(v: object, field: str) -> datetime:
    """A required UTC timestamp from RFC 3339 text or epoch seconds / milliseconds."""
    if v is None or v == "":
        raise InputError("missing_field", "required field is missing or empty", field=field)
    if isinstance(v, str):
        try:
            dt = datetime.fromisoformat(v)
        except ValueError:
            raise InputError("bad_timestamp", f"not RFC 3339: {v[:40]!r}", field=field) from None
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    if isinstance(v, int | float) and not isinstance(v, bool):
        secs = v / 1000.0 if v > 1e11 else float(v)
        try:
            return datetime.fromtimestamp(secs, UTC)
        except (OverflowError, OSError, ValueError):
            raise InputError("bad_timestamp", f"epoch out of range: {v}", field=field) from None
    raise wrong_type(field, "RFC 3339 string", v)


def stop_kind(reason: str | None) -> str | None:
    """Normalise an Anthropic or OpenAI stop reason to end/length/tool/stop_sequence/other."""
    if reason is None:
        return None
    return _STOP_KINDS.get(reason, "other")


def tools_hash(tools: object, field: str) -> str:
    """A short stable hash of the canonical JSON of tool declarations."""
    try:
        raw = orjson.dumps(tools, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        raise InputError("too_deep", f"cannot canonicalise: {exc}", field=field) from None
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def headers_json(headers: object, field: str) -> str | None:
    """Non-sensitive headers as sorted JSON with lower-cased keys (credentials dropped)."""
    h = opt_dict(headers, field)
    if not h:
        return None
    kept = {}
    for k, v in h.items():
        key = str(k).lower()[:128]
        if key in SENSITIVE_HEADERS or v is None:
            continue
        kept[key] = v[:512] if isinstance(v, str) else str(v)[:512]
    if not kept:
        return None
    return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS).decode()


def epoch_ms(dt: datetime) -> int:
    """Milliseconds since the epoch for an aware datetime."""
    return (dt - _EPOCH) // _MS


_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - _EPOCH
