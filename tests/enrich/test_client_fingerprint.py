"""Client fingerprints from user agents and SDK headers."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pytest

from distillguard.enrich import CLIENT_FIELDS, ClientFingerprinter, parse_client
from distillguard.resources import shared_data_dir

STAINLESS = {
    "x-stainless-lang": "python",
    "x-stainless-package-version": "0.121.0",
    "x-stainless-os": "Linux",
    "x-stainless-arch": "x64",
    "x-stainless-runtime": "CPython",
    "x-stainless-runtime-version": "3.11.9",
}


def _fp(ua: str | None, headers: dict | None) -> dict:
    return ClientFingerprinter().fingerprint_one(
        ua, json.dumps(headers) if headers is not None else None
    )


def test_sdk_user_agent_and_headers() -> None:
    r = _fp("Anthropic/Python 0.121.0", STAINLESS)
    assert r["client_family"] == "anthropic-python"
    assert r["client_version"] == "0.121.0"
    assert r["client_runtime"] == "CPython 3.11.9"
    assert r["client_os"] == "Linux/x64"
    assert r["client_fp"].startswith("anthropic-python/0.121.0|CPython 3.11.9|Linux/x64|hs:")


def test_header_order_and_volatile_headers_do_not_change_the_fingerprint() -> None:
    base = _fp("OpenAI/Python 1.40.0", STAINLESS)
    shuffled = dict(reversed(list(STAINLESS.items())))
    shuffled["x-stainless-retry-count"] = "2"
    assert _fp("OpenAI/Python 1.40.0", shuffled)["client_fp"] == base["client_fp"]
    extra = {**STAINLESS, "anthropic-beta": "tools-2024"}
    assert _fp("OpenAI/Python 1.40.0", extra)["header_set_hash"] != base["header_set_hash"]


@pytest.mark.parametrize(
    ("ua", "family", "version"),
    [
        ("python-requests/2.32.3", "python-requests", "2.32.3"),
        ("curl/8.5.0", "curl", "8.5.0"),
        ("Python/3.11 aiohttp/3.9.5", "python-aiohttp", "3.9.5"),
        ("OpenAI/JS 4.52.0", "openai-node", "4.52.0"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36",
            "browser-chrome",
            "126.0.0.0",
        ),
    ],
)
def test_common_clients(ua: str, family: str, version: str) -> None:
    r = _fp(ua, None)
    assert (r["client_family"], r["client_version"]) == (family, version)


def test_nothing_sent_gives_nulls_and_bad_json_is_tolerated() -> None:
    assert set(_fp(None, None).values()) == {None}
    r = ClientFingerprinter().fingerprint_one("curl/8.5.0", "{not json")
    assert r["client_family"] == "curl"


def test_vectorised_equals_single() -> None:
    uas = ["Anthropic/Python 0.121.0", None, "curl/8.5.0", "Anthropic/Python 0.121.0"]
    hds = [json.dumps(STAINLESS), None, None, json.dumps(STAINLESS)]
    cols = ClientFingerprinter().fingerprint(pa.array(uas, pa.string()), pa.array(hds, pa.string()))
    assert list(cols) == list(CLIENT_FIELDS)
    for i in range(len(uas)):
        one = ClientFingerprinter().fingerprint_one(uas[i], hds[i])
        assert one == {k: v[i].as_py() for k, v in cols.items()}


shared = shared_data_dir()


@pytest.mark.skipif(shared is None, reason="no shared data")
def test_every_published_sdk_user_agent_parses() -> None:
    assert shared is not None
    path = shared / "network" / "sdk_user_agents_from_changelogs.csv"
    vendor = {
        "openai-python": "openai-python",
        "anthropic-sdk-python": "anthropic-python",
        "openai-node": "openai-node",
    }
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for row in rows:
        fam, ver = parse_client(row["user_agent"], None)[:2]
        assert fam == vendor[row["sdk"]], row
        assert ver == row["version"], row
