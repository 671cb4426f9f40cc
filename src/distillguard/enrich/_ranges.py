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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["RangeIndex", "parse_addresses", "parse_network", "ranges_from_networks"]

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
        idx = np.searchsorted(self.starts, addrs, side="right").astype(np.int64) - 1
        safe = np.clip(idx, 0, None)
        hit = (idx >= 0) & (addrs <= self.ends[safe])
        if mask is not None:
            hit &= mask
        out[hit] = self.values[safe[hit]]
        return out

    def contains(self, addrs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Boolean: is each address inside any range."""
        return self.lookup(addrs, mask) >= 0


def ranges_from_networks(
    networks: Iterable[tuple[bool, int, int]],
) -> tuple[RangeIndex, RangeIndex]:
    """Split parsed networks into merged IPv4 and IPv6 membership indexes."""
    v4s: list[int] = []
    v4e: list[int] = []
    v6s: list[int] = []
    v6e: list[int] = []
    for is4, s, e in networks:
        if is4:
            v4s.append(s)
            v4e.append(e)
        else:
            v6s.append(s)
            v6e.append(e)
    return RangeIndex.build(v4s, v4e, merge=True), RangeIndex.build(v6s, v6e, merge=True)
