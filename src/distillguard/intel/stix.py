"""STIX 2.1 export: campaigns, actors and indicators as a bundle partners can use.

Built with the ``stix2`` library and checked with ``stix2-validator`` before it is
written. What goes in, per campaign:

* an Identity for the producer (``--producer``) and the TLP marking (amber by default)
  on every object;
* the AttackPattern for MITRE ATLAS AML.T0024.002 (model extraction through the
  inference API), used by every campaign and intrusion set;
* a Campaign, an IntrusionSet for the attributed actor (``attributed-to``), an
  Infrastructure for its proxy / hosting pool (``uses``);
* Indicators (``indicates``) over IPv4 ranges, autonomous systems, client fingerprints
  and keyed hashes of the member accounts, each with a Sighting by the producer;
* what STIX has no property for (prompt-template, system-prompt and request-shape
  fingerprints, keyed payment-instrument hashes, the capability profile, volumes) in the
  registered property extension :data:`EXTENSION_ID`.

Account ids and payment fingerprints leave only as HMAC-SHA256 under the community
key the sharing partners agreed on (:func:`keyed_hash`); prompts, raw account ids and
e-mail domains never enter a bundle.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import stix2

from ..contracts import Campaign
from ..errors import ConfigError, DistillguardError
from ..store import Store
from .actors import ACTOR_SHARED_BY, ActorFingerprint, fingerprint_campaign, load_actor
from .sharing import (
    KEY_ENV,
    MAX_PATTERN_VALUES,
    _fingerprint_props,
    _pure_union,
    _v4_key,
    community_key,
    keyed_hash,
)

#: Most comparisons one indicator pattern joins with ``OR`` (see ``_Builder.indicators``).
PATTERN_CHUNK = 400

__all__ = [
    "ATLAS_TECHNIQUE",
    "EXTENSION_ID",
    "KEY_ENV",
    "TLP_LEVELS",
    "build_bundle",
    "community_key",
    "export_stix",
    "keyed_hash",
    "validate_bundle",
]

#: The MITRE ATLAS technique every campaign uses.
ATLAS_TECHNIQUE = "AML.T0024.002"

#: Fixed id of the distillguard property extension (the same in every bundle).
EXTENSION_ID = "extension-definition--5d0f4a43-9b1e-4c55-8f0e-2a7c6b1d9e34"
_PROJECT_IDENTITY = "identity--8e2b7c1a-3f4d-4e6a-9b0c-1d2e3f4a5b6c"

#: ``--tlp`` values and the stix2 marking each maps to (TLP 1.0; ``clear`` is white).
TLP_LEVELS: dict[str, stix2.MarkingDefinition] = {
    "clear": stix2.TLP_WHITE,
    "white": stix2.TLP_WHITE,
    "green": stix2.TLP_GREEN,
    "amber": stix2.TLP_AMBER,
    "red": stix2.TLP_RED,
}

_EXT_SCHEMA = (
    "distillguard distillation-campaign property extension, version 1.0. Properties: "
    "template_fingerprints, system_prompt_fingerprints, request_shape_fingerprints, "
    "client_fingerprints (lists of opaque hashes computed by distillguard's signals, never "
    "text); payment_fingerprint_hmacs (HMAC-SHA256 under the community key of "
    "'distillguard/payment/v1:' + the payment fingerprint); capability_profile (share of "
    "exchanges per capability, 0-1); fingerprint_purity (list of {kind, value, purity}: "
    "the share of the producer's accounts using the value that were the actor's, 0-1); "
    "exchanges, output_tokens, member_accounts (integers); "
    "hosting_share (0-1); hash_scheme (how keyed hashes were computed)."
)


def _uuid(*parts: str) -> uuid.UUID:
    """A deterministic UUID in version-4 form (what STIX asks of SDO and SRO ids), so a
    re-export of the same campaign updates the partner's copy instead of duplicating it."""
    digest = hashlib.sha256(("distillguard|" + "|".join(parts)).encode()).digest()
    return uuid.UUID(bytes=digest[:16], version=4)


