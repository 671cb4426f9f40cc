"""The hooks ``scan`` calls: attribution, returning accounts, partner confirmation.

* :func:`attribute` matches each campaign against the known actors and fills
  ``attributed_actor`` (actor, confidence, the evidence that matched) or records in
  ``extra['attribution']`` that nothing matched; asked to, it remembers unmatched
  campaigns as new unnamed actors. ``extra['attribution']['corroborated_members']`` lists
  the members whose own evidence links them to the actor: the accounts attributed.
* :func:`partner_evidence` adds "confirmed by partner indicator X" evidence from
  imported STIX indicators.
* :func:`distillguard.intel.evasion.returning_accounts` is re-exported from the package.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict

from ..contracts import AttributedActor, Campaign
from ..store import Store
from ._evidence import VALUES_TABLE, ensure_account_values
from .actors import load_actors, name_actor
from .evasion import FLAG_SCORE, BanEvasionIndex, Link, account_evidence
from .match import MIN_CONFIDENCE, match_campaign
from .stix import community_key, keyed_hash
from .stix_import import ensure_partner_tables

__all__ = ["attribute", "attribute_campaigns", "partner_evidence"]


def attribute(
    campaigns: list[Campaign],
    store: Store,
    *,
    create_unnamed: bool = False,
    learn: bool = False,
    min_confidence: float = MIN_CONFIDENCE,
) -> list[Campaign]:
    """Attribute each campaign to the best-matching known actor; returns updated copies.

    ``create_unnamed`` turns an unmatched campaign into a new actor ``UNNAMED-NNNN``;
    ``learn`` merges a matched campaign's evidence into its actor as a new version (so
    the actor is followed as it moves infrastructure).
    """
    actors = load_actors(store)
    index = BanEvasionIndex.from_store(store) if actors else None
    out: list[Campaign] = []
    for campaign in campaigns:
        c = campaign.model_copy(deep=True)
        matches = match_campaign(store, c, actors)
        best = matches[0] if matches else None
        if best is not None and best.confidence >= min_confidence:
            c.attributed_actor = AttributedActor(
                actor=best.actor,
                confidence=round(best.confidence, 4),
                evidence=[e.describe() for e in best.evidence[:10]],
            )
            assert index is not None
            corroborated = _corroborated(store, index, c.members, best.actor)
            c.extra["attribution"] = {
                "status": "matched",
                "score": best.score,
                "corroborated_members": corroborated,
                "uncorroborated_members": len(c.members) - len(corroborated),
                "runner_up": (
                    {"actor": matches[1].actor, "confidence": round(matches[1].confidence, 4)}
                    if len(matches) > 1
                    else None
                ),
            }
            if learn:
                name_actor(store, c, best.actor)
        else:
            c.attributed_actor = None
            unmatched: dict[str, object] = {
                "status": "unmatched",
                "known_actors": len(actors),
                "best_candidate": (
                    {"actor": best.actor, "confidence": round(best.confidence, 4)}
                    if best is not None and best.score > 0
                    else None
                ),
            }
            if create_unnamed:
                fp = name_actor(store, c, None)
                c.attributed_actor = AttributedActor(
                    actor=fp.name, confidence=1.0, evidence=["new actor created from this campaign"]
                )
                unmatched["status"] = "new-actor"
            c.extra["attribution"] = unmatched
        out.append(c)
    return out


#: Own evidence (from two families) that corroborates a member of an attributed campaign:
#: half the bar of a standalone returning-actor flag, the scan's linkage being the rest.
CORROBORATE_SCORE = FLAG_SCORE / 2


def _corroborates(link: Link) -> bool:
    return link.flagged or (link.score >= CORROBORATE_SCORE and len(link.families) >= 2)


def _corroborated(
    store: Store, index: BanEvasionIndex, members: list[str], actor: str
) -> list[str]:
    """Members whose own evidence links them to ``actor`` (or who are known members).

    A campaign is the scan's claim about which accounts act together; an account is
    attributed to the campaign's actor only when its own evidence agrees, so ordinary
    customers a scan swept into a campaign are not named as the actor.
    """
    links = account_evidence(store, index, members)
    out = []
    for a in members:
        link = links.get(a, {}).get(actor)
        if index.known_account(a) == actor or (link is not None and _corroborates(link)):
            out.append(a)
    return out


def _campaign_values(store: Store, c: Campaign, key: bytes | None) -> dict[str, set[str]]:
    import pyarrow as pa

    vals: dict[str, set[str]] = defaultdict(set)
    tbl = pa.table({"account_id": c.members}, schema=pa.schema([("account_id", pa.string())]))
    store.con.register("_dg_pe", tbl)
    try:
        for kind, value in store.con.execute(
            f"SELECT DISTINCT kind, value FROM {VALUES_TABLE} JOIN _dg_pe USING (account_id)"
        ).fetchall():
            vals[kind].add(value)
    finally:
        store.con.unregister("_dg_pe")
    infra = c.infrastructure
    vals["ip_prefix"] |= set(infra.ip_ranges)
    vals["asn"] |= {str(a) for a in infra.asns}
    vals["client_fp"] |= set(infra.client_fingerprints)
    vals["payment_fp"] |= set(infra.payment_fingerprints)
    if key is not None:
        vals["account_hash"] = {keyed_hash(key, "account", a) for a in c.members}
        vals["payment_hash"] = {keyed_hash(key, "payment", p) for p in vals["payment_fp"]}
    return vals


def _networks(values: set[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets = []
    for v in values:
        try:
            nets.append(ipaddress.ip_network(v, strict=False))
        except ValueError:
            continue
    return nets


def partner_evidence(
    store: Store, campaigns: list[Campaign], *, key: str | bytes | None = None
) -> list[Campaign]:
    """Add evidence from imported partner indicators; returns updated copies.

    Each match appends ``{kind: 'partner_indicator', value: <indicator id>, source,
    matched, accounts, weight}`` to ``evidence`` and a sentence "confirmed by partner
    indicator X" to ``extra['partner_confirmations']``. Keyed account and payment hashes
    are compared only when the community key is given (``key`` or the environment).
    """
    ensure_partner_tables(store)
    rows = store.con.execute(
        "SELECT indicator_id, source, kind, value, name FROM partner_indicators"
    ).fetchall()
    if not rows:
        return [c.model_copy(deep=True) for c in campaigns]
    ensure_account_values(store)
    k: bytes | None
    if isinstance(key, bytes):
        k = key
    else:
        try:
            k = community_key(key)
        except Exception:
            k = None
    out = []
    for campaign in campaigns:
        c = campaign.model_copy(deep=True)
        vals = _campaign_values(store, c, k)
        nets = _networks(vals["ip_prefix"])
        seen: dict[str, list[str]] = defaultdict(list)
        sources: dict[str, str] = {}
        for ind, source, kind, value, _name in rows:
            hit = False
            if kind == "ip_range":
                try:
                    pnet = ipaddress.ip_network(value, strict=False)
                except ValueError:
                    continue
                hit = any(n.version == pnet.version and n.overlaps(pnet) for n in nets)
            else:
                hit = value in vals.get(kind, set())
            if hit:
                seen[ind].append(f"{kind}={value}")
                sources[ind] = source
        confirmations: list[str] = list(c.extra.get("partner_confirmations") or [])  # type: ignore[call-overload]
        for ind, matched in seen.items():
            c.evidence.append(
                {
                    "kind": "partner_indicator",
                    "value": ind,
                    "source": sources[ind],
                    "matched": matched[:10],
                    "accounts": [],
                    "weight": 1.0,
                }
            )
            confirmations.append(
                f"confirmed by partner indicator {ind} ({sources[ind]}): "
                + ", ".join(matched[:3])
                + (f" and {len(matched) - 3} more" if len(matched) > 3 else "")
            )
        c.extra["partner_confirmations"] = confirmations
        out.append(c)
    return out


def attribute_campaigns(store: Store, campaigns: list[Campaign]) -> list[Campaign]:
    """What ``scan`` calls: :func:`attribute`, then :func:`partner_evidence`."""
    return partner_evidence(store, attribute(campaigns, store))
