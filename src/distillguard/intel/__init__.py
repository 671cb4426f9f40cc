"""Actor memory, attribution, returning actors and threat-intelligence exchange.

The public surface other stages use:

* ``attribute(campaigns, store)``: fill each campaign's ``attributed_actor``;
* ``returning_accounts(store)``: accounts that come back after a ban or as a known actor;
* ``BanEvasionIndex.from_store(store)`` / ``ReturningActorWatch``: the same, per request;
* ``partner_evidence(store, campaigns)``: evidence from imported partner indicators;
* ``name_actor``, ``load_actors``, ``list_actors``: the actor memory;
* ``build_bundle`` / ``export_stix`` / ``import_bundle``: STIX 2.1 out and in.
"""

from __future__ import annotations

from .actors import ActorFingerprint, list_actors, load_actor, load_actors, name_actor
from .evasion import (
    FLAG_SCORE,
    BanEvasionIndex,
    Link,
    ReturningAccount,
    ReturningActorWatch,
    returning_accounts,
)
from .evidence_source import IntelEvidenceSource
from .hooks import attribute, attribute_campaigns, partner_evidence
from .match import MIN_CONFIDENCE, ActorMatch, match_campaign
from .stix import build_bundle, community_key, export_stix, keyed_hash, validate_bundle
from .stix_import import ImportReport, import_bundle

__all__ = [
    "FLAG_SCORE",
    "MIN_CONFIDENCE",
    "ActorFingerprint",
    "ActorMatch",
    "BanEvasionIndex",
    "ImportReport",
    "IntelEvidenceSource",
    "Link",
    "ReturningAccount",
    "ReturningActorWatch",
    "attribute",
    "attribute_campaigns",
    "build_bundle",
    "community_key",
    "export_stix",
    "import_bundle",
    "keyed_hash",
    "list_actors",
    "load_actor",
    "load_actors",
    "match_campaign",
    "name_actor",
    "partner_evidence",
    "returning_accounts",
    "validate_bundle",
]
