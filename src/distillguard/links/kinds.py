"""The evidence kinds: one small edge builder per way two accounts can be linked.

Each class names the value two linked accounts share; :mod:`._base` turns shared
values into rarity-weighted pairs. ``BUILDERS`` is the registry, in reporting order.
"""

from __future__ import annotations

from typing import ClassVar

from ._base import EdgeBuilder, LinkConfig

__all__ = [
    "BUILDERS",
    "ClientFingerprint",
    "CreationBurst",
    "SharedAddress",
    "SharedPayment",
    "SharedPrefix",
    "SharedSystemPrompt",
    "SharedTemplate",
    "SynchronisedActivity",
]


class SharedAddress(EdgeBuilder):
    """The same client IP in the same time window, in at least two windows."""

    kind = "ip"
    family = "network"
    base_weight = 0.7
    min_shared = 2
    strong = True

    def memberships_sql(self, cfg: LinkConfig) -> str:
        """Account and ``ip@window`` for every exchange with an address."""
        return (
            f"SELECT account_id, ip || '@' || epoch(time_bucket(INTERVAL '{cfg.window_minutes} minutes', ts))::BIGINT "
            "AS value FROM link_facts WHERE ip IS NOT NULL"
        )


class SharedPrefix(EdgeBuilder):
    """The same /24 (IPv4) or /48 (IPv6) in the same time window, in at least three windows."""

    kind = "ip24"
    family = "network"
    base_weight = 0.4
    min_shared = 3

    def memberships_sql(self, cfg: LinkConfig) -> str:
        """Account and ``prefix@window``."""
        return (
            f"SELECT account_id, ip24 || '@' || epoch(time_bucket(INTERVAL '{cfg.window_minutes} minutes', ts))::BIGINT "
            "AS value FROM link_facts WHERE ip24 IS NOT NULL"
        )


class SharedPayment(EdgeBuilder):
    """The same payment instrument (card fingerprint, invoice or grant id)."""

    kind = "payment"
    family = "account"
    base_weight = 0.95
    strong = True

    def memberships_sql(self, cfg: LinkConfig) -> str:
        """Account and payment fingerprint from the registry."""
        return "SELECT account_id, payment_fingerprint AS value FROM link_accounts"


class ClientFingerprint(EdgeBuilder):
    """The exact client fingerprint (user agent, SDK headers, runtime, OS)."""

    kind = "client_fp"
    family = "client"
    base_weight = 0.6

    def memberships_sql(self, cfg: LinkConfig) -> str:
        """Account and client fingerprint."""
        return "SELECT account_id, client_fp AS value FROM link_facts"


class SharedTemplate(EdgeBuilder):
    """The same prompt template (near-duplicate structure, slots masked)."""

    kind = "template"
    family = "content"
    base_weight = 0.5
    needs = ("template_id",)

    def memberships_sql(self, cfg: LinkConfig) -> str:
        """Account and template id."""
        return "SELECT account_id, template_id AS value FROM link_facts"


class SharedSystemPrompt(EdgeBuilder):
    """The same system prompt (exact hash)."""

    kind = "system_prompt"
    family = "content"
    base_weight = 0.6

    def memberships_sql(self, cfg: LinkConfig) -> str:
        """Account and system-prompt hash."""
        return "SELECT account_id, system_hash AS value FROM link_facts"


class CreationBurst(EdgeBuilder):
    """Accounts created in the same burst with the same sign-up profile."""

    kind = "creation_burst"
    family = "account"
    base_weight = 0.35
    indicator = False

    def memberships_sql(self, cfg: LinkConfig) -> str:
        """Account and ``window|domain|type|verification|country`` of its creation."""
        return (
            f"SELECT account_id, epoch(time_bucket(INTERVAL '{cfg.creation_burst_minutes} minutes', created_at))::BIGINT "
            "|| '|' || coalesce(email_domain, '') || '|' || coalesce(account_type, '') || '|' "
            "|| coalesce(billing_country, '') AS value FROM link_accounts WHERE created_at IS NOT NULL"
        )


class SynchronisedActivity(EdgeBuilder):
    """Lock-step activity: the same target (prompt template or system prompt) in
    the same short cell, in at least four cells (CopyCatch / SynchroTrap over account x
    target x time)."""

    kind = "sync"
    family = "timing"
    base_weight = 0.6
    min_shared = 4
    indicator = False
    min_idf: ClassVar[float | None] = 0.4

    def memberships_sql(self, cfg: LinkConfig) -> str:
        """Account and ``target@cell`` for each of its targets."""
        cell = f"epoch(time_bucket(INTERVAL '{cfg.sync_bucket_minutes} minutes', ts))::BIGINT"
        return " UNION ALL ".join(
            f"SELECT account_id, '{tag}:' || {col} || '@' || {cell} AS value "
            f"FROM link_facts WHERE {col} IS NOT NULL"
            for tag, col in (("t", "template_id"), ("s", "system_hash"))
        )


#: Every registered evidence kind, by its short code.
BUILDERS: dict[str, EdgeBuilder] = {
    b.kind: b
    for b in (
        SharedPayment(),
        ClientFingerprint(),
        SharedAddress(),
        SharedPrefix(),
        SharedTemplate(),
        SharedSystemPrompt(),
        CreationBurst(),
        SynchronisedActivity(),
    )
}
