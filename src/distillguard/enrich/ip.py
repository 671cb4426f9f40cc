"""Client address enrichment: ASN, organisation, country and network kind.

Sources, strongest first:

* MaxMind ``.mmdb`` files (GeoLite2/GeoIP2 ASN and Country) through ``maxminddb``,
  when the user has them (``pip install 'distillguard[maxmind]'``);
* an ``start,end,asn,organisation`` IPv4 range file such as ip-location-db's
  ``asn-ipv4.csv.gz`` (RouteViews + DB-IP), when the user points at it;
* the embedded default: the GeoLite2 country + ASN-name tables that ship with the
  ``geoip2fast`` package (no ASN numbers there, only names);
* CIDR / address / ASN lists naming hosting, VPN, Tor exit, open proxy and
  cloud-provider space (see :mod:`distillguard.enrich.lists`).

Lookups run on the *distinct* addresses of a batch: addresses become integers (IPv6 by
its upper 64 bits), every source is a sorted range table, and one ``searchsorted`` per
source answers all of them; results are taken back onto the rows.
"""

from __future__ import annotations

import gzip
import ipaddress
import itertools
import os
import pickle
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConfigError
from ._ranges import RangeIndex, parse_address_one, parse_addresses
from .lists import NetworkLists, hosting_hint

__all__ = ["IP_FIELDS", "NET_KINDS", "IpEnricher"]

#: Values of ``net_kind``, the one-word summary of where an address sits.
NET_KINDS = ("residential", "hosting", "vpn", "tor", "proxy", "cloud", "unknown")

#: Network kinds that override ``residential``, weakest first: a later match wins.
_KIND_ORDER = ("hosting", "cloud", "vpn", "proxy", "tor")

#: Columns produced by :meth:`IpEnricher.enrich`, with their meaning.
IP_FIELDS: dict[str, tuple[pa.DataType, str]] = {
    "asn": (pa.int64(), "Autonomous system number of the client address (null when unknown)."),
    "asn_org": (pa.string(), "Organisation holding that AS."),
    "country": (pa.string(), "ISO 3166-1 alpha-2 country of the client address."),
    "net_kind": (
        pa.string(),
        "residential, hosting, vpn, tor, proxy, cloud or unknown; first match in that "
        "priority: tor, proxy, vpn, cloud, hosting, residential.",
    ),
    "cloud_provider": (pa.string(), "Cloud / service provider owning the range (aws, gcp...)."),
    "ip_prefix": (pa.string(), "Network of the address: /24 for IPv4, /48 for IPv6."),
    "is_hosting": (pa.bool_(), "Address in datacenter space (hosting or cloud)."),
    "is_vpn": (pa.bool_(), "Address in a VPN / privacy relay range or AS."),
    "is_tor": (pa.bool_(), "Address is a Tor exit relay."),
    "is_proxy": (pa.bool_(), "Address is a known open proxy (entry or exit)."),
}


class _Geo:
    """The embedded country + ASN-name tables of geoip2fast, as numpy range tables."""

    def __init__(self) -> None:
        import geoip2fast

        path = Path(geoip2fast.__file__).parent / "geoip2fast-asn.dat.gz"
        with gzip.open(path, "rb") as fh:
            _ver, _info, _total, db = pickle.load(fh)  # the package's own data file
        (_, _, names_c, names_asn, first_ip, first_asn, id_c, id_asn, netlen, netlen_asn) = db
        self.country = self._table(first_ip, netlen, id_c)
        codes = [n.split(":", 1)[0] for n in names_c]
        self.country_codes = np.array(
            [c if len(c) == 2 and c.isalpha() else None for c in codes], dtype=object
        )
        self.asn = self._table(first_asn, netlen_asn, id_asn)
        self.asn_names = np.array(
            [None if n.startswith("<") else n for n in names_asn], dtype=object
        )
        self._v6: Any = None

    @staticmethod
    def _table(first: list[list[int]], netlen: list[list[int]], ids: list[list[int]]) -> RangeIndex:
        s = np.fromiter(itertools.chain.from_iterable(first), dtype=np.uint64)
        nl = np.fromiter(itertools.chain.from_iterable(netlen), dtype=np.uint64)
        v = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64)
        e = s + (np.uint64(1) << (np.uint64(32) - nl)) - np.uint64(1)
        return RangeIndex(s, e, v)

    def v6(self, ip: str) -> tuple[str | None, str | None]:
        """Country and AS name of one IPv6 address (public geoip2fast API, lazily loaded)."""
        if self._v6 is None:
            from geoip2fast import GeoIP2Fast

            self._v6 = GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn-ipv6.dat.gz")
        r = self._v6.lookup(ip)
        cc = r.country_code if len(r.country_code or "") == 2 and r.country_code.isalpha() else None
        return cc, (r.asn_name or None)


