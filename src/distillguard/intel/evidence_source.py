"""The online face of returning-actor detection: an ``EvidenceSource`` for enforcement.

:class:`IntelEvidenceSource` plugs into the online state
(``MemoryState(..., evidence_sources=[IntelEvidenceSource.from_store(store)])``, and the
Redis backend alike). For every request it feeds the request's evidence values (client
address, client fingerprint, template / system-prompt / request-shape fingerprints from
the request's signals, the account's payment instrument) to a
:class:`~distillguard.intel.evasion.ReturningActorWatch`; once an account's accumulated
evidence reaches the flag score it answers with ``known_actor`` evidence (the link is a
known actor) or ``banned_link`` evidence (banned accounts no actor claims), the reasons
in ``detail``. An actor's member that is not banned and whose own evidence does not link
it yet gets ``campaign_member`` evidence (a scan can sweep an ordinary customer into a
campaign the analyst then names).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..store import Store
from .evasion import BANNED_TARGET, BanEvasionIndex, ReturningActorWatch

if TYPE_CHECKING:
    from ..online.context import RequestContext
    from ..online.state import AccountRecord, Evidence

__all__ = ["IntelEvidenceSource", "request_values"]

_SIGNAL_KEYS = ("client_fp", "template_id", "system_hash", "shape_fp", "ip_prefix")


def request_values(
    context: RequestContext, account: AccountRecord | None
) -> dict[str, str | int | None]:
    """The evidence values of one request, as :meth:`BanEvasionIndex.matches` takes them."""
    sig: dict[str, Any] = context.signals or {}
    values: dict[str, str | int | None] = {k: sig.get(k) for k in _SIGNAL_KEYS}
    if not values["ip_prefix"]:
        values["client_ip"] = context.client_ip
    values["asn"] = sig.get("asn")
    if account is not None:
        values["payment_fp"] = account.payment_fingerprint
    return values


class IntelEvidenceSource:
    """Evidence that a request's account is a returning actor (see module docstring)."""

    def __init__(self, index: BanEvasionIndex, max_accounts: int = 1_000_000) -> None:
        self.watch = ReturningActorWatch(index, max_accounts=max_accounts)

    @classmethod
    def from_store(cls, store: Store) -> IntelEvidenceSource:
        """Build from the banned accounts and known actors of ``store``."""
        return cls(BanEvasionIndex.from_store(store))

    def lookup(self, context: RequestContext, account: AccountRecord | None) -> list[Evidence]:
        """``known_actor`` / ``banned_link`` evidence once the account is linked; else []."""
        from ..online.state import Evidence

        link = self.watch.observe(context.account_id, **request_values(context, account))
        if link is None:
            member_of = self.watch.index.known_account(context.account_id)
            if member_of is None:
                return []
            # named as the actor's by an analyst but not banned, and its own evidence
            # does not (yet) link it: a campaign's claim, weighed as campaign membership
            return [
                Evidence(
                    kind="campaign_member",
                    value=member_of,
                    weight=1.0,
                    detail=f"named member of actor {member_of} (not banned)",
                )
            ]
        kind = "banned_link" if link.target.startswith(BANNED_TARGET) else "known_actor"
        return [
            Evidence(
                kind=kind,
                value=link.target,
                weight=min(1.0, link.score / 4.0),
                detail="; ".join(link.reasons[:4]),
            )
        ]
