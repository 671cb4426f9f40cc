"""STIX 2.1 import: partner indicators into the store, hostile bundles refused.

A bundle from a partner is untrusted input. Before anything is written it must be at
most :data:`MAX_BYTES`, nest at most :data:`MAX_DEPTH` levels, hold at most
:data:`MAX_OBJECTS` objects, declare STIX 2.1 on every object, contain only object
types STIX 2.1 defines, and pass ``stix2-validator``. Then, in ONE transaction, its
indicators go to ``partner_indicators`` and each partner actor (intrusion set, or an
unattributed campaign) becomes an actor whose fingerprint is built from those
indicators and from the distillguard extension. Any failure rolls the whole import back:
the store is exactly as it was.

Patterns understood: ``ipv4-addr:value`` (``=`` / ``ISSUBSET``), ``autonomous-system:number``,
``user-account:user_id`` (keyed account hashes), ``x-distillguard-client:fingerprint``.
Other comparisons are kept as ``unsupported`` and counted, never guessed at.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from stix2patterns.v21.pattern import Pattern

from ..errors import InputError
from ..store import Store
from ._evidence import expand_range
from .actors import (
    ActorFingerprint,
    ensure_actor_tables,
    ensure_tables,
    save_actor,
)
from .stix import EXTENSION_ID

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_OBJECTS",
    "ImportReport",
    "ensure_partner_tables",
    "import_bundle",
    "parse_bundle",
]

#: Largest bundle accepted, bytes.
MAX_BYTES = 32 * 1024 * 1024
#: Deepest JSON nesting accepted.
MAX_DEPTH = 24
#: Most objects in one bundle.
MAX_OBJECTS = 50_000
#: Longest indicator pattern, characters.
MAX_PATTERN_CHARS = 1_000_000
#: Most boolean terms (``AND`` / ``OR``) in one pattern: the reference STIX pattern parser
#: recurses once per term and fails at about a thousand.
MAX_PATTERN_TERMS = 800

_SDO = {
    "attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident",
    "indicator", "infrastructure", "intrusion-set", "location", "malware",
    "malware-analysis", "note", "observed-data", "opinion", "report", "threat-actor", "tool",
    "vulnerability",
}  # fmt: skip
_SRO = {"relationship", "sighting"}
_SCO = {
    "artifact", "autonomous-system", "directory", "domain-name", "email-addr",
    "email-message", "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex",
    "network-traffic", "process", "software", "url", "user-account",
    "windows-registry-key", "x509-certificate",
}  # fmt: skip
_META = {"marking-definition", "extension-definition", "language-content"}
#: Object types a bundle may contain (everything STIX 2.1 defines, nothing custom).
ALLOWED_TYPES = frozenset(_SDO | _SRO | _SCO | _META)

_PARTNER_DDL = (
    "CREATE TABLE IF NOT EXISTS partner_bundles (bundle_id VARCHAR PRIMARY KEY, "
    "source VARCHAR, sha256 VARCHAR, objects INTEGER, imported_at TIMESTAMPTZ)",
    "CREATE TABLE IF NOT EXISTS partner_indicators (indicator_id VARCHAR NOT NULL, "
    "bundle_id VARCHAR NOT NULL, source VARCHAR, actor VARCHAR, kind VARCHAR NOT NULL, "
    "value VARCHAR NOT NULL, name VARCHAR, valid_from TIMESTAMPTZ)",
)


@dataclass
class ImportReport:
    """What one import loaded."""

    bundle_id: str
    source: str
    indicators: int = 0
    values: int = 0
    unsupported: int = 0
    actors: list[str] = field(default_factory=list)


def ensure_partner_tables(store: Store) -> None:
    """Create the partner tables if they do not exist yet."""
    ensure_tables(store, _PARTNER_DDL)


# ------------------------------------------------------------------ parsing
def _depth_ok(doc: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, d = stack.pop()
        if d > limit:
            return False
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return True


def parse_bundle(path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """Read and check a bundle; returns the document and its sha256. Raises InputError."""
    p = Path(path)
    name = str(p)

    def bad(reason: str, msg: str, fld: str | None = None) -> InputError:
        return InputError(reason, msg + "; nothing was imported", file=name, field=fld)

    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputError("unreadable", str(exc), file=name) from exc
    if size > MAX_BYTES:
        raise bad("too large", f"{size} bytes, the limit is {MAX_BYTES}")
    raw = p.read_bytes()[: MAX_BYTES + 1]
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad("not JSON", str(exc)) from exc
    if not _depth_ok(doc, MAX_DEPTH):
        raise bad("too deeply nested", f"JSON nests deeper than {MAX_DEPTH} levels")
    if not isinstance(doc, dict) or doc.get("type") != "bundle":
        raise bad("not a bundle", "the top-level object must have type 'bundle'", "type")
    if "spec_version" in doc:
        raise bad(
            "wrong spec version",
            f"bundle declares spec_version {doc['spec_version']!r} (a STIX 2.0 bundle); "
            "only STIX 2.1 is accepted",
            "spec_version",
        )
    objects = doc.get("objects")
    if not isinstance(objects, list) or not objects:
        raise bad("no objects", "the bundle's 'objects' must be a non-empty list", "objects")
    if len(objects) > MAX_OBJECTS:
        raise bad("too many objects", f"{len(objects)} objects, the limit is {MAX_OBJECTS}")
    for i, obj in enumerate(objects):
        where = f"objects[{i}]"
        if not isinstance(obj, dict):
            raise bad("not an object", "every bundle entry must be a JSON object", where)
        t = obj.get("type")
        if t not in ALLOWED_TYPES:
            raise bad("unknown object type", f"type {t!r} is not a STIX 2.1 type", where)
        sv = obj.get("spec_version")
        if t not in _SCO and sv != "2.1":
            raise bad("wrong spec version", f"{t} has spec_version {sv!r}, need '2.1'", where)
        if t == "indicator" and len(str(obj.get("pattern", ""))) > MAX_PATTERN_CHARS:
            raise bad("pattern too long", f"more than {MAX_PATTERN_CHARS} characters", where)
        if t == "indicator" and _operators(str(obj.get("pattern", ""))) > MAX_PATTERN_TERMS:
            raise bad(
                "pattern too complex",
                f"more than {MAX_PATTERN_TERMS} AND/OR terms (split it into several indicators)",
                where,
            )
    from stix2validator import ValidationOptions, validate_parsed_json  # slow import: lazy

    try:
        result = validate_parsed_json(doc, ValidationOptions(strict=False))
    except RecursionError:
        raise bad("pattern too complex", "the STIX pattern parser ran out of stack") from None
    results = result if isinstance(result, list) else [result]
    errors = [f"{r.object_id}: {e}" for r in results for e in (r.errors or [])]
    if errors or not all(r.is_valid for r in results):
        raise bad("invalid STIX", "; ".join(errors[:3]) or "stix2-validator rejected it")
    return doc, hashlib.sha256(raw).hexdigest()


def _operators(pattern: str) -> int:
    """How many ``AND`` / ``OR`` terms a pattern joins (an upper bound: quoted text counts)."""
    return len(re.findall(r"\b(?:AND|OR|FOLLOWEDBY)\b", pattern))


def _unquote(v: str) -> str:
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] == "'":
        v = v[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    return v


def pattern_values(pattern: str) -> tuple[list[tuple[str, str]], int]:
    """``(kind, value)`` pairs a STIX pattern names, and how many comparisons it skipped."""
    comps = Pattern(pattern).inspect().comparisons
    out: list[tuple[str, str]] = []
    skipped = 0
    for obj_type, items in comps.items():
        for path, op, value in items:
            key = (obj_type, tuple(str(p) for p in path), op)
            v = _unquote(str(value))
            if key[:2] == ("ipv4-addr", ("value",)) and op in ("=", "ISSUBSET"):
                out.append(("ip_range", v))
            elif key[:2] == ("autonomous-system", ("number",)) and op == "=":
                out.append(("asn", v))
            elif key[:2] == ("user-account", ("user_id",)) and op == "=":
                out.append(("account_hash", v))
            elif key[:2] == ("x-distillguard-client", ("fingerprint",)) and op == "=":
                out.append(("client_fp", v))
            else:
                skipped += 1
    return out, skipped


#: Most a partner's value is trusted (its own purity, when given, caps it further).
PARTNER_TRUST = 0.9

_EXT_KINDS = {
    "template_fingerprints": "template_id",
    "system_prompt_fingerprints": "system_hash",
    "request_shape_fingerprints": "shape_fp",
    "client_fingerprints": "client_fp",
    "payment_fingerprint_hmacs": "payment_hash",
}


_Row = tuple[Any, str, str | None, str, Any, Any]


def _partner_actors(
    doc: dict[str, Any], source: str
) -> tuple[list[_Row], dict[str, ActorFingerprint], int]:
    """Indicator rows ``(indicator_id, kind, actor, value, name, valid_from)`` and actors."""
    objs = {o["id"]: o for o in doc["objects"] if "id" in o}
    attributed: dict[str, str] = {}
    indicates: dict[str, list[str]] = defaultdict(list)
    for o in objs.values():
        if o["type"] != "relationship":
            continue
        if o["relationship_type"] == "attributed-to":
            attributed[o["source_ref"]] = o["target_ref"]
        elif o["relationship_type"] == "indicates":
            indicates[o["source_ref"]].append(o["target_ref"])

    def actor_of(ref: str) -> str | None:
        o = objs.get(ref)
        if o is None:
            return None
        if o["type"] == "intrusion-set":
            return str(o["name"])
        if o["type"] == "campaign":
            target = attributed.get(ref)
            if target and objs.get(target, {}).get("type") == "intrusion-set":
                return str(objs[target]["name"])
            return f"{source}:{o['name']}"
        return None

    actors: dict[str, ActorFingerprint] = {}

    def actor(name: str) -> ActorFingerprint:
        if name not in actors:
            actors[name] = ActorFingerprint(
                name=name, named=True, source=f"partner:{source}", description=f"from {source}"
            )
        return actors[name]

    rows: list[_Row] = []
    skipped = 0
    purity_of: dict[tuple[str, str], float] = {}
    for o in objs.values():
        if o["type"] in ("campaign", "intrusion-set"):
            name = actor_of(o["id"])
            ext = (o.get("extensions") or {}).get(EXTENSION_ID) or {}
            if name is None:
                continue
            fp = actor(name)
            fp.campaigns.append(str(o["name"]))
            for item in ext.get("fingerprint_purity") or []:
                if isinstance(item, dict) and isinstance(item.get("purity"), int | float):
                    key = (str(item.get("kind")), str(item.get("value")))
                    purity_of[key] = min(purity_of.get(key, 1.0), float(item["purity"]))
            for prop, kind in _EXT_KINDS.items():
                for v in ext.get(prop) or []:
                    fp.values.setdefault(kind, {})[str(v)] = PARTNER_TRUST
            prof = ext.get("capability_profile")
            if isinstance(prof, dict) and prof:
                fp.profiles["capability"] = {str(k): float(v) for k, v in prof.items()}
        if o["type"] != "indicator" or o.get("pattern_type") != "stix":
            continue
        values, n_skipped = pattern_values(str(o["pattern"]))
        skipped += n_skipped
        owners: set[str | None] = {a for t in indicates.get(o["id"], []) if (a := actor_of(t))}
        for kind, v in values:
            for owner in owners or {None}:
                rows.append((o["id"], kind, owner, v, o.get("name"), o.get("valid_from")))
                if owner is None:
                    continue
                fp = actor(owner)
                seen_from = _timestamp(o.get("valid_from"))
                if seen_from is not None:
                    fp.as_of = min(fp.as_of, seen_from) if fp.as_of else seen_from
                keys = expand_range(v) if kind == "ip_range" else [v]
                value_kind = "ip_prefix" if kind == "ip_range" else kind
                for value in keys:
                    fp.values.setdefault(value_kind, {})[value] = PARTNER_TRUST
    # the producer's own purity of a value caps how much it is trusted here
    for fp in actors.values():
        for kind, vals in fp.values.items():
            for v in vals:
                vals[v] = min(vals[v], purity_of.get((kind, v), PARTNER_TRUST))
    return rows, actors, skipped


def _timestamp(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _local_name(store: Store, name: str, source: str) -> str:
    row = store.con.execute("SELECT source FROM actors WHERE actor = ?", [name]).fetchone()
    if row is None or row[0] == f"partner:{source}":
        return name
    return f"{name}@{source}"


def import_bundle(store: Store, path: str | os.PathLike[str]) -> ImportReport:
    """Check ``path`` and load its indicators and actors into ``store`` in one transaction.

    Raises :class:`InputError` (and leaves the store unchanged) when the bundle is
    malformed, hostile or invalid. Importing the same bundle again replaces it.
    """
    doc, sha = parse_bundle(path)
    ensure_actor_tables(store)
    ensure_partner_tables(store)
    creators = [o.get("created_by_ref") for o in doc["objects"] if o.get("type") == "indicator"]
    names = {o["id"]: o.get("name") for o in doc["objects"] if o.get("type") == "identity"}
    creator = max(set(creators), key=creators.count) if creators else None
    source = str(names.get(creator) or creator or "unknown partner")
    rows, actors, skipped = _partner_actors(doc, source)
    report = ImportReport(bundle_id=str(doc.get("id")), source=source, unsupported=skipped)
    report.indicators = len({r[0] for r in rows})
    report.values = len(rows)
    con = store.con
    con.execute("BEGIN")
    try:
        con.execute("DELETE FROM partner_indicators WHERE bundle_id = ?", [report.bundle_id])
        local = {a: _local_name(store, a, source) for a in actors}
        if rows:
            con.executemany(
                "INSERT INTO partner_indicators VALUES (?, ?, ?, ?, ?, ?, ?, "
                "CAST(? AS TIMESTAMPTZ))",
                [
                    (
                        r[0],
                        report.bundle_id,
                        source,
                        local.get(r[2]) if r[2] else None,
                        r[1],
                        r[3],
                        r[4],
                        r[5],
                    )
                    for r in rows
                ],
            )
        con.execute(
            "INSERT OR REPLACE INTO partner_bundles VALUES (?, ?, ?, ?, ?)",
            [report.bundle_id, source, sha, len(doc["objects"]), datetime.now(UTC)],
        )
        for name, fp in actors.items():
            fp.name = local[name]
            save_actor(store, fp, begin=False)
            report.actors.append(fp.name)
        con.execute("COMMIT")
    except Exception as exc:
        con.execute("ROLLBACK")
        raise InputError("import failed", f"{exc}; nothing was imported", file=str(path)) from exc
    return report
