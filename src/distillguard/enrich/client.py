"""Client fingerprint from the User-Agent and the SDK's ``x-stainless-*`` headers.

Official SDKs announce themselves (``Anthropic/Python 0.121.0``, ``OpenAI/JS 7.5.0``)
and send ``x-stainless-lang / -package-version / -os / -arch / -runtime /
-runtime-version``; HTTP libraries (``python-requests/2.32.3``, ``curl/8.5.0``) and
browsers send their own. A fingerprint joins family, version, runtime, OS and a hash of
the *set of header names* (ordering and volatile headers like retry counts excluded):
thousands of accounts driven by one harvesting rig tend to share it exactly, while a
popular SDK release on a common runtime is shared by many unrelated users (the linkage
stage weighs it by how rare it is).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["CLIENT_FIELDS", "ClientFingerprinter", "parse_client"]

#: Columns produced by :meth:`ClientFingerprinter.fingerprint`, with their meaning.
CLIENT_FIELDS: dict[str, tuple[pa.DataType, str]] = {
    "client_family": (
        pa.string(),
        "Client software: anthropic-python, openai-node, python-requests, curl, "
        "browser-chrome..., other:<product>, or null when nothing was sent.",
    ),
    "client_version": (pa.string(), "Version of that client software."),
    "client_runtime": (pa.string(), "Language runtime and version (e.g. `CPython 3.11.9`)."),
    "client_os": (pa.string(), "Operating system (and CPU arch when sent)."),
    "header_set_hash": (
        pa.string(),
        "Hash of the sorted set of header names sent (volatile headers excluded).",
    ),
    "client_fp": (
        pa.string(),
        "One fingerprint string: `family/version|runtime|os|hs:<header-set hash>`.",
    ),
}

_VOLATILE = frozenset(
    {
        "x-stainless-retry-count",
        "x-stainless-read-timeout",
        "x-stainless-timeout",
        "x-request-id",
        "idempotency-key",
        "content-length",
        "traceparent",
        "tracestate",
    }
)

_SDK = re.compile(
    r"^(Anthropic|OpenAI)/(Python|JS|Node|Go|Java|Ruby|Kotlin|\.NET|C#)\s+(\S+)", re.I
)
_PRODUCT = re.compile(r"^([A-Za-z][\w.\-]*)/v?([\w.\-+]+)")
_BROWSERS = (
    ("edg/", "edge"),
    ("opr/", "opera"),
    ("firefox/", "firefox"),
    ("chrome/", "chrome"),
    ("crios/", "chrome"),
    ("safari/", "safari"),
)
_UA_OS = (
    ("windows", "Windows"),
    ("iphone", "iOS"),
    ("ipad", "iOS"),
    ("android", "Android"),
    ("mac os x", "MacOS"),
    ("macintosh", "MacOS"),
    ("cros", "ChromeOS"),
    ("linux", "Linux"),
)


def _browser(ua: str) -> tuple[str, str | None, str | None]:
    low = ua.lower()
    family = "browser-other"
    version = None
    for needle, name in _BROWSERS:
        pos = low.find(needle)
        if pos >= 0:
            family = f"browser-{name}"
            m = re.match(r"[\w.]+", low[pos + len(needle) :])
            version = m.group(0) if m else None
            break
    os_name = next((v for k, v in _UA_OS if k in low), None)
    return family, version, os_name


@lru_cache(maxsize=65_536)
def parse_client(user_agent: str | None, headers_json: str | None) -> tuple[str | None, ...]:
    """Fingerprint one client: returns the :data:`CLIENT_FIELDS` values in order."""
    headers: dict[str, Any] = {}
    if headers_json:
        try:
            obj = orjson.loads(headers_json)
            if isinstance(obj, dict):
                headers = {str(k).lower(): v for k, v in obj.items()}
        except orjson.JSONDecodeError:
            headers = {}
    ua = (user_agent or "").strip()
    family: str | None = None
    version: str | None = None
    os_name: str | None = None
    m = _SDK.match(ua)
    if m:
        lang = m.group(2).lower().replace("js", "node")
        family, version = f"{m.group(1).lower()}-{lang}", m.group(3)
    elif ua.startswith("Mozilla/"):
        family, version, os_name = _browser(ua)
    elif ua:
        pm = _PRODUCT.match(ua)
        if pm:
            family, version = pm.group(1).lower(), pm.group(2)
            tail = re.findall(
                r"\b(aiohttp|httpx|requests|urllib3|axios|node-fetch|got)/([\w.]+)", ua
            )
            if family == "python" and tail:
                family, version = f"python-{tail[-1][0]}", tail[-1][1]
        else:
            family = "other"
    lang = headers.get("x-stainless-lang")
    if family is None and lang:
        family = f"stainless-{str(lang).lower()}"
    if version is None and headers.get("x-stainless-package-version"):
        version = str(headers["x-stainless-package-version"])
    rt = headers.get("x-stainless-runtime")
    rtv = headers.get("x-stainless-runtime-version")
    runtime = " ".join(str(x) for x in (rt, rtv) if x) or None
    hos = headers.get("x-stainless-os")
    arch = headers.get("x-stainless-arch")
    if hos:
        os_name = str(hos) + (f"/{arch}" if arch else "")
    names = sorted(k for k in headers if k not in _VOLATILE)
    hs = hashlib.blake2b("\n".join(names).encode(), digest_size=6).hexdigest() if names else None
    if family is None and not names:
        return (None, None, None, None, None, None)
    fp = f"{family or '-'}/{version or '-'}|{runtime or '-'}|{os_name or '-'}|hs:{hs or '-'}"
    return (family, version, runtime, os_name, hs, fp)


class ClientFingerprinter:
    """Vectorised front of :func:`parse_client`: parses each distinct client once."""

    def fingerprint(
        self, user_agent: pa.Array | pa.ChunkedArray, headers: pa.Array | pa.ChunkedArray
    ) -> dict[str, pa.Array]:
        """One array per :data:`CLIENT_FIELDS` entry, aligned with the inputs."""
        ua = pc.fill_null(user_agent.cast(pa.string()), "")
        hd = pc.fill_null(headers.cast(pa.string()), "")
        key = pc.binary_join_element_wise(ua, hd, "\x00")
        if isinstance(key, pa.ChunkedArray):
            key = key.combine_chunks()
        enc = pc.dictionary_encode(key)
        cols: list[list[str | None]] = [[] for _ in CLIENT_FIELDS]
        for k in enc.dictionary.to_pylist():
            u, _, h = k.partition("\x00")
            for col, val in zip(cols, parse_client(u or None, h or None), strict=True):
                col.append(val)
        return {
            name: pa.array(col, pa.string()).take(enc.indices)
            for name, col in zip(CLIENT_FIELDS, cols, strict=True)
        }

    def fingerprint_one(self, user_agent: str | None, headers: str | None) -> dict[str, Any]:
        """Fingerprint one event; same answer as :meth:`fingerprint`."""
        vals = parse_client(user_agent or None, headers or None)
        return dict(zip(CLIENT_FIELDS, vals, strict=True))
