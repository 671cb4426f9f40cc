"""What leaves the store when intelligence is shared, and in which form.

Shared by the STIX export (:mod:`distillguard.intel.stix`) and the MISP export: the
community key and the keyed hashes of account ids and payment instruments, and the rule
for which fingerprint values are worth sharing (only those an actor's accounts used
with purity >= :data:`MIN_SHARED_PURITY`, each with that purity so an importer trusts it
no more than the producer did).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from typing import Any

from ..errors import ConfigError
from ._evidence import PRIVATE_KINDS, ip_key
from .actors import ActorFingerprint

__all__ = [
    "KEY_ENV",
    "MAX_PATTERN_VALUES",
    "MIN_SHARED_PURITY",
    "community_key",
    "keyed_hash",
]

#: Environment variable holding the community key when ``--key`` is not given.
KEY_ENV = "DISTILLGUARD_COMMUNITY_KEY"


#: Longest list of values one indicator pattern carries.
MAX_PATTERN_VALUES = 5000
#: Fingerprint values below this purity are not shared (ordinary customers use them too).
MIN_SHARED_PURITY = 0.5


_HASH_SCHEME = "hmac-sha256(community-key, 'distillguard/<kind>/v1:' + id), hex"


def community_key(key: str | None = None) -> bytes:
    """The community key from ``key`` or ``$DISTILLGUARD_COMMUNITY_KEY`` (at least 16 chars)."""
    raw = key if key is not None else os.environ.get(KEY_ENV)
    if not raw:
        raise ConfigError(
            f"a community key is needed to hash account ids: pass --key or set ${KEY_ENV}"
        )
    if len(raw) < 16:
        raise ConfigError("the community key must be at least 16 characters")
    return raw.encode()


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under the community key, domain-separated by ``kind``."""
    msg = f"distillguard/{kind}/v1:{value}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def _shared(fp: ActorFingerprint | None, kind: str) -> list[str]:
    if fp is None or kind in PRIVATE_KINDS:
        return []
    vals = fp.values.get(kind, {})
    return sorted(v for v, w in vals.items() if w >= MIN_SHARED_PURITY)[:MAX_PATTERN_VALUES]


#: Kinds whose per-value purity the bundle carries (an importer trusts no value more).
_PURITY_KINDS = (
    "template_id",
    "system_hash",
    "shape_fp",
    "client_fp",
    "payment_fp",
    "ip_prefix",
    "asn",
)


def _pure_union(
    kind: str, listed: Iterable[str], *fps: ActorFingerprint | None, normalise: Any = None
) -> list[str]:
    """Values of ``kind`` worth sharing: every value the fingerprints hold with purity
    >= :data:`MIN_SHARED_PURITY` (those the scan ``listed`` included); without any
    fingerprint, what the scan listed."""
    known = [fp for fp in fps if fp is not None]
    if not known:  # no store to judge them by: what the scan listed
        return sorted(dict.fromkeys(listed))[:MAX_PATTERN_VALUES]
    out = dict.fromkeys(v for fp in known for v in _shared(fp, kind))
    for v in listed:
        key = normalise(v) if normalise else v
        seen = [fp.values[kind][key] for fp in known if key in fp.values.get(kind, {})]
        if seen and max(seen) >= MIN_SHARED_PURITY:
            out.setdefault(v, None)
    return sorted(out)[:MAX_PATTERN_VALUES]


def _purity_entries(fp: ActorFingerprint | None, key: bytes) -> list[dict[str, Any]]:
    """How exclusively the producer saw each shared value used by the actor (0-1)."""
    if fp is None:
        return []
    out = []
    for kind in _PURITY_KINDS:
        vals = fp.values.get(kind, {})
        for v in _shared(fp, kind):
            shown = keyed_hash(key, "payment", v) if kind == "payment_fp" else v
            name = "payment_hash" if kind == "payment_fp" else kind
            out.append({"kind": name, "value": shown, "purity": round(vals[v], 3)})
    return out


def _fingerprint_props(fp: ActorFingerprint | None, key: bytes) -> dict[str, Any]:
    return {
        "template_fingerprints": _shared(fp, "template_id"),
        "system_prompt_fingerprints": _shared(fp, "system_hash"),
        "request_shape_fingerprints": _shared(fp, "shape_fp"),
        "payment_fingerprint_hmacs": sorted(
            keyed_hash(key, "payment", p) for p in _shared(fp, "payment_fp")
        ),
        "fingerprint_purity": _purity_entries(fp, key),
        "hash_scheme": _HASH_SCHEME,
    }


def _v4_key(cidr: str) -> str:
    return ip_key(cidr) or cidr
