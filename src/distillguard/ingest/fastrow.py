"""The batch reader's fast path for native exchange records.

:func:`fast_native_row` maps one parsed native record straight to a tuple of the
EXCHANGE_SCHEMA columns, in schema order, for records of the common, well-formed shape:
every value of the type the schema expects, texts within
:data:`~distillguard.schema.MAX_TEXT_CHARS`. It inlines the type checks and lookups
that :func:`~distillguard.ingest.native.native_row` makes through small helper calls
(most of that reader's cost), and calls the very same helpers for the rarer parts
(content blocks, tool declarations, tool choice). It never rejects: any record outside
that shape (a wrong type, a missing field, a text to cut, an unexpected value) returns
``None`` and the caller runs the exact reader, which stores the record or reports it
with file, line and field. So a record is stored identically by either path; the
tests compare both on simulated logs, the ingest benchmark log, hostile lines and
randomly mutated records.

Parsing stays with orjson on both paths, so JSON semantics (duplicate keys, numbers,
surrogates, invalid UTF-8) are shared: DuckDB's reader, for one, accepts trailing
commas and NaN and takes the first of two duplicate keys where orjson takes the last.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..schema import APIS, MAX_TEXT_CHARS
from ._fields import (
    headers_json,
    opt_bool,
    opt_dict,
    opt_float,
    opt_int,
    opt_list,
    opt_str,
    stop_kind,
    timestamp,
)
from .normalize import _HASH, _tool_choice, _tool_names, content_text, tools_hash

__all__ = ["fast_native_row"]

_NONE = type(None)
_INT_MAX = 2**62
_ANTHROPIC, _OPENAI = APIS

#: headers object (as canonical JSON bytes) -> its ``client_headers`` value
_HEADERS: dict[bytes, str | None] = {}
_HEADERS_MAX = 8192


class _Slow(Exception):
    """The record leaves the fast path's shape; the exact reader takes it."""


def _s(v: Any, limit: int) -> str | None:
    """``opt_str`` for the common cases (None, text); anything else through the helper."""
    if v is None:
        return None
    if type(v) is str:
        return v[:limit] if v else None
    return opt_str(v, "", limit)


def _i(v: Any) -> int | None:
    """``opt_int``: None or an in-range int inline; anything else through the helper."""
    if v is None or (type(v) is int and -_INT_MAX < v < _INT_MAX):
        return v
    return opt_int(v, "")


def _f(v: Any) -> float | None:
    """``opt_float``: None or a number inline; anything else through the helper."""
    if v is None:
        return None
    t = type(v)
    if t is float or t is int:
        return float(v)
    return opt_float(v, "")


def _d(v: Any) -> dict[str, Any]:
    """``opt_dict``: null becomes an empty dict."""
    if v is None:
        return {}
    if type(v) is dict:
        return v
    return opt_dict(v, "")


def _text(content: Any) -> tuple[str | None, bool, bool]:
    """``content_text`` with the plain-string case inline."""
    if type(content) is str:
        if 16 <= len(content) <= 140 and _HASH.match(content) is not None:
            return None, False, True
        return content, False, False
    return content_text(content, "")


def _bounded(s: str | None) -> str | None:
    if s is not None and len(s) > MAX_TEXT_CHARS:
        raise _Slow  # the exact reader cuts it and sets text_truncated
    return s


def _headers(h: Any) -> str | None:
    """``headers_json``, remembered per distinct headers object (SDKs repeat them)."""
    if h is None:
        return None
    if type(h) is not dict:
        return headers_json(h, "")
    try:
        key = orjson.dumps(h)
    except orjson.JSONEncodeError:
        return headers_json(h, "")
    try:
        return _HEADERS[key]
    except KeyError:
        pass
    out = headers_json(h, "")
    if len(_HEADERS) >= _HEADERS_MAX:
        _HEADERS.clear()
    _HEADERS[key] = out
    return out