def _sid(kind: str, *parts: str) -> str:
    return f"{kind}--{_uuid(kind, *parts)}"


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ext(props: dict[str, Any]) -> dict[str, dict[str, Any]]:
    clean = {k: v for k, v in props.items() if v not in (None, [], {})}
    return {EXTENSION_ID: {"extension_type": "property-extension", **clean}}


class _Builder:
    """Accumulates the objects of one bundle."""

    def __init__(self, producer: str, tlp: str, now: datetime) -> None:
        if tlp.lower() not in TLP_LEVELS:
            raise ConfigError(f"--tlp must be one of {', '.join(TLP_LEVELS)}, not {tlp!r}")
        self.now = now
        self.marking = TLP_LEVELS[tlp.lower()]
        self.identity = stix2.Identity(
            id=_sid("identity", "producer", producer),
            name=producer,
            identity_class="organization",
            description="Provider of the model API that observed these campaigns.",
            created=now,
            modified=now,
            object_marking_refs=[self.marking],
        )
        project = stix2.Identity(
            id=_PROJECT_IDENTITY,
            name="distillguard",
            identity_class="organization",
            description="The open-source project that defines the distillguard extension.",
            created="2026-01-01T00:00:00Z",
            modified="2026-01-01T00:00:00Z",
        )
        ext = stix2.ExtensionDefinition(
            id=EXTENSION_ID,
            created_by_ref=_PROJECT_IDENTITY,
            created="2026-01-01T00:00:00Z",
            modified="2026-01-01T00:00:00Z",
            name="distillguard-distillation",
            description="Evidence of distillation campaigns that STIX 2.1 has no property for.",
            schema=_EXT_SCHEMA,
            version="1.0.0",
            extension_types=["property-extension"],
        )
        self.attack = stix2.AttackPattern(
            id=_sid("attack-pattern", ATLAS_TECHNIQUE),
            created="2026-01-01T00:00:00Z",
            modified="2026-01-01T00:00:00Z",
            name="Extract ML Model via the inference API (distillation)",
            description=(
                "Harvesting a model's answers through its inference API at scale to train "
                "another model (MITRE ATLAS AML.T0024.002)."
            ),
            external_references=[
                {
                    "source_name": "mitre-atlas",
                    "external_id": ATLAS_TECHNIQUE,
                    "description": "https://atlas.mitre.org/techniques/AML.T0024.002",
                }
            ],
            created_by_ref=self.identity.id,
            object_marking_refs=[self.marking],
        )
        self.objects: dict[str, Any] = {}
        for o in (self.marking, self.identity, project, ext, self.attack):
            self.objects[o.id] = o

    def common(self) -> dict[str, Any]:
        return {
            "created_by_ref": self.identity.id,
            "object_marking_refs": [self.marking],
            "created": self.now,
            "modified": self.now,
        }

    def add(self, obj: Any) -> Any:
        self.objects[obj.id] = obj
        return obj

    def relate(self, source: str, rel: str, target: str, **kw: Any) -> None:
        self.add(
            stix2.Relationship(
                id=_sid("relationship", source, rel, target),
                source_ref=source,
                relationship_type=rel,
                target_ref=target,
                description=f"{source.split('--')[0]} {rel} {target.split('--')[0]}",
                **self.common(),
                **kw,
            )
        )

    def indicators(
        self, c: Campaign, what: str, comparisons: list[str], targets: list[str]
    ) -> None:
        """One indicator per :data:`PATTERN_CHUNK` comparisons (joined by ``OR``).

        STIX pattern parsers recurse once per ``OR``: the reference validator fails on a
        pattern of about a thousand, so a large pool is shared as several indicators.
        """
        for i in range(0, len(comparisons), PATTERN_CHUNK):
            part = comparisons[i : i + PATTERN_CHUNK]
            label = what if i == 0 else f"{what} (part {i // PATTERN_CHUNK + 1})"
            self.indicator(c, label, " OR ".join(part), len(part), targets)

    def indicator(self, c: Campaign, what: str, pattern: str, n: int, targets: list[str]) -> None:
        ind = self.add(
            stix2.Indicator(
                id=_sid("indicator", self.identity.id, c.id, what),
                name=f"{c.id}: {what}",
                description=f"{n} {what} used by distillation campaign {c.id}.",
                indicator_types=["malicious-activity"],
                pattern=pattern,
                pattern_type="stix",
                valid_from=c.first_seen,
                **self.common(),
            )
        )
        for t in targets:
            self.relate(ind.id, "indicates", t)
        self.add(
            stix2.Sighting(
                id=_sid("sighting", ind.id),
                sighting_of_ref=ind.id,
                where_sighted_refs=[self.identity.id],
                first_seen=c.first_seen,
                last_seen=c.last_seen if c.last_seen > c.first_seen else None,
                count=max(1, min(int(c.exchanges), 999_999_999)),
                description=f"Seen in {c.exchanges} exchanges of campaign {c.id}.",
                **self.common(),
            )
        )


