"""IP enrichment: embedded tables, user lists, precedence, batch == single event."""

from __future__ import annotations

import gzip
import ipaddress
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from distillguard.enrich import IP_FIELDS, IpEnricher, NetworkLists
from distillguard.enrich._ranges import _v6_bounds, parse_addresses, parse_network
from distillguard.errors import ConfigError, InputError
from distillguard.resources import shared_data_dir


@pytest.fixture(scope="module")
def embedded() -> IpEnricher:
    return IpEnricher.default()


def _one(e: IpEnricher, ip: str | None) -> dict:
    cols = e.enrich(pa.array([ip], pa.string()))
    return {k: v[0].as_py() for k, v in cols.items()}


def test_embedded_default_knows_country_and_big_clouds(embedded: IpEnricher) -> None:
    google = _one(embedded, "8.8.8.8")
    assert google["country"] == "US"
    assert google["net_kind"] == "cloud" and google["cloud_provider"] == "gcp"
    assert google["ip_prefix"] == "8.8.8.0/24"
    assert google["is_hosting"] is True


@pytest.mark.parametrize("ip", ["10.1.2.3", "192.168.0.7", "127.0.0.1", "not-an-ip", "", None])
def test_private_invalid_and_missing_addresses_are_unknown(
    embedded: IpEnricher, ip: str | None
) -> None:
    r = _one(embedded, ip)
    assert r["net_kind"] == "unknown"
    assert r["ip_prefix"] is None
    assert not (r["is_hosting"] or r["is_vpn"] or r["is_tor"] or r["is_proxy"])


def test_ipv6_prefix_is_slash_48(embedded: IpEnricher) -> None:
    r = _one(embedded, "2001:4860:4860::8888")
    assert r["ip_prefix"] == "2001:4860:4860::/48"
    assert r["country"] == "US"


def _lists(tmp_path: Path) -> list[str]:
    (tmp_path / "vpn.txt").write_text("# corporate VPN exits\n203.0.113.0/24\n2001:db8:aa::/48\n")
    (tmp_path / "tor_exits.csv").write_text("fingerprint, ipaddr, port\nABC, 203.0.113.9, 443\n")
    (tmp_path / "hosting_asn.txt").write_text("AS64500 # Example Hosting\n")
    (tmp_path / "proxies.txt").write_text(
        "socks5://198.51.100.20:1080\nhttp://198.51.100.21:8080\n"
    )
    with gzip.open(tmp_path / "asn.csv.gz", "wt") as fh:
        fh.write('192.0.2.0,192.0.2.255,64500,"Example Hosting, Inc."\n')
        fh.write("198.51.100.0,198.51.100.255,64501,Example Telecom\n")
    return [
        f"vpn={tmp_path / 'vpn.txt'}",
        str(tmp_path / "tor_exits.csv"),
        f"hosting={tmp_path / 'hosting_asn.txt'}",
        str(tmp_path / "proxies.txt"),
        f"asn-db={tmp_path / 'asn.csv.gz'}",
    ]


def test_user_lists_classify_with_precedence(tmp_path: Path) -> None:
    e = IpEnricher.default(cidr_files=_lists(tmp_path))
    ips = [
        "203.0.113.5",
        "203.0.113.9",
        "192.0.2.10",
        "198.51.100.20",
        "198.51.100.99",
        "2001:db8:aa:1::5",
    ]
    cols = e.enrich(pa.array(ips))
    kinds = cols["net_kind"].to_pylist()
    # plain VPN range; tor exit inside the VPN range wins; hosting via its AS; proxy; ISP
    assert kinds[:5] == ["vpn", "tor", "hosting", "proxy", "residential"]
    assert kinds[5] == "vpn"
    assert cols["asn"].to_pylist()[2:5] == [64500, 64501, 64501]
    assert cols["asn_org"][2].as_py() == "Example Hosting, Inc."
    assert cols["is_vpn"].to_pylist()[:2] == [True, True] and cols["is_tor"][1].as_py()


def test_batch_and_single_event_agree(tmp_path: Path) -> None:
    e = IpEnricher.default(cidr_files=_lists(tmp_path))
    ips = ["203.0.113.5", "8.8.8.8", None, "192.0.2.10", "8.8.8.8", "::ffff:203.0.113.9", "bogus"]
    cols = e.enrich(pa.array(ips, pa.string()))
    assert set(cols) == set(IP_FIELDS)
    for i, ip in enumerate(ips):
        assert e.enrich_one(ip) == {k: v[i].as_py() for k, v in cols.items()}