def _messages(
    msgs: Any, system: list[str] | None
) -> tuple[int, int, int, bool, str | None, str | None, bool]:
    """``apply_messages``: counts, texts and flags (texts not cut; over-long ones go slow)."""
    if msgs is None:
        return 0, 0, 0, False, None, None, True
    if type(msgs) is not list:
        opt_list(msgs, "")  # raises
    user_texts: list[str] = []
    n_user = n_asst = n_msgs = 0
    tool_results = redacted = False
    for m in msgs:
        if type(m) is not dict:
            raise _Slow
        role = m.get("role")
        if role == "system" or role == "developer":
            if system is not None:
                text, _, red = _text(m.get("content"))
                if text:
                    system.append(text)
                redacted = redacted or red
            continue
        n_msgs += 1
        if role == "tool" or role == "function" or role == "ipython":
            tool_results = True
            continue
        if role == "assistant":
            n_asst += 1
            continue
        if "content" in m:
            content = m["content"]
        elif "parts" in m:
            content = m["parts"]
        else:
            content = None
        text, tr, red = _text(content)
        tool_results = tool_results or tr
        if tr and text is None:
            continue
        n_user += 1
        if text is not None:
            user_texts.append(text)
        redacted = redacted or red
    user_text = last = None
    if user_texts:
        user_text = _bounded("\n\n".join(user_texts))
        last = user_texts[-1]
    return n_msgs, n_user, n_asst, tool_results, user_text, last, redacted or n_msgs == 0


def _tools(tools: Any) -> tuple[int, list[str] | None, str | None]:
    if tools is None:
        return 0, None, None
    lst = opt_list(tools, "")
    if not lst:
        return 0, None, None
    return len(lst), _tool_names(lst, ""), tools_hash(lst, "")


def fast_native_row(rec: Any, file: str, line: int) -> tuple[Any, ...] | None:
    """The canonical row of one parsed native record, or None for the exact reader.

    Equal, column for column, to ``native_row(rec)`` plus ``source_file`` / ``source_line``
    whenever it returns a tuple.
    """
    try:
        return _row(rec, file, line)
    except Exception:  # any surprise: the exact reader decides
        return None


