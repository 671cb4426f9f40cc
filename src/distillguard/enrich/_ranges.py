"""Integer address ranges with vectorised lookup (numpy ``searchsorted``).

IPv4 addresses are held as their 32-bit value; IPv6 addresses by their upper 64 bits
(the routing prefix: every list we read is at most /64 for IPv6 in practice, and a
longer prefix is widened to its /64). Both live in ``uint64`` arrays so one lookup
over a batch of distinct addresses is a single ``searchsorted``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "NetworkSet",
    "RangeIndex",
    "parse_address_one",
    "parse_addresses",
    "parse_network",
    "parse_networks",
    "ranges_from_networks",
]

_V4_RE = r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"
_MAPPED = re.compile(r"^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$", re.I)


def parse_addresses(ips: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse a string array of addresses into ``(value, is_v4, valid)`` numpy arrays.

    ``value`` is the IPv4 integer or the upper 64 bits of an IPv6 address. IPv4 is
    parsed vectorised; other forms (IPv6, mapped IPv4) go through :mod:`ipaddress`, so
    call this on *distinct* addresses.
    """
    n = len(ips)
    value = np.zeros(n, dtype=np.uint64)
    is_v4 = np.zeros(n, dtype=bool)
    valid = np.zeros(n, dtype=bool)
    if n == 0:
        return value, is_v4, valid
    ips = pc.utf8_trim_whitespace(ips.cast(pa.string()))
    m4 = pc.fill_null(pc.match_substring_regex(ips, _V4_RE), False).to_numpy(zero_copy_only=False)
    idx4 = np.flatnonzero(m4)
    if len(idx4):
        octets = pc.list_flatten(pc.split_pattern(ips.take(pa.array(idx4)), "."))
        o = pc.cast(octets, pa.int64()).to_numpy().reshape(-1, 4)
        ok = (o <= 255).all(axis=1)
        v = (o[:, 0] << 24) | (o[:, 1] << 16) | (o[:, 2] << 8) | o[:, 3]
        value[idx4] = v.astype(np.uint64)
        is_v4[idx4] = True
        valid[idx4] = ok
    rest = np.flatnonzero(~m4)
    if len(rest):
        texts = ips.take(pa.array(rest)).to_pylist()
        for i, t in zip(rest, texts, strict=True):
            if not t:
                continue
            mm = _MAPPED.match(t)
            try:
                a = ipaddress.ip_address(mm.group(1) if mm else t.split("%")[0])
            except ValueError:
                continue
            if a.version == 4:
                value[i], is_v4[i] = int(a), True
            else:
                value[i] = int(a) >> 64
            valid[i] = True
    return value, is_v4, valid


_V4_ASCII = re.compile(_V4_RE, re.ASCII)


def parse_address_one(text: str) -> tuple[int, bool, bool]:
    """One printable-ASCII address as :func:`parse_addresses` reads it: ``(value, is_v4, valid)``.

    Callers hand anything else (``None``, control or non-ASCII characters) to
    :func:`parse_addresses`, whose whitespace rules are Arrow's.
    """
    t = text.strip(" ")
    if _V4_ASCII.match(t):
        o = [int(x) for x in t.split(".")]
        value = (o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]
        return value, True, all(x <= 255 for x in o)
    if not t:
        return 0, False, False
    mm = _MAPPED.match(t)
    try:
        a = ipaddress.ip_address(mm.group(1) if mm else t.split("%")[0])
    except ValueError:
        return 0, False, False
    if a.version == 4:
        return int(a), True, True
    return int(a) >> 64, False, True


def parse_network(text: str) -> tuple[bool, int, int] | None:
    """Parse ``a.b.c.d``, ``a.b.c.d/n`` or an IPv6 form into ``(is_v4, start, end)``.

    IPv6 bounds are the upper 64 bits. Returns ``None`` when ``text`` is not an address.
    """
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    if net.version == 4:
        return True, int(net.network_address), int(net.broadcast_address)
    return False, int(net.network_address) >> 64, int(net.broadcast_address) >> 64