def test_bad_lists_name_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "vpn_empty.txt"
    empty.write_text("nothing here\n")
    with pytest.raises(InputError, match=r"vpn_empty\.txt"):
        IpEnricher.default(cidr_files=[str(empty)])
    with pytest.raises(ConfigError, match="unknown list kind"):
        IpEnricher.default(cidr_files=[f"bogus={empty}"])
    with pytest.raises(ConfigError, match="cannot tell"):
        NetworkLists().add_spec(str(tmp_path / "mystery.txt"))


def test_vectorised_ipv4_parsing_matches_ipaddress() -> None:
    rng = np.random.default_rng(7)
    vals = rng.integers(0, 2**32, size=2000, dtype=np.uint64)
    texts = [str(ipaddress.IPv4Address(int(v))) for v in vals] + ["256.1.1.1", "1.2.3", "x"]
    addr, is_v4, valid = parse_addresses(pa.array(texts))
    assert (addr[:2000] == vals).all() and is_v4[:2000].all() and valid[:2000].all()
    assert not valid[2000:].any()


def test_fast_ipv6_bounds_match_ipaddress() -> None:
    rng = np.random.default_rng(11)
    for _ in range(500):
        addr = ipaddress.IPv6Address(
            int(rng.integers(0, 2**63)) << 65 | int(rng.integers(0, 2**32))
        )
        plen = int(rng.integers(8, 129))
        tok = f"{ipaddress.IPv6Network((addr, plen), strict=False).compressed}"
        ref = parse_network(tok)
        assert ref is not None
        assert _v6_bounds(tok) == ref[1:]
    assert _v6_bounds("bad::x") is None


shared = shared_data_dir()
needs_data = pytest.mark.skipif(
    shared is None or not (shared / "network").is_dir(), reason="no shared network data"
)


@needs_data
def test_public_lists_mark_tor_proxies_and_clouds() -> None:
    assert shared is not None
    net = shared / "network"
    e = IpEnricher.default(net)
    tor_ip = (net / "tor" / "tor_exit_ips_2026-08-22.txt").read_text().split()[0]
    proxy = json.loads((net / "proxies" / "monosans_proxies_2026-08-22.json").read_text())[0]
    aws_net = ipaddress.ip_network(
        (net / "lord_alfred_ipranges" / "amazon_ipv4_merged.txt").read_text().split()[0]
    )
    cols = e.enrich(pa.array([tor_ip, proxy["host"], str(aws_net.network_address + 1)]))
    assert cols["net_kind"].to_pylist()[:2] == ["tor", "proxy"]
    assert cols["is_tor"][0].as_py() and cols["is_proxy"][1].as_py()
    assert cols["net_kind"][2].as_py() == "cloud" and cols["cloud_provider"][2].as_py() == "aws"
    # the ASN database gives numbers the embedded tables lack
    assert cols["asn"][2].as_py() is not None


def test_maxmind_database_overrides_asn_and_country(tmp_path: Path) -> None:
    pytest.importorskip("maxminddb")
    netaddr = pytest.importorskip("netaddr")
    mmdb_writer = pytest.importorskip("mmdb_writer")
    asn_db = tmp_path / "asn.mmdb"
    w = mmdb_writer.MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True)
    w.insert_network(
        netaddr.IPSet(["8.8.8.0/24"]),
        {"autonomous_system_number": 64511, "autonomous_system_organization": "Example Carrier"},
    )
    w.to_db_file(str(asn_db))
    country_db = tmp_path / "country.mmdb"
    w = mmdb_writer.MMDBWriter(ip_version=6, database_type="GeoLite2-Country", ipv4_compatible=True)
    w.insert_network(netaddr.IPSet(["8.8.8.0/24"]), {"country": {"iso_code": "NZ"}})
    w.to_db_file(str(country_db))
    e = IpEnricher.default(mmdb=[asn_db, country_db])
    r = e.enrich_one("8.8.8.8")
    assert (r["asn"], r["asn_org"], r["country"]) == (64511, "Example Carrier", "NZ")
    # an address the databases do not cover keeps the embedded answer
    assert e.enrich_one("1.1.1.1")["asn"] is None
    with pytest.raises(ConfigError, match="not a readable MaxMind database"):
        IpEnricher.default(mmdb=tmp_path / "vpn_nothing.mmdb")
