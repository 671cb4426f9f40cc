"""Optional MISP export: the same content as the STIX bundle, as one MISP event.

For teams that run MISP rather than a STIX/TAXII pipeline. Built with ``pymisp``
(``pip install 'distillguard[misp]'``); no MISP server is needed to build or write the
event; push it with ``PyMISP.add_event`` or import the JSON in the MISP UI. Content and
privacy rules are those of :mod:`distillguard.intel.stix`: network ranges and autonomous
systems as indicators, client / template / system-prompt / request-shape fingerprints as
opaque hashes, account ids and payment fingerprints only as HMAC-SHA256 under the
community key; no prompt text, raw account id or e-mail domain.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..contracts import Campaign
from ..errors import ConfigError
from ..store import Store
from .actors import ACTOR_SHARED_BY, fingerprint_campaign
from .sharing import MAX_PATTERN_VALUES, _pure_union, _shared, _v4_key, keyed_hash
from .stix import ATLAS_TECHNIQUE, TLP_LEVELS

__all__ = ["build_misp_event", "export_misp"]

_THREAT_LEVEL_MEDIUM = 2
_ANALYSIS_COMPLETED = 2


def _pymisp() -> Any:
    try:
        import pymisp
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the extra
        raise ConfigError("MISP export needs pymisp: pip install 'distillguard[misp]'") from exc
    return pymisp


def build_misp_event(
    campaigns: Iterable[Campaign],
    *,
    key: bytes,
    store: Store | None = None,
    tlp: str = "amber",
    producer: str = "distillguard operator",
) -> Any:
    """Build a ``pymisp.MISPEvent`` for ``campaigns`` (one event, attributes per campaign)."""
    if tlp.lower() not in TLP_LEVELS:
        raise ConfigError(f"--tlp must be one of {', '.join(TLP_LEVELS)}, not {tlp!r}")
    pymisp = _pymisp()
    items = list(campaigns)
    event = pymisp.MISPEvent()
    event.info = f"Distillation campaigns against a model API, shared by {producer}"
    event.distribution = 1  # this community only
    event.threat_level_id = _THREAT_LEVEL_MEDIUM
    event.analysis = _ANALYSIS_COMPLETED
    event.add_tag(f"tlp:{'clear' if tlp.lower() in ('clear', 'white') else tlp.lower()}")
    event.add_tag(f"mitre-atlas:{ATLAS_TECHNIQUE}")
    event.add_attribute(
        "link",
        "https://atlas.mitre.org/techniques/AML.T0024.002",
        category="External analysis",
        comment="MITRE ATLAS AML.T0024.002: model extraction through the inference API",
    )
    for c in items:
        fp = (
            fingerprint_campaign(store, c, shared_by=ACTOR_SHARED_BY)
            if store is not None and c.members
            else None
        )
        actor = c.attributed_actor.actor if c.attributed_actor else "unattributed"
        tag = f"campaign {c.id} (actor {actor})"

        def add(
            type_: str, value: str, category: str, what: str, ids: bool, tag: str = tag
        ) -> None:
            event.add_attribute(
                type_, value, category=category, to_ids=ids, comment=f"{tag}: {what}"
            )

        infra = c.infrastructure
        for r in _pure_union("ip_prefix", infra.ip_ranges, fp, normalise=_v4_key):
            add("ip-src", r, "Network activity", "source range", True)
        for a in sorted(set(infra.asns)):
            add("AS", str(a), "Network activity", "autonomous system", False)
        for v in _pure_union("client_fp", infra.client_fingerprints, fp):
            add("text", v, "Network activity", "client fingerprint", True)
        for kind, what in (
            ("template_id", "prompt-template fingerprint"),
            ("system_hash", "system-prompt fingerprint"),
            ("shape_fp", "request-shape fingerprint"),
        ):
            for v in _shared(fp, kind):
                add("text", v, "Payload delivery", what, False)
        pays = _pure_union("payment_fp", infra.payment_fingerprints, fp)
        for p in sorted(keyed_hash(key, "payment", p) for p in pays):
            add("text", p, "Financial fraud", "payment fingerprint, HMAC-SHA256", True)
        for h in sorted(keyed_hash(key, "account", a) for a in c.members)[:MAX_PATTERN_VALUES]:
            add("text", h, "Attribution", "account id, HMAC-SHA256", True)
        summary = {
            "campaign": c.id,
            "actor": actor,
            "first_seen": c.first_seen.isoformat(),
            "last_seen": c.last_seen.isoformat(),
            "exchanges": c.exchanges,
            "output_tokens": c.output_tokens,
            "accounts": len(c.members),
            "capability_profile": c.capability_profile,
        }
        add("text", json.dumps(summary, sort_keys=True), "Other", "campaign summary", False)
    return event


def export_misp(
    path: os.PathLike[str] | str,
    campaigns: Iterable[Campaign],
    *,
    key: bytes,
    store: Store | None = None,
    tlp: str = "amber",
    producer: str = "distillguard operator",
) -> int:
    """Write the MISP event as JSON (atomically); returns the number of attributes."""
    event = build_misp_event(campaigns, key=key, store=store, tlp=tlp, producer=producer)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(event.to_json(indent=2), encoding="utf-8")
    tmp.replace(out)
    return len(event.attributes)