def _add_campaign(
    b: _Builder,
    c: Campaign,
    key: bytes,
    fp: ActorFingerprint | None,
    actor_fp: ActorFingerprint | None,
) -> None:
    infra = c.infrastructure
    props = _fingerprint_props(fp, key)
    props.update(
        capability_profile={k: round(float(v), 4) for k, v in c.capability_profile.items()},
        exchanges=int(c.exchanges),
        output_tokens=int(c.output_tokens),
        member_accounts=len(c.members),
        hosting_share=infra.hosting_share,
    )
    pays = _pure_union("payment_fp", infra.payment_fingerprints, fp, actor_fp)
    if pays:
        props["payment_fingerprint_hmacs"] = sorted(
            set(props["payment_fingerprint_hmacs"]) | {keyed_hash(key, "payment", p) for p in pays}
        )
    conf = {"confidence": round(c.risk * 100)} if c.risk is not None else {}
    camp = b.add(
        stix2.Campaign(
            id=_sid("campaign", b.identity.id, c.id),
            name=c.id,
            description=(
                f"Distillation campaign of {len(c.members)} accounts, {c.exchanges} exchanges "
                f"and {c.output_tokens} output tokens."
            ),
            objective="Harvest model outputs to train another model (distillation).",
            first_seen=c.first_seen,
            last_seen=c.last_seen if c.last_seen > c.first_seen else None,
            extensions=_ext(props),
            **conf,
            **b.common(),
        )
    )
    b.relate(camp.id, "uses", b.attack.id)
    targets = [camp.id]
    if c.attributed_actor is not None:
        aset = _intrusion_set(b, c.attributed_actor.actor, actor_fp, key, c)
        b.relate(
            camp.id, "attributed-to", aset, confidence=round(c.attributed_actor.confidence * 100)
        )
        targets.append(aset)
    # the scan lists a campaign's top ranges and clients; the fingerprints know every
    # value its accounts used and how exclusively: share the pure ones, all of them
    ranges = _pure_union("ip_prefix", infra.ip_ranges, fp, actor_fp, normalise=_v4_key)
    if ranges or infra.asns:
        pool = b.add(
            stix2.Infrastructure(
                id=_sid("infrastructure", b.identity.id, c.id),
                name=f"{c.id} proxy / hosting pool",
                description=(
                    f"{len(ranges)} IPv4 ranges in {len(infra.asns)} autonomous systems"
                    + (f" ({', '.join(infra.asn_orgs[:5])})" if infra.asn_orgs else "")
                    + "."
                ),
                infrastructure_types=["anonymization"],
                **b.common(),
            )
        )
        b.relate(camp.id, "uses", pool.id)
        targets_infra = [*targets, pool.id]
    else:
        targets_infra = targets
    v4 = [r for r in ranges if ":" not in r][:MAX_PATTERN_VALUES]
    b.indicators(
        c, "IPv4 ranges", [f"[ipv4-addr:value ISSUBSET {_quote(r)}]" for r in v4], targets_infra
    )
    asns = sorted(set(infra.asns))[:MAX_PATTERN_VALUES]
    b.indicators(
        c,
        "autonomous systems",
        [f"[autonomous-system:number = {int(a)}]" for a in asns],
        targets_infra,
    )
    clients = _pure_union("client_fp", infra.client_fingerprints, fp, actor_fp)
    b.indicators(
        c,
        "client fingerprints",
        [
            f"[x-distillguard-client:fingerprint = {_quote(v)}]"
            for v in clients[:MAX_PATTERN_VALUES]
        ],
        targets,
    )
    hashes = sorted({keyed_hash(key, "account", a) for a in c.members})[:MAX_PATTERN_VALUES]
    b.indicators(
        c,
        "keyed account hashes",
        [f"[user-account:user_id = {_quote(h)}]" for h in hashes],
        targets,
    )


