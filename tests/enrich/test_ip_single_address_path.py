"""The single-address path (decision service, first sight) answers exactly as the batch path."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pyarrow as pa
import pytest

from distillguard.enrich import IpEnricher
from distillguard.resources import shared_data_dir


def _user_lists(tmp_path: Path) -> list[str]:
    (tmp_path / "vpn.txt").write_text("203.0.113.0/24\n2001:db8:aa::/48\n")
    (tmp_path / "tor_exits.txt").write_text("203.0.113.9\n")
    (tmp_path / "hosting_asn.txt").write_text("AS64500\n")
    (tmp_path / "proxies.txt").write_text("198.51.100.20\n")
    with gzip.open(tmp_path / "asn.csv.gz", "wt") as fh:
        fh.write('192.0.2.0,192.0.2.255,64500,"Example Hosting, Inc."\n')
        fh.write("198.51.100.0,198.51.100.255,64501,Example Telecom\n")
    return [
        f"vpn={tmp_path / 'vpn.txt'}",
        f"tor={tmp_path / 'tor_exits.txt'}",
        f"hosting={tmp_path / 'hosting_asn.txt'}",
        f"proxy={tmp_path / 'proxies.txt'}",
        f"asn-db={tmp_path / 'asn.csv.gz'}",
    ]


def _addresses(rng: random.Random) -> list[str | None]:
    fixed: list[str | None] = [
        "8.8.8.8",
        " 8.8.4.4 ",
        "1.1.1.1",
        "10.1.2.3",
        "192.168.0.7",
        "127.0.0.1",
        "100.64.1.1",
        "224.0.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "999.1.1.1",
        "1.2.3",
        "203.0.113.5",
        "203.0.113.9",
        "192.0.2.10",
        "198.51.100.20",
        "198.51.100.99",
        "::ffff:203.0.113.9",
        "::FFFF:8.8.8.8",
        "2001:4860:4860::8888",
        "2001:db8:aa:1::5",
        "fe80::1%eth0",
        "::1",
        "not-an-ip",
        "",
        None,
        "8.8.8.8\t",
        "\u0661.2.3.4",
        "1.2.3.4\x1c",
    ]
    v4 = [
        f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
        for _ in range(400)
    ]
    v6 = [
        f"2{rng.randint(0, 0xFFF):03x}:{rng.randint(0, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"
        for _ in range(40)
    ]
    return fixed + v4 + v6


def _agree(e: IpEnricher, ips: list[str | None]) -> None:
    cols = e.enrich(pa.array(ips, pa.string()))
    for i, ip in enumerate(ips):
        batch = {k: v[i].as_py() for k, v in cols.items()}
        assert e.enrich_one(ip) == batch, ip


def test_single_address_path_equals_batch_with_user_lists(tmp_path: Path) -> None:
    e = IpEnricher.default(cidr_files=_user_lists(tmp_path))
    _agree(e, _addresses(random.Random(7)))


def test_single_address_path_equals_batch_on_the_public_lists() -> None:
    data = shared_data_dir()
    if data is None:
        pytest.skip("shared network lists not present")
    e = IpEnricher.default(data)
    ips = _addresses(random.Random(11))
    # addresses inside listed ranges, so every list kind is exercised, not only misses
    for _kind, _prov, idx4, _idx6, _asns in e.lists._build():
        for start in idx4.starts[:: max(1, len(idx4.starts) // 5)][:5]:
            a = int(start) + 1
            ips.append(f"{a >> 24 & 255}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}")
    kinds = {e.enrich_one(ip)["net_kind"] for ip in ips}
    assert {"hosting", "vpn", "residential"} <= kinds
    _agree(e, ips)