class RangeIndex:
    """Sorted, non-overlapping ``[start, end] -> value`` ranges for one address family.

    Build with :meth:`build`; overlapping input ranges are resolved by keeping the
    earlier (for ``merge=True``: united into one range with the first value).
    """

    def __init__(self, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> None:
        self.starts = starts
        self.ends = ends
        self.values = values

    def __len__(self) -> int:
        return len(self.starts)

    @classmethod
    def build(
        cls,
        starts: Sequence[int] | np.ndarray,
        ends: Sequence[int] | np.ndarray,
        values: Sequence[int] | np.ndarray | None = None,
        *,
        merge: bool = False,
    ) -> RangeIndex:
        """Sort ranges by start; with ``merge`` unite overlapping/adjacent ranges."""
        s = np.asarray(starts, dtype=np.uint64)
        e = np.asarray(ends, dtype=np.uint64)
        v = np.zeros(len(s), dtype=np.int64) if values is None else np.asarray(values, np.int64)
        order = np.argsort(s, kind="stable")
        s, e, v = s[order], e[order], v[order]
        if merge and len(s):
            # running maximum of ends; a new group starts where start > max end so far + 1
            run_end = np.maximum.accumulate(e)
            new = np.ones(len(s), dtype=bool)
            new[1:] = s[1:] > run_end[:-1] + np.uint64(1)
            first = np.flatnonzero(new)
            last_end = np.maximum.reduceat(e, first)
            s, e, v = s[first], last_end, v[first]
        else:
            # drop ranges nested in an earlier one so searchsorted finds a unique cover
            if len(s):
                run_end = np.maximum.accumulate(e)
                keep = np.ones(len(s), dtype=bool)
                keep[1:] = s[1:] > run_end[:-1]
                s, e, v = s[keep], e[keep], v[keep]
        return cls(s, e, v)

    @classmethod
    def empty(cls) -> RangeIndex:
        """An index that matches nothing."""
        z = np.zeros(0, dtype=np.uint64)
        return cls(z, z, np.zeros(0, dtype=np.int64))

    def lookup(self, addrs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Value of the covering range for each address, ``-1`` when none (or masked out)."""
        out = np.full(len(addrs), -1, dtype=np.int64)
        if len(self.starts) == 0 or len(addrs) == 0:
            return out
        if len(addrs) == 1:  # the online path: one address, no array arithmetic
            if mask is not None and not mask[0]:
                return out
            a = addrs[0]
            i = int(np.searchsorted(self.starts, a, side="right")) - 1
            if i >= 0 and a <= self.ends[i]:
                out[0] = self.values[i]
            return out
        idx = np.searchsorted(self.starts, addrs, side="right").astype(np.int64) - 1
        safe = np.clip(idx, 0, None)
        hit = (idx >= 0) & (addrs <= self.ends[safe])
        if mask is not None:
            hit &= mask
        out[hit] = self.values[safe[hit]]
        return out

    def lookup_one(self, addr: int) -> int:
        """Value of the range covering one address given as an integer, ``-1`` when none."""
        if len(self.starts) == 0:
            return -1
        a = np.uint64(addr)
        i = int(self.starts.searchsorted(a, side="right")) - 1
        if i >= 0 and a <= self.ends[i]:
            return int(self.values[i])
        return -1

    def contains(self, addrs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Boolean: is each address inside any range."""
        return self.lookup(addrs, mask) >= 0


@dataclass
class NetworkSet:
    """Parsed networks: IPv4 and IPv6 ``[start, end]`` bounds as ``uint64`` arrays."""

    v4_start: np.ndarray
    v4_end: np.ndarray
    v6_start: np.ndarray
    v6_end: np.ndarray

    def __len__(self) -> int:
        return len(self.v4_start) + len(self.v6_start)


def parse_networks(v4_tokens: Sequence[str], v6_tokens: Sequence[str]) -> NetworkSet:
    """Parse CIDR / address tokens; IPv4 vectorised, IPv6 through :mod:`ipaddress`.

    Tokens that are not valid networks are skipped.
    """
    s4 = np.zeros(0, dtype=np.uint64)
    e4 = np.zeros(0, dtype=np.uint64)
    if v4_tokens:
        arr = pa.array(v4_tokens, pa.string())
        parts = pc.split_pattern(arr, "/", max_splits=1)
        addr_s = pc.list_element(parts, 0)
        plen_s = _second(parts)
        plen = pc.cast(plen_s, pa.int64()).to_numpy()
        addr, _is4, ok = parse_addresses(addr_s)
        ok &= (plen >= 0) & (plen <= 32)
        host_bits = (32 - np.clip(plen, 0, 32)).astype(np.uint64)
        size = np.left_shift(np.uint64(1), host_bits)
        base = addr - addr % size
        s4 = base[ok]
        e4 = (base + size - np.uint64(1))[ok]
    s6: list[int] = []
    e6: list[int] = []
    for tok in v6_tokens:
        net = _v6_bounds(tok)
        if net is not None:
            s6.append(net[0])
            e6.append(net[1])
    return NetworkSet(s4, e4, np.array(s6, dtype=np.uint64), np.array(e6, dtype=np.uint64))


_FULL64 = (1 << 64) - 1
_HEXTET = re.compile(r"[0-9a-fA-F]{0,4}")


def _v6_bounds(token: str) -> tuple[int, int] | None:
    """Upper-64-bit bounds of an IPv6 network token (fast path; ``None`` if invalid)."""
    addr, _, plen_s = token.partition("/")
    try:
        plen = int(plen_s) if plen_s else 128
        if "." in addr or not 0 <= plen <= 128:
            raise ValueError(token)
        if "::" in addr:
            head, _, tail = addr.partition("::")
            hs = head.split(":") if head else []
            ts = tail.split(":") if tail else []
            if len(hs) + len(ts) > 7:
                return None
            groups = hs + ["0"] * (8 - len(hs) - len(ts)) + ts
        else:
            groups = addr.split(":")
        if len(groups) != 8 or not all(_HEXTET.fullmatch(g) for g in groups):
            return None
        hi = 0
        for g in groups[:4]:
            hi = (hi << 16) | int(g or "0", 16)
    except ValueError:
        return None
    if plen >= 64:
        return hi, hi
    span = (1 << (64 - plen)) - 1
    start = hi & (_FULL64 ^ span)
    return start, start | span


def _second(parts: pa.Array) -> pa.Array:
    """Second element of each list (``"32"`` where a list has only one)."""
    padded = pc.list_slice(parts, 1, 2)
    flat_len = pc.list_value_length(padded)
    fixed = pc.if_else(pc.equal(flat_len, 1), padded, pa.scalar(["32"], pa.list_(pa.string())))
    return pc.list_element(fixed, 0)


def ranges_from_networks(sets: Iterable[NetworkSet]) -> tuple[RangeIndex, RangeIndex]:
    """Unite network sets into merged IPv4 and IPv6 membership indexes."""
    sets = list(sets)
    z = np.zeros(0, dtype=np.uint64)

    def cat(attr: str) -> np.ndarray:
        arrs = [getattr(s, attr) for s in sets]
        return np.concatenate(arrs) if arrs else z

    return (
        RangeIndex.build(cat("v4_start"), cat("v4_end"), merge=True),
        RangeIndex.build(cat("v6_start"), cat("v6_end"), merge=True),
    )