def _intrusion_set(
    b: _Builder, name: str, fp: ActorFingerprint | None, key: bytes, c: Campaign
) -> str:
    sid = _sid("intrusion-set", b.identity.id, name)
    if sid in b.objects:
        return sid
    props = _fingerprint_props(fp, key)
    if fp is not None and fp.profiles.get("capability"):
        props["capability_profile"] = fp.profiles["capability"]
    b.add(
        stix2.IntrusionSet(
            id=sid,
            name=name,
            description=f"Actor behind distillation campaign(s) seen by {b.identity.name}.",
            first_seen=c.first_seen,
            extensions=_ext(props),
            **b.common(),
        )
    )
    b.relate(sid, "uses", b.attack.id)
    return sid


def build_bundle(
    campaigns: Iterable[Campaign],
    *,
    key: bytes,
    store: Store | None = None,
    tlp: str = "amber",
    producer: str = "distillguard operator",
    now: datetime | None = None,
) -> stix2.Bundle:
    """Build the STIX 2.1 bundle for ``campaigns``.

    With a ``store``, the campaign's and its actor's fingerprints (templates, system
    prompts, request shapes, payment instruments) are read from it and shared when
    their purity is at least :data:`~distillguard.intel.sharing.MIN_SHARED_PURITY`.
    """
    b = _Builder(producer, tlp, now or datetime.now(UTC))
    for c in campaigns:
        fp = (
            fingerprint_campaign(store, c, shared_by=ACTOR_SHARED_BY)
            if store is not None and c.members
            else None
        )
        actor_fp = None
        if store is not None and c.attributed_actor is not None:
            try:
                actor_fp = load_actor(store, c.attributed_actor.actor)
            except DistillguardError:
                actor_fp = None
        _add_campaign(b, c, key, fp, actor_fp)
    return stix2.Bundle(objects=list(b.objects.values()))


def validate_bundle(text: str) -> list[str]:
    """Errors ``stix2-validator`` finds in a serialised bundle (empty when valid)."""
    from stix2validator import ValidationOptions, validate_string  # slow import: lazy

    result = validate_string(text, ValidationOptions(strict=False))
    if result.is_valid:
        return []
    out = []
    for obj in result.object_results:
        out += [f"{obj.object_id}: {e}" for e in obj.errors]
    return out or ["bundle is not valid STIX 2.1"]


def export_stix(
    path: os.PathLike[str] | str,
    campaigns: Iterable[Campaign],
    *,
    key: bytes,
    store: Store | None = None,
    tlp: str = "amber",
    producer: str = "distillguard operator",
) -> dict[str, int]:
    """Build, validate and atomically write a bundle; returns object counts by type."""
    from pathlib import Path

    bundle = build_bundle(campaigns, key=key, store=store, tlp=tlp, producer=producer)
    text = bundle.serialize(pretty=True)
    errors = validate_bundle(text)
    if errors:
        raise DistillguardError("exported bundle failed STIX validation: " + "; ".join(errors[:5]))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    counts: dict[str, int] = {}
    for o in bundle.objects:
        counts[o.type] = counts.get(o.type, 0) + 1
    return counts