def _row(rec: Any, file: str, line: int) -> tuple[Any, ...]:
    if type(rec) is not dict:
        raise _Slow
    get = rec.get
    eid = get("id")
    if type(eid) is not str or not eid:
        raise _Slow
    ts = timestamp(get("timestamp"), "")
    acct = get("account_id")
    if type(acct) is not str or not acct:
        raise _Slow
    org = _s(get("org_id"), 1024)
    key = _s(get("api_key_id"), 1024)
    access = _s(get("access_path"), 128)
    client = _d(get("client"))
    if client:
        ip = _s(client.get("ip"), 64)
        ua = _s(client.get("user_agent"), 512)
        headers = _headers(client.get("headers"))
    else:
        ip = ua = headers = None
    api = get("api")
    req = _d(get("request"))
    rget = req.get
    model = _s(rget("model"), 256)
    thinking_enabled: bool | None = None
    budget = effort = seed = logprobs = top_lp = fmt = end_user = None
    if api == _ANTHROPIC:
        max_tokens = _i(rget("max_tokens"))
        sys_raw = rget("system")
        if sys_raw is None:
            sys_text, sys_red = None, False
        else:
            sys_text, _, sys_red = _text(sys_raw)
        n_msgs, n_user, n_asst, tool_res, user_text, last, redacted = _messages(
            rget("messages"), None
        )
        sys_text = _bounded(sys_text)
        if sys_red or rget("redacted") is True:
            redacted = True
        n_tools, tool_names, thash = _tools(rget("tools"))
        choice = _tool_choice(rget("tool_choice"), "")
        thinking = _d(rget("thinking"))
        if thinking:
            thinking_enabled = thinking.get("type") in ("enabled", "adaptive")
            budget = _i(thinking.get("budget_tokens"))
        else:
            thinking_enabled = False
        n_choices = 1
        temp = _f(rget("temperature"))
        top_p = _f(rget("top_p"))
        stream = rget("stream")
        if stream is not None and type(stream) is not bool:
            opt_bool(stream, "")
        stops = rget("stop_sequences")
        n_stop = 0 if stops is None else len(opt_list(stops, ""))
        meta = _d(rget("metadata"))
        if meta.get("user_id") is not None:
            end_user = _s(meta["user_id"], 1024)
    elif api == _OPENAI:
        mt = rget("max_completion_tokens")
        max_tokens = _i(rget("max_tokens") if mt is None else mt)
        system: list[str] = []
        n_msgs, n_user, n_asst, tool_res, user_text, last, redacted = _messages(
            rget("messages"), system
        )
        sys_text = _bounded("\n\n".join(system)) if system else None
        if rget("redacted") is True:
            redacted = True
        tools = rget("tools")
        if tools is None and rget("functions") is not None:
            tools = rget("functions")
        n_tools, tool_names, thash = _tools(tools)
        choice = _tool_choice(rget("tool_choice"), "")
        effort = _s(rget("reasoning_effort"), 32)
        n = _i(rget("n"))
        n_choices = 1 if n is None else n
        temp = _f(rget("temperature"))
        top_p = _f(rget("top_p"))
        seed = _i(rget("seed"))
        logprobs = rget("logprobs")
        if logprobs is not None and type(logprobs) is not bool:
            opt_bool(logprobs, "")
        top_lp = _i(rget("top_logprobs"))
        stream = rget("stream")
        if stream is not None and type(stream) is not bool:
            opt_bool(stream, "")
        rf = rget("response_format")
        fmt = _s(rf.get("type"), 64) if type(rf) is dict else _s(rf, 64)
        stop = rget("stop")
        n_stop = 1 if type(stop) is str else (0 if stop is None else len(opt_list(stop, "")))
        user = rget("safety_identifier")
        if user is None:
            user = rget("user")
        end_user = _s(user, 1024)
    else:
        raise _Slow
    last = _bounded(last)
    resp = _d(get("response"))
    pget = resp.get
    status = _i(pget("status"))
    reason = pget("stop_reason")
    choices = pget("choices")
    first = choices[0] if type(choices) is list and choices else None
    if reason is None:
        reason = pget("finish_reason")
    if reason is None and type(first) is dict:
        reason = first.get("finish_reason")
    stop_reason = _s(reason, 64)
    usage = _d(pget("usage"))
    uget = usage.get
    it = uget("input_tokens")
    if it is None:
        it = uget("prompt_tokens")
    ot = uget("output_tokens")
    if ot is None:
        ot = uget("completion_tokens")
    details = _d(uget("completion_tokens_details"))
    rt = details.get("reasoning_tokens", uget("reasoning_tokens"))
    cr = uget("cache_read_input_tokens")
    if cr is None:
        cr = _d(uget("prompt_tokens_details")).get("cached_tokens")
    content = pget("content")
    if content is None and type(first) is dict:
        msg = first.get("message")
        content = msg.get("content") if type(msg) is dict else None
    response_text = None if content is None else _bounded(_text(content)[0])
    return (
        eid if len(eid) <= 1024 else eid[:1024],
        ts,
        acct if len(acct) <= 1024 else acct[:1024],
        org,
        key,
        access,
        end_user,
        ip,
        ua,
        headers,
        api,
        model,
        redacted,
        sys_text,
        user_text,
        last,
        False,
        n_msgs,
        n_user,
        n_asst,
        tool_res,
        n_tools,
        tool_names,
        thash,
        choice,
        max_tokens,
        thinking_enabled,
        budget,
        effort,
        n_choices,
        temp,
        top_p,
        seed,
        logprobs,
        top_lp,
        stream,
        fmt,
        n_stop,
        status,
        stop_reason,
        stop_kind(stop_reason),
        _i(it),
        _i(ot),
        _i(rt),
        _i(cr),
        _f(get("latency_ms")),
        response_text,
        file,
        line,
    )
