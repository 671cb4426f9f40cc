"""Network lists: hosting, VPN, Tor, proxy and cloud-provider address space.

Users point distillguard at the lists they trust. A list file is read tolerantly: any
IPv4/IPv6 address or CIDR and any ``AS<number>`` token on a line counts, so plain CIDR
lists (X4BNet, lord-alfred/ipranges), Tor exit lists (one address a line, or CSV),
proxy lists (``socks5://1.2.3.4:1080`` or JSON) and ASN lists (``AS9009 # M247``) all
load without a format flag. A file that yields nothing is an error naming the file.

``kind[:provider]=path`` specs name what a file holds, e.g. ``vpn=corp_vpn.txt``,
``cloud:aws=aws.txt``, ``asn-db=asn-ipv4.csv.gz`` (``start,end,asn,organisation``).
:meth:`NetworkLists.load_dir` recognises the layout of the public lists
(``x4bnet/``, ``lord_alfred_ipranges/``, ``tor/``, ``proxies/``, ``asn-ipv4.csv.gz``).
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import ConfigError, InputError
from ._ranges import NetworkSet, RangeIndex, parse_addresses, parse_networks, ranges_from_networks

__all__ = ["LIST_KINDS", "ORG_HINTS", "NetworkLists", "hosting_hint"]

#: Kinds a list may declare.
LIST_KINDS = ("hosting", "cloud", "vpn", "tor", "proxy")

#: lord-alfred/ipranges file stems -> (kind, provider name we report).
_PROVIDER_FILES: dict[str, tuple[str, str]] = {
    "amazon": ("cloud", "aws"),
    "google": ("cloud", "gcp"),
    "microsoft": ("cloud", "azure"),
    "oracle": ("cloud", "oracle"),
    "digitalocean": ("cloud", "digitalocean"),
    "linode": ("cloud", "linode"),
    "vultr": ("cloud", "vultr"),
    "cloudflare": ("cloud", "cloudflare"),
    "protonvpn": ("vpn", "protonvpn"),
    "apple-proxy": ("vpn", "icloud-private-relay"),
}

#: Organisation-name hints used when no list covers an address: (substring, kind, provider).
#: Lower-case substrings of AS organisation names as registries spell them.
ORG_HINTS: tuple[tuple[str, str, str | None], ...] = (
    ("amazon", "cloud", "aws"),
    ("google", "cloud", "gcp"),
    ("microsoft", "cloud", "azure"),
    ("oracle", "cloud", "oracle"),
    ("alibaba", "cloud", "alibaba"),
    ("tencent", "cloud", "tencent"),
    ("huawei cloud", "cloud", "huawei"),
    ("digitalocean", "cloud", "digitalocean"),
    ("linode", "cloud", "linode"),
    ("akamai", "cloud", "linode"),
    ("vultr", "cloud", "vultr"),
    ("choopa", "cloud", "vultr"),
    ("cloudflare", "cloud", "cloudflare"),
    ("hetzner", "hosting", "hetzner"),
    ("ovh", "hosting", "ovh"),
    ("contabo", "hosting", "contabo"),
    ("leaseweb", "hosting", "leaseweb"),
    ("scaleway", "hosting", "scaleway"),
    ("online s.a.s", "hosting", "scaleway"),
    ("m247", "vpn", None),
    ("datacamp", "vpn", None),
    ("mullvad", "vpn", "mullvad"),
    ("nordvpn", "vpn", "nordvpn"),
    ("surfshark", "vpn", "surfshark"),
    ("proton", "vpn", "protonvpn"),
    ("expressvpn", "vpn", "expressvpn"),
    ("vpn", "vpn", None),
    ("hosting", "hosting", None),
    ("datacenter", "hosting", None),
    ("data center", "hosting", None),
    ("colocation", "hosting", None),
    ("vps", "hosting", None),
    ("servers", "hosting", None),
    ("cloud", "hosting", None),
)

_V4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?(?![\d.])")
_V6 = re.compile(r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:/\d{1,3})?", re.I)
_ASN = re.compile(r"^\s*AS(\d+)\b", re.I | re.M)
_ASN_LINE = re.compile(r"^\s*AS\d+\b.*$", re.I | re.M)


@lru_cache(maxsize=131_072)
def hosting_hint(org: str) -> tuple[str | None, str | None]:
    """``(kind, provider)`` suggested by an AS organisation name, ``(None, None)`` if none."""
    low = org.lower()
    for needle, kind, provider in ORG_HINTS:
        if needle in low:
            return kind, provider
    return None, None


class NetworkLists:
    """All loaded lists, indexed for vectorised classification of addresses."""

    def __init__(self) -> None:
        self._nets: dict[tuple[str, str | None], list[NetworkSet]] = {}
        self._asns: dict[tuple[str, str | None], set[int]] = {}
        self._index: list[tuple[str, str | None, RangeIndex, RangeIndex, np.ndarray]] | None = None
        self.asn_db = RangeIndex.empty()
        self.asn_numbers = np.zeros(0, dtype=np.int64)
        self.asn_orgs: pa.Array = pa.array([], pa.string())
        self.sources: list[str] = []

    def copy(self) -> NetworkLists:
        """A copy that can take more lists without changing this one."""
        new = NetworkLists()
        new._nets = {k: list(v) for k, v in self._nets.items()}
        new._asns = {k: set(v) for k, v in self._asns.items()}
        new._index = self._index
        new.asn_db, new.asn_numbers, new.asn_orgs = self.asn_db, self.asn_numbers, self.asn_orgs
        new.sources = list(self.sources)
        return new

    # ------------------------------------------------------------------ loading
    def add_spec(self, spec: str) -> None:
        """Load ``kind[:provider]=path`` (or a bare path: kind guessed from its name)."""
        if "=" in spec:
            head, path = spec.split("=", 1)
            kind, _, provider = head.partition(":")
        else:
            path, kind, provider = spec, _guess_kind(Path(spec).name), ""
        kind = kind.strip().lower()
        if kind == "asn-db":
            self.load_asn_db(Path(path))
        elif kind in LIST_KINDS:
            self.add_file(kind, Path(path), provider.strip() or None)
        else:
            raise ConfigError(
                f"{spec}: unknown list kind {kind!r}; use one of {(*LIST_KINDS, 'asn-db')}"
            )

    def add_file(self, kind: str, path: Path, provider: str | None = None) -> int:
        """Add every address, CIDR and ASN of ``path`` as ``kind``; returns entries read."""
        if kind not in LIST_KINDS:
            raise ConfigError(f"{path}: unknown list kind {kind!r}")
        try:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError as exc:
            raise InputError("unreadable", str(exc), file=str(path)) from exc
        asns = {int(a) for a in _ASN.findall(text)}
        body = _ASN_LINE.sub("", text) if asns else text
        nets = parse_networks(_V4.findall(body), _V6.findall(body))
        if not len(nets) and not asns:
            raise InputError("empty", "no address, CIDR or AS number found", file=str(path))
        key = (kind, provider)
        self._nets.setdefault(key, []).append(nets)
        self._asns.setdefault(key, set()).update(asns)
        self._index = None
        self.sources.append(f"{kind}{':' + provider if provider else ''}={path}")
        return len(nets) + len(asns)

    def load_asn_db(self, path: Path) -> int:
        """Load an IPv4 ``start,end,asn,organisation`` CSV (gzip ok, no header)."""
        try:
            tbl = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(
                    column_names=["start", "end", "asn", "org"], block_size=1 << 24
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={"start": pa.string(), "end": pa.string(), "asn": pa.int64()}
                ),
            )
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError("bad-asn-db", str(exc), file=str(path)) from exc
        s, s4, sok = parse_addresses(tbl.column("start").combine_chunks())
        e, e4, eok = parse_addresses(tbl.column("end").combine_chunks())
        ok = sok & eok & s4 & e4
        if not ok.any():
            raise InputError("empty", "no IPv4 start,end,asn,org rows", file=str(path))
        rows = np.flatnonzero(ok)
        idx = RangeIndex.build(s[rows], e[rows], np.arange(len(rows)))
        self.asn_db = idx
        self.asn_numbers = tbl.column("asn").to_numpy()[rows]
        self.asn_orgs = tbl.column("org").combine_chunks().take(pa.array(rows))
        self.sources.append(f"asn-db={path}")
        return len(rows)

    def load_dir(self, root: Path) -> None:
        """Load the public-list layout under ``root`` (or ``root/network``)."""
        if (root / "network").is_dir():
            root = root / "network"
        if not root.is_dir():
            raise ConfigError(f"{root}: network data folder not found")
        asn_db = root / "asn-ipv4.csv.gz"
        if asn_db.exists():
            self.load_asn_db(asn_db)
        x4 = root / "x4bnet"
        for name, kind in (
            ("datacenter_ipv4.txt", "hosting"),
            ("datacenter_ipv6.txt", "hosting"),
            ("datacenter_ASN.txt", "hosting"),
            ("vpn_ipv4.txt", "vpn"),
            ("vpn_ipv6.txt", "vpn"),
            ("vpn_ASN.txt", "vpn"),
        ):
            if (x4 / name).exists():
                self.add_file(kind, x4 / name)
        la = root / "lord_alfred_ipranges"
        if la.is_dir():
            for f in sorted(la.glob("*_merged.txt")):
                stem = f.name.split("_ipv")[0]
                if stem == "all":
                    continue
                kind, provider = _PROVIDER_FILES.get(stem, ("hosting", stem))
                self.add_file(kind, f, provider)
        for sub, kind in (("tor", "tor"), ("proxies", "proxy")):
            d = root / sub
            if d.is_dir():
                for f in sorted(d.iterdir()):
                    if f.is_file() and "nodes_" not in f.name:  # all relays, not exits
                        self.add_file(kind, f)

    # ------------------------------------------------------------------ lookup
    def _build(self) -> list[tuple[str, str | None, RangeIndex, RangeIndex, np.ndarray]]:
        if self._index is None:
            keys = sorted(set(self._nets) | set(self._asns), key=lambda k: (k[0], k[1] or ""))
            out = []
            for key in keys:
                v4, v6 = ranges_from_networks(self._nets.get(key, []))
                asns = np.array(sorted(self._asns.get(key, set())), dtype=np.int64)
                out.append((key[0], key[1], v4, v6, asns))
            self._index = out
        return self._index

    def classify(
        self, addr: np.ndarray, is_v4: np.ndarray, valid: np.ndarray, asn: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Per address: one boolean array per kind, and ``provider`` (object array)."""
        n = len(addr)
        flags: dict[str, np.ndarray] = {k: np.zeros(n, dtype=bool) for k in LIST_KINDS}
        provider = np.full(n, None, dtype=object)
        v4 = valid & is_v4
        v6 = valid & ~is_v4
        any_asn = bool((asn >= 0).any())
        for kind, prov, idx4, idx6, asns in self._build():
            hit = idx4.contains(addr, v4) | idx6.contains(addr, v6)
            if len(asns) and any_asn:  # without a known ASN no address can match
                if n == 1:  # one address (the online path): a binary search, not np.isin
                    j = int(np.searchsorted(asns, asn[0]))
                    listed = j < len(asns) and asns[j] == asn[0]
                    hit |= valid & (asn >= 0) & listed
                else:
                    hit |= valid & (asn >= 0) & np.isin(asn, asns)
            flags[kind] |= hit
            if prov is not None:
                provider[hit & (provider == None)] = prov  # noqa: E711
        flags["provider"] = provider
        return flags

    def classify_one(
        self, addr: int, is_v4: bool, valid: bool, asn: int
    ) -> tuple[dict[str, bool], str | None]:
        """:meth:`classify` for one address: ``(flag per kind, provider)``, same answers."""
        flags = dict.fromkeys(LIST_KINDS, False)
        provider: str | None = None
        if not valid:
            return flags, provider
        for kind, prov, idx4, idx6, asns in self._build():
            hit = (idx4 if is_v4 else idx6).lookup_one(addr) >= 0
            if not hit and asn >= 0 and len(asns):
                j = int(np.searchsorted(asns, asn))
                hit = j < len(asns) and int(asns[j]) == asn
            if hit:
                flags[kind] = True
                if prov is not None and provider is None:
                    provider = prov
        return flags, provider


def _guess_kind(name: str) -> str:
    low = name.lower()
    for needle, kind in (
        ("tor", "tor"),
        ("prox", "proxy"),
        ("vpn", "vpn"),
        ("datacenter", "hosting"),
        ("hosting", "hosting"),
        ("asn-ipv4", "asn-db"),
    ):
        if needle in low:
            return kind
    raise ConfigError(f"{name}: cannot tell what the list holds; write it as kind=path")
