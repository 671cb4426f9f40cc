"""Where simulated clients come from: real address space, real SDK and browser user agents.

With ``../shared/data/network`` present (see :func:`distillguard.resources.shared_data_dir`),
addresses are drawn from real ranges: home ISPs and universities from the RouteViews/DB-IP
ASN table, clouds from the providers' published ranges, datacenter and VPN ranges from
X4BNet, Tor exits and open-proxy exits from their public lists; SDK user agents and
release dates from the SDK changelogs, browser user agents with their usage share.
Without it, a small built-in table of well-known ranges and versions keeps the simulator
working anywhere (fewer distinct networks, same shapes).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..resources import shared_data_dir

__all__ = ["NetworkPools", "SdkVersion", "network_pools"]

#: Home ISP name fragments per region, with the UTC offsets (hours) users there live in.
RESIDENTIAL_REGIONS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "us": (
        (
            "Comcast",
            "Charter Communications",
            "Verizon",
            "AT&T",
            "Cox Communications",
            "Frontier Comm",
        ),
        (-5.0, -6.0, -7.0, -8.0),
    ),
    "eu": (
        (
            "Deutsche Telekom",
            "Orange S.A.",
            "British Telecommunications",
            "Vodafone",
            "Free SAS",
            "Telefonica de Espana",
        ),
        (0.0, 1.0, 2.0),
    ),
    "asia": (
        (
            "NTT Communications",
            "KDDI",
            "SK Broadband",
            "Korea Telecom",
            "Chunghwa Telecom",
            "Bharti Airtel",
            "Reliance Jio",
        ),
        (5.5, 8.0, 9.0),
    ),
    "latam": (("Claro", "Telefonica Brasil", "Telmex"), (-3.0, -5.0, -6.0)),
}

#: Built-in fallbacks (well-known allocations) used when the real lists are absent.
_FALLBACK: dict[str, list[str]] = {
    "res:us": ["73.0.0.0/8", "98.192.0.0/10", "24.0.0.0/12", "71.160.0.0/11"],
    "res:eu": ["2.160.0.0/12", "79.192.0.0/10", "86.128.0.0/10", "90.0.0.0/10"],
    "res:asia": ["126.0.0.0/8", "118.0.0.0/12", "122.0.0.0/12", "59.0.0.0/12"],
    "res:latam": ["177.0.0.0/12", "187.0.0.0/12", "189.0.0.0/12"],
    "campus": ["18.0.0.0/16", "171.64.0.0/14", "128.32.0.0/16", "128.2.0.0/16", "129.67.0.0/16"],
    "cloud:aws": ["3.0.0.0/15", "52.0.0.0/11", "54.144.0.0/12", "18.204.0.0/14"],
    "cloud:gcp": ["34.64.0.0/10", "35.184.0.0/13", "104.154.0.0/15"],
    "cloud:azure": ["20.0.0.0/11", "40.64.0.0/10", "52.224.0.0/11"],
    "cloud:other": ["159.89.0.0/16", "167.99.0.0/16", "45.32.0.0/16", "139.162.0.0/16"],
    "datacenter": ["95.216.0.0/15", "65.108.0.0/15", "51.68.0.0/16", "162.55.0.0/16", "5.9.0.0/16"],
    "vpn": ["185.159.156.0/22", "146.70.0.0/16", "89.187.160.0/19", "37.19.192.0/19"],
    "tor": ["185.220.100.0/22", "185.220.101.0/24", "109.70.100.0/24"],
    "proxy": ["103.152.112.0/22", "45.77.0.0/16", "190.61.88.0/21"],
}

#: First version and date of each SDK in the built-in release history (used when the
#: changelog table is absent). Real SDKs ship about weekly, so the fallback does too: a
#: handful of versions would give every simulated user one of a few exact client
#: fingerprints, a far less varied world than real traffic (890 versions in the table).
_FALLBACK_SDK_START: list[tuple[str, tuple[int, int, int], str]] = [
    ("anthropic-sdk-python", (0, 39, 0), "2024-11-12"),
    ("openai-python", (1, 54, 4), "2024-11-13"),
    ("openai-node", (4, 73, 0), "2024-11-20"),
]
_FALLBACK_SDK_END = "2026-12-31"


def _fallback_sdks() -> list[tuple[str, str, str]]:
    """A weekly release history per SDK: a minor version every third release, else a patch."""
    out: list[tuple[str, str, str]] = []
    end = date.fromisoformat(_FALLBACK_SDK_END)
    for sdk, (major, minor, patch), first in _FALLBACK_SDK_START:
        day, n = date.fromisoformat(first), 0
        while day <= end:
            out.append((sdk, f"{major}.{minor}.{patch}", day.isoformat()))
            n += 1
            minor, patch = (minor + 1, 0) if n % 3 == 0 else (minor, patch + 1)
            day += timedelta(days=7)
    return out


_FALLBACK_SDKS: list[tuple[str, str, str]] = _fallback_sdks()

_FALLBACK_BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
]


@dataclass(frozen=True)
class SdkVersion:
    """One released SDK version and the User-Agent it sends."""

    sdk: str
    version: str
    released: date
    user_agent: str


@dataclass
class _Ranges:
    start: np.ndarray  # uint32
    size: np.ndarray  # int64
    cum: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        # weight by sqrt(size): big blocks matter more, but small ones still appear
        w = np.sqrt(self.size.astype(np.float64))
        self.cum = np.cumsum(w / w.sum())


def _ip_int(s: str) -> int:
    a, b, c, d = s.split(".")
    return (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)


def _cidrs_to_ranges(cidrs: list[str]) -> _Ranges:
    starts, sizes = [], []
    for c in cidrs:
        ip, _, bits = c.strip().partition("/")
        try:
            n = int(bits) if bits else 32
            v = _ip_int(ip)
        except ValueError:
            continue
        if not 0 <= n <= 32:
            continue
        starts.append(v & ~((1 << (32 - n)) - 1) & 0xFFFFFFFF)
        sizes.append(1 << (32 - n))
    return _Ranges(np.asarray(starts, dtype=np.uint64), np.asarray(sizes, dtype=np.int64))


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [
        ln.split("#")[0].strip()
        for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if ln.strip() and not ln.startswith("#") and ":" not in ln.split("#")[0]
    ]


def _int_to_ip(v: int) -> str:
    return f"{(v >> 24) & 255}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}"


class NetworkPools:
    """Address pools by kind, SDK versions and browser user agents, real when available."""

    def __init__(self, data_dir: Path | None) -> None:
        """Load the pools from ``data_dir/network`` (or the built-ins when ``None``)."""
        self.real = False
        self._pools: dict[str, _Ranges] = {}
        net = data_dir / "network" if data_dir else None
        if net is not None and net.is_dir():
            self._load_real(net)
        for kind, cidrs in _FALLBACK.items():
            if kind not in self._pools or len(self._pools[kind].start) == 0:
                self._pools[kind] = _cidrs_to_ranges(cidrs)
        self.sdks = self._load_sdks(net)
        self.browsers = self._load_browsers(net)

    # -- loading -----------------------------------------------------------------
    def _load_real(self, net: Path) -> None:
        asn = net / "asn-ipv4.csv.gz"
        if asn.is_file():
            self._load_asn(asn)
        la = net / "lord_alfred_ipranges"
        for kind, names in (
            ("cloud:aws", ["amazon"]),
            ("cloud:gcp", ["google"]),
            ("cloud:azure", ["microsoft"]),
            ("cloud:other", ["digitalocean", "linode", "vultr", "oracle"]),
        ):
            cidrs: list[str] = []
            for n in names:
                cidrs += _read_lines(la / f"{n}_ipv4_merged.txt")
            if cidrs:
                self._pools[kind] = _cidrs_to_ranges(cidrs)
        x4 = net / "x4bnet"
        dc = _read_lines(x4 / "datacenter_ipv4.txt")
        if dc:
            self._pools["datacenter"] = _cidrs_to_ranges(dc)
        vpn = _read_lines(x4 / "vpn_ipv4.txt") + _read_lines(la / "protonvpn_ipv4_merged.txt")
        if vpn:
            self._pools["vpn"] = _cidrs_to_ranges(vpn)
        tor = (
            sorted(p for p in (net / "tor").glob("tor_exit_ips_*.txt"))
            if (net / "tor").is_dir()
            else []
        )
        if tor:
            self._pools["tor"] = _cidrs_to_ranges([f"{ip}/32" for ip in _read_lines(tor[-1])])
        prox = (
            sorted((net / "proxies").glob("monosans_proxies_*.json"))
            if (net / "proxies").is_dir()
            else []
        )
        if prox:
            items = json.loads(prox[-1].read_text(encoding="utf-8"))
            exits = sorted(
                {
                    str(i.get("exit_ip") or i.get("host"))
                    for i in items
                    if i.get("exit_ip") or i.get("host")
                }
            )
            self._pools["proxy"] = _cidrs_to_ranges([f"{ip}/32" for ip in exits if ":" not in ip])
        self.real = True

    def _load_asn(self, path: Path) -> None:
        """Home-ISP ranges per region and university ranges from the ASN table."""
        import pyarrow.compute as pc
        from pyarrow import csv as pacsv

        opts = pacsv.ReadOptions(column_names=["start", "end", "asn", "org"])
        conv = pacsv.ConvertOptions(
            column_types={
                "start": pa.string(),
                "end": pa.string(),
                "asn": pa.int64(),
                "org": pa.string(),
            }
        )
        tbl = pacsv.read_csv(path, read_options=opts, convert_options=conv)
        org = tbl.column("org")
        kinds: dict[str, tuple[str, ...]] = {"campus": ("University", "College")}
        kinds.update({f"res:{r}": kws for r, (kws, _) in RESIDENTIAL_REGIONS.items()})
        taken = pc.is_null(org)
        for kind, kws in kinds.items():
            pattern = "|".join(re.escape(k) for k in kws)
            mask = pc.and_(pc.match_substring_regex(org, pattern), pc.invert(taken))
            taken = pc.or_(taken, mask)
            sub = tbl.filter(mask)
            if sub.num_rows == 0:
                continue
            s_ = np.asarray([_ip_int(x) for x in sub.column("start").to_pylist()], np.uint64)
            e_ = np.asarray([_ip_int(x) for x in sub.column("end").to_pylist()], np.int64)
            self._pools[kind] = _Ranges(s_, e_ - s_.astype(np.int64) + 1)

    @staticmethod
    def _load_sdks(net: Path | None) -> list[SdkVersion]:
        path = net / "sdk_user_agents_from_changelogs.csv" if net else None
        out: list[SdkVersion] = []
        if path is not None and path.is_file():
            with path.open(encoding="utf-8") as fh:
                for r in csv.DictReader(fh):
                    try:
                        out.append(
                            SdkVersion(
                                r["sdk"],
                                r["version"],
                                date.fromisoformat(r["release_date"]),
                                r["user_agent"],
                            )
                        )
                    except (KeyError, ValueError):
                        continue
        if not out:
            names = {
                "anthropic-sdk-python": "Anthropic/Python",
                "openai-python": "OpenAI/Python",
                "openai-node": "OpenAI/JS",
            }
            out = [
                SdkVersion(s, v, date.fromisoformat(d), f"{names[s]} {v}")
                for s, v, d in _FALLBACK_SDKS
            ]
        out.sort(key=lambda s: (s.sdk, s.released, s.version))
        return out

    @staticmethod
    def _load_browsers(net: Path | None) -> tuple[list[str], np.ndarray]:
        path = net / "fake_useragent_browsers.jsonl" if net else None
        uas: list[str] = []
        w: list[float] = []
        if path is not None and path.is_file():
            for ln in path.read_text(encoding="utf-8").splitlines():
                try:
                    o = json.loads(ln)
                except ValueError:
                    continue
                if o.get("type") in ("desktop", "mobile") and o.get("useragent"):
                    uas.append(o["useragent"])
                    w.append(float(o.get("percent") or 0.001))
        if not uas:
            uas, w = list(_FALLBACK_BROWSERS), [1.0] * len(_FALLBACK_BROWSERS)
        p = np.asarray(w)
        return uas, p / p.sum()

    # -- sampling ----------------------------------------------------------------
    def kinds(self) -> list[str]:
        """The pool names (``res:us``, ``campus``, ``cloud:aws``, ``vpn``, ``tor``...)."""
        return sorted(self._pools)

    def addresses(self, kind: str, rng: np.random.Generator, n: int) -> list[str]:
        """``n`` addresses drawn from the pool ``kind`` (ranges weighted by sqrt size)."""
        pool = self._pools[kind]
        idx = np.searchsorted(pool.cum, rng.random(n), side="right").clip(0, len(pool.start) - 1)
        off = (rng.random(n) * pool.size[idx]).astype(np.int64)
        vals = (pool.start[idx].astype(np.int64) + off).tolist()
        return [_int_to_ip(v) for v in vals]

    def block(self, kind: str, rng: np.random.Generator, n: int) -> list[str]:
        """``n`` addresses from one /24 (or smaller range) of ``kind``: a NAT or a subnet."""
        base = self.addresses(kind, rng, 1)[0]
        pool = self._pools[kind]
        v = _ip_int(base)
        i = int(np.searchsorted(pool.start, v, side="right")) - 1 if len(pool.start) else -1
        lo = v & ~255
        if 0 <= i < len(pool.start) and pool.size[i] < 256:
            lo, span = int(pool.start[i]), int(pool.size[i])
        else:
            span = 256
        offs = rng.choice(span, size=min(n, span), replace=False) if span > 1 else np.zeros(1, int)
        return [_int_to_ip(lo + int(o)) for o in offs]

    def contains(self, kind: str, ip: str) -> bool:
        """True when ``ip`` lies in one of the ranges of pool ``kind``."""
        pool = self._pools[kind]
        v = _ip_int(ip)
        starts = pool.start.astype(np.int64)
        hit = (starts <= v) & (v < starts + pool.size)
        return bool(hit.any())

    def sdk_choices(self, sdk: str, before: date, lag_days: int) -> list[SdkVersion]:
        """Versions of ``sdk`` released in the ``lag_days`` before ``before`` (newest last)."""
        vs = [s for s in self.sdks if s.sdk == sdk and s.released <= before]
        recent = [s for s in vs if (before - s.released).days <= lag_days]
        return recent or vs[-3:] or [s for s in self.sdks if s.sdk == sdk][:1]


@lru_cache(maxsize=4)
def _cached(path: str | None) -> NetworkPools:
    return NetworkPools(Path(path) if path else None)


def network_pools() -> NetworkPools:
    """The pools for the current data directory (cached per process)."""
    d = shared_data_dir()
    return _cached(str(d) if d else None)