#: Private, loopback, link-local, CGNAT and reserved IPv4 space: no enrichment applies.
_PRIVATE = RangeIndex.build(
    *zip(
        *[
            (int(n.network_address), int(n.broadcast_address))
            for n in map(
                ipaddress.ip_network,
                (
                    "0.0.0.0/8",
                    "10.0.0.0/8",
                    "100.64.0.0/10",
                    "127.0.0.0/8",
                    "169.254.0.0/16",
                    "172.16.0.0/12",
                    "192.168.0.0/16",
                    "224.0.0.0/3",
                ),
            )
        ],
        strict=True,
    ),
    merge=True,
)


@lru_cache(maxsize=1)
def _embedded_geo() -> _Geo:
    return _Geo()


class IpEnricher:
    """Turns client addresses into the :data:`IP_FIELDS` columns.

    Build once with :meth:`default` (it loads tables), then call :meth:`enrich` on
    batches or :meth:`enrich_one` per event; both give identical answers.
    """

    def __init__(
        self,
        lists: NetworkLists | None = None,
        mmdb: Sequence[str | os.PathLike[str]] = (),
        *,
        embedded: bool = True,
    ) -> None:
        self.lists = lists or NetworkLists()
        self.geo = _embedded_geo() if embedded else None
        self.mmdb_readers = [_open_mmdb(p) for p in mmdb]
        self._one_cache: dict[str | None, dict[str, Any]] = {}

    @classmethod
    def default(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        cidr_files: Sequence[str | os.PathLike[str]] = (),
        mmdb: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    ) -> IpEnricher:
        """The embedded tables plus the network lists under ``data_dir`` and ``cidr_files``.

        ``data_dir`` is a folder laid out like ``shared/data/network`` (or its parent);
        ``cidr_files`` are ``kind[:provider]=path`` specs (see
        :meth:`NetworkLists.add_spec`); ``mmdb`` one or more MaxMind database files.
        """
        lists = NetworkLists()
        if data_dir is not None:
            lists = _lists_for_dir(Path(data_dir).resolve()).copy()
        for spec in cidr_files:
            lists.add_spec(str(spec))
        paths: list[str | os.PathLike[str]] = []
        if mmdb is not None:
            paths = [mmdb] if isinstance(mmdb, str | os.PathLike) else list(mmdb)
        return cls(lists, paths)

    # ------------------------------------------------------------------ batch
    def enrich(self, ips: pa.Array | pa.ChunkedArray) -> dict[str, pa.Array]:
        """Enrich a column of addresses; returns one array per :data:`IP_FIELDS` entry."""
        if isinstance(ips, pa.ChunkedArray):
            ips = ips.combine_chunks()
        enc = pc.dictionary_encode(pc.fill_null(ips.cast(pa.string()), ""))
        distinct = self._enrich_distinct(enc.dictionary)
        idx = enc.indices
        return {name: distinct[name].take(idx) for name in IP_FIELDS}

    def enrich_one(self, ip: str | None) -> dict[str, Any]:
        """Enrich one address (cached per distinct address); same answer as :meth:`enrich`."""
        hit = self._one_cache.get(ip)
        if hit is None:
            if ip is not None and ip.isascii() and ip.isprintable():
                hit = self._enrich_scalar(ip)
            else:  # whitespace and Unicode rules are Arrow's: ask the batch path
                cols = self._enrich_distinct(pa.array([ip], pa.string()))
                hit = {k: v[0].as_py() for k, v in cols.items()}
            if len(self._one_cache) > 200_000:
                self._one_cache.clear()
            self._one_cache[ip] = hit
        return dict(hit)

    def _enrich_scalar(self, ip: str) -> dict[str, Any]:
        """:meth:`_enrich_distinct` for one printable-ASCII address, in plain Python.

        The online path (a decision service's first sight of an address) cannot afford
        dozens of array operations on a one-element batch; the answer is the same
        (``tests/enrich`` compares the two on random and listed addresses).
        """
        addr, is_v4, valid = parse_address_one(ip)
        asn, org, country = -1, None, None
        if self.geo is not None and valid:
            if is_v4:
                ci = self.geo.country.lookup_one(addr)
                country = self.geo.country_codes[ci] if ci >= 0 else None
                ai = self.geo.asn.lookup_one(addr)
                org = self.geo.asn_names[ai] if ai >= 0 else None
            else:
                country, org = self.geo.v6(ip)
        if len(self.lists.asn_db) and valid and is_v4:
            hit = self.lists.asn_db.lookup_one(addr)
            if hit >= 0:
                asn = int(self.lists.asn_numbers[hit])
                org = self.lists.asn_orgs[hit].as_py()
        for reader in self.mmdb_readers if valid else ():
            rec = reader.get(ip) or {}
            if "autonomous_system_number" in rec:
                asn = int(rec["autonomous_system_number"])
                org = rec.get("autonomous_system_organization") or org
            iso = (rec.get("country") or {}).get("iso_code")
            if iso:
                country = iso
        if valid and is_v4 and _PRIVATE.lookup_one(addr) >= 0:
            valid = False
        flags, provider = self.lists.classify_one(addr, is_v4, valid, asn)
        hosting, cloud, vpn = flags["hosting"], flags["cloud"], flags["vpn"]
        if valid and not (hosting or cloud or vpn) and org is not None:
            kind_hint, prov = hosting_hint(org)
            cloud |= kind_hint == "cloud"
            hosting |= kind_hint == "hosting"
            vpn |= kind_hint == "vpn"
            if prov and provider is None:
                provider = prov
        kind = "residential" if valid and (org is not None or country is not None) else "unknown"
        if valid:
            marks = {"hosting": hosting, "cloud": cloud, "vpn": vpn}
            for name in _KIND_ORDER:
                if marks.get(name, flags.get(name)):
                    kind = name
        prefix: str | None = None
        if valid and is_v4:
            prefix = f"{addr >> 24 & 255}.{addr >> 16 & 255}.{addr >> 8 & 255}.0/24"
        elif valid:
            prefix = _v6_prefix(addr)
        return {
            "asn": asn if asn >= 0 else None,
            "asn_org": org,
            "country": country,
            "net_kind": kind,
            "cloud_provider": provider,
            "ip_prefix": prefix,
            "is_hosting": kind in ("hosting", "cloud"),
            "is_vpn": flags["vpn"],
            "is_tor": flags["tor"],
            "is_proxy": flags["proxy"],
        }

    def _enrich_distinct(self, ips: pa.Array) -> dict[str, pa.Array]:
        n = len(ips)
        addr, is_v4, valid = parse_addresses(ips)
        v6 = valid & ~is_v4
        v4 = valid & is_v4
        asn = np.full(n, -1, dtype=np.int64)
        org = np.full(n, None, dtype=object)
        country = np.full(n, None, dtype=object)
        texts = ips.to_pylist()
        if self.geo is not None:
            ci = self.geo.country.lookup(addr, v4)
            country[ci >= 0] = self.geo.country_codes[ci[ci >= 0]]
            ai = self.geo.asn.lookup(addr, v4)
            org[ai >= 0] = self.geo.asn_names[ai[ai >= 0]]
            for i in np.flatnonzero(v6):
                country[i], org[i] = self.geo.v6(texts[i])
        if len(self.lists.asn_db):
            hit = self.lists.asn_db.lookup(addr, v4)
            found = hit >= 0
            asn[found] = self.lists.asn_numbers[hit[found]]
            org[found] = self.lists.asn_orgs.take(pa.array(hit[found])).to_pylist()
        for reader in self.mmdb_readers:
            for i in np.flatnonzero(valid):
                rec = reader.get(texts[i]) or {}
                if "autonomous_system_number" in rec:
                    asn[i] = int(rec["autonomous_system_number"])
                    org[i] = rec.get("autonomous_system_organization") or org[i]
                iso = (rec.get("country") or {}).get("iso_code")
                if iso:
                    country[i] = iso
        valid &= ~(_PRIVATE.contains(addr, is_v4))
        flags = self.lists.classify(addr, is_v4, valid, asn)
        kinds, provider = self._kind(flags, org, valid, country)
        asn_arr = pa.array(asn, pa.int64(), mask=asn < 0)
        return {
            "asn": asn_arr,
            "asn_org": pa.array(org, pa.string()),
            "country": pa.array(country, pa.string()),
            "net_kind": pa.array(kinds, pa.string()),
            "cloud_provider": pa.array(provider, pa.string()),
            "ip_prefix": _prefixes(addr, is_v4, valid),
            "is_hosting": pa.array((kinds == "hosting") | (kinds == "cloud")),
            "is_vpn": pa.array(flags["vpn"]),
            "is_tor": pa.array(flags["tor"]),
            "is_proxy": pa.array(flags["proxy"]),
        }

    @staticmethod
    def _kind(
        flags: dict[str, np.ndarray], org: np.ndarray, valid: np.ndarray, country: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(org)
        provider = flags["provider"].copy()
        hosting = flags["hosting"].copy()
        cloud = flags["cloud"].copy()
        vpn = flags["vpn"].copy()
        # organisation-name hints fill in where no list spoke (embedded-only installs)
        for i in np.flatnonzero(valid & ~(hosting | cloud | vpn) & (org != None)):  # noqa: E711
            kind, prov = hosting_hint(org[i])
            if kind == "cloud":
                cloud[i] = True
            elif kind == "hosting":
                hosting[i] = True
            elif kind == "vpn":
                vpn[i] = True
            if prov and provider[i] is None:
                provider[i] = prov
        known = valid & ((org != None) | (country != None))  # noqa: E711
        kinds = np.full(n, "unknown", dtype=object)
        kinds[known] = "residential"
        masks = {"hosting": hosting, "cloud": cloud, "vpn": vpn}
        for name in _KIND_ORDER:
            kinds[masks.get(name, flags.get(name)) & valid] = name
        return kinds, provider


@lru_cache(maxsize=4)
def _lists_for_dir(root: Path) -> NetworkLists:
    """Lists under ``root``, loaded once per process (they are read-only afterwards)."""
    lists = NetworkLists()
    lists.load_dir(root)
    return lists


def _v6_prefix(upper64: int) -> str:
    """``x:y:z::/48`` of an IPv6 address given by its upper 64 bits."""
    h = upper64 >> 16  # upper 48 bits
    return f"{(h >> 32) & 0xFFFF:x}:{(h >> 16) & 0xFFFF:x}:{h & 0xFFFF:x}::/48"


def _prefixes(addr: np.ndarray, is_v4: np.ndarray, valid: np.ndarray) -> pa.Array:
    """``a.b.c.0/24`` for IPv4 (vectorised), ``x:y:z::/48`` for IPv6, null when invalid."""
    n = len(addr)
    v4 = valid & is_v4
    octets = [
        pa.array(((addr >> np.uint64(shift)) & np.uint64(255)).astype(np.int64)).cast(pa.string())
        for shift in (24, 16, 8)
    ]
    v4_text = pc.binary_join_element_wise(*octets, pa.array(["0/24"] * n), ".")
    out = pc.if_else(pa.array(v4), v4_text, pa.nulls(n, pa.string()))
    v6 = np.flatnonzero(valid & ~is_v4)
    if len(v6):
        texts = out.to_pylist()
        for i in v6:
            texts[i] = _v6_prefix(int(addr[i]))
        out = pa.array(texts, pa.string())
    return out


def _open_mmdb(path: str | os.PathLike[str]) -> Any:
    try:
        import maxminddb
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            f"{path}: reading .mmdb files needs maxminddb (pip install 'distillguard[maxmind]')"
        ) from exc
    try:
        return maxminddb.open_database(str(path))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable MaxMind database: {exc}") from exc
