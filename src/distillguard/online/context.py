"""One request as the decision sees it: who asks, from where, through which API, for what.

A :class:`RequestContext` is built from a native exchange record (the export format of
``docs/spec``: the replay path), or from an OpenAI Chat Completions / Anthropic Messages
request body plus its HTTP headers (the gateway path). It keeps the body as sent, so the
degrade rewrite and the per-exchange signals see exactly what the provider would.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import InputError

__all__ = ["SENSITIVE_HEADERS", "RequestContext", "clean_headers", "parse_timestamp"]

#: Headers never kept in a context (credentials and cookies).
SENSITIVE_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "cookie", "set-cookie", "proxy-authorization"}
)

_APIS = ("anthropic.messages", "openai.chat_completions")
#: Headers that describe the client SDK (proxy and transport headers are left out).
_SDK_HEADER_PREFIXES = ("x-stainless-", "anthropic-", "openai-")


def parse_timestamp(value: object, *, field_name: str = "timestamp") -> float:
    """RFC 3339 text, epoch seconds or a datetime -> epoch seconds (UTC)."""
    if value is None:
        return time.time()
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.timestamp()
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InputError("bad_timestamp", f"not RFC 3339: {value!r}", field=field_name) from exc
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    raise InputError("bad_timestamp", f"unsupported type {type(value).__name__}", field=field_name)


def clean_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Headers lower-cased, credentials and cookies left out (:data:`SENSITIVE_HEADERS`)."""
    if not headers:
        return {}
    return {
        str(k).lower(): str(v)
        for k, v in headers.items()
        if str(k).lower() not in SENSITIVE_HEADERS
    }


@dataclass(slots=True)
class RequestContext:
    """A request about to be served (or a logged exchange being replayed)."""

    account_id: str
    api: str
    body: dict[str, Any]
    ts: float = field(default_factory=time.time)
    request_id: str | None = None
    org_id: str | None = None
    api_key_id: str | None = None
    access_path: str | None = "api"
    client_ip: str | None = None
    user_agent: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: per-exchange signals (``distillguard.signals``), filled by the engine before decide
    signals: dict[str, Any] | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_native(cls, record: Mapping[str, Any]) -> RequestContext:
        """Build from a native exchange record (``response`` is ignored if present)."""
        account_id = record.get("account_id")
        if not isinstance(account_id, str) or not account_id:
            raise InputError("missing_field", "account_id is required", field="account_id")
        api = record.get("api") or "openai.chat_completions"
        if api not in _APIS:
            raise InputError("bad_api", f"unknown api {api!r}; one of {_APIS}", field="api")
        body = record.get("request") or {}
        if not isinstance(body, dict):
            raise InputError("bad_request", "request must be an object", field="request")
        client = record.get("client") or {}
        if not isinstance(client, dict):
            raise InputError("bad_client", "client must be an object", field="client")
        return cls(
            account_id=account_id,
            api=api,
            body=body,
            ts=parse_timestamp(record.get("timestamp")),
            request_id=record.get("id"),
            org_id=record.get("org_id"),
            api_key_id=record.get("api_key_id"),
            access_path=record.get("access_path"),  # as logged: absent stays null, as in batch
            client_ip=client.get("ip"),
            user_agent=client.get("user_agent"),
            headers=clean_headers(client.get("headers")),
        )

    @classmethod
    def from_openai(
        cls,
        body: Mapping[str, Any],
        headers: Mapping[str, Any] | None = None,
        *,
        account_id: str,
        **kw: Any,
    ) -> RequestContext:
        """Build from an OpenAI Chat Completions body and its headers."""
        return cls._from_body("openai.chat_completions", body, headers, account_id, kw)

    @classmethod
    def from_anthropic(
        cls,
        body: Mapping[str, Any],
        headers: Mapping[str, Any] | None = None,
        *,
        account_id: str,
        **kw: Any,
    ) -> RequestContext:
        """Build from an Anthropic Messages body and its headers."""
        return cls._from_body("anthropic.messages", body, headers, account_id, kw)

    @classmethod
    def _from_body(
        cls,
        api: str,
        body: Mapping[str, Any],
        headers: Mapping[str, Any] | None,
        account_id: str,
        kw: dict[str, Any],
    ) -> RequestContext:
        hdrs = clean_headers(headers)
        ua = kw.pop("user_agent", None) or hdrs.get("user-agent")
        ip = kw.pop("client_ip", None) or _first_forwarded(hdrs)
        return cls(
            account_id=account_id,
            api=api,
            body=dict(body),
            user_agent=ua,
            client_ip=ip,
            headers={k: v for k, v in hdrs.items() if k != "user-agent"},
            **kw,
        )

    # ------------------------------------------------------------------ views
    @property
    def model(self) -> str | None:
        """Model requested."""
        m = self.body.get("model")
        return m if isinstance(m, str) else None

    @property
    def max_tokens(self) -> int | None:
        """Output cap requested (max_tokens / max_completion_tokens)."""
        for key in ("max_completion_tokens", "max_tokens"):
            v = self.body.get(key)
            if isinstance(v, int):
                return v
        return None

    @property
    def client_fingerprint(self) -> str:
        """User agent plus the sorted names of the client's SDK headers: the SDK's shape."""
        names = ",".join(sorted(h for h in self.headers if h.startswith(_SDK_HEADER_PREFIXES)))
        return f"{self.user_agent or ''}|{names}"

    def to_native(self, response: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The native exchange record of this request (with ``response`` when known)."""
        rec: dict[str, Any] = {
            "id": self.request_id or f"req_{int(self.ts * 1000)}_{self.account_id}",
            "timestamp": datetime.fromtimestamp(self.ts, UTC).isoformat().replace("+00:00", "Z"),
            "account_id": self.account_id,
            "org_id": self.org_id,
            "api_key_id": self.api_key_id,
            "access_path": self.access_path,
            "client": {
                "ip": self.client_ip,
                "user_agent": self.user_agent,
                "headers": self.headers,
            },
            "api": self.api,
            "request": self.body,
        }
        if response is not None:
            rec["response"] = dict(response)
        return rec


def _first_forwarded(headers: Mapping[str, str]) -> str | None:
    fwd = headers.get("x-forwarded-for")
    if fwd:
        return fwd.split(",")[0].strip() or None
    return headers.get("x-real-ip")
