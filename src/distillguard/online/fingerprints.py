"""A scanned campaign's own request fingerprints, as online evidence from the first request.

``scan`` lists in ``campaigns.json`` the values a campaign's accounts share: system
prompts (``system_prompt``: the exact hash), prompt templates (``template``) and client
builds (``client_fp``: SDK, version, runtime, OS and header set). When a
campaign comes back with fresh accounts, on new addresses and an ordinary SDK, these
are often all that gives it away before its behaviour can be measured (the online
rules need ten exchanges). But the values are only indicators when they are the
campaign's own: a coding agent's stock system prompt is shared by the campaign and by
every developer who runs the same agent. :func:`fingerprint_index` therefore keeps a
value only when the scanned period shows it is *pure*: used by at least
``min_accounts`` accounts, at least ``min_purity`` of them flagged by the scan. A value
that is pure only among *fresh* accounts (created at most ``fresh_days`` before they
first sent it: a campaign's sign-ups, while the established customers who share it
are old) is kept as ``fresh_only`` and answers only for fresh accounts.

:class:`CampaignFingerprints` is an :class:`~distillguard.online.state.EvidenceSource`:
it answers ``campaign_fingerprint`` evidence for a request whose ``system_hash``,
``template_id`` or ``client_fp`` signal (the batch definitions, computed at request
time) is such a value. It keeps no per-account state and is rebuilt whenever the
verdicts reload. Like the scan's other campaign indicators, the evidence is marked
``batch``: for an account the scan judged itself it would only echo the verdict back
(a developer the scan wrongly put in a campaign shares the campaign's client build),
so :func:`~distillguard.online.decide.decide` ignores it there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..contracts import Campaign, Verdict
from .state import Evidence, is_template_indicator

if TYPE_CHECKING:
    from ..store import Store
    from .context import RequestContext
    from .state import AccountRecord

__all__ = ["CampaignFingerprints", "Fingerprint", "fingerprint_index"]

#: campaigns.json evidence kind -> the exchange signal holding the same value
_SIGNAL_OF = {"system_prompt": "system_hash", "template": "template_id", "client_fp": "client_fp"}


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """One pure campaign value: whose it is and how pure the scanned period showed it."""

    campaign_id: str
    kind: str
    accounts: int
    flagged: int
    #: pure only among fresh accounts: evidence only for accounts younger than the limit
    fresh_only: bool = False

    @property
    def purity(self) -> float:
        """Share of the accounts that sent the value which the scan flagged."""
        return self.flagged / self.accounts if self.accounts else 0.0


def fingerprint_index(
    campaigns: Iterable[Campaign],
    verdicts: Iterable[Verdict],
    store: Store,
    *,
    kinds: Sequence[str] = ("system_prompt", "template"),
    min_accounts: int = 5,
    min_purity: float = 0.9,
    fresh_days: float = 0.0,
) -> dict[tuple[str, str], Fingerprint]:
    """``(signal name, value) -> Fingerprint`` for the campaigns' pure values.

    Counts, per candidate value, the distinct accounts of the store's
    ``exchange_signals`` that sent it and how many of them the scan flagged (or put in a
    campaign); keeps those with ``accounts >= min_accounts`` and purity at least
    ``min_purity``. Otherwise, with ``fresh_days > 0``, the same test among the accounts
    created at most ``fresh_days`` before their first use of the value (the registry's
    ``created_at``) keeps it as ``fresh_only``. A value claimed by two campaigns goes to
    the one listing it first. A store without ``exchange_signals`` (never scanned) gives
    no fingerprints.
    """
    flagged = {v.account_id for v in verdicts if v.flagged}
    cand: dict[tuple[str, str], str] = {}
    for c in campaigns:
        flagged.update(c.members)
        for ev in c.evidence:
            kind, value = str(ev.get("kind", "")), ev.get("value")
            if kind in kinds and kind in _SIGNAL_OF and isinstance(value, str) and value:
                cand.setdefault((kind, value), c.id)
    if not cand:
        return {}
    import pyarrow as pa

    con = store.con.cursor()
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "exchange_signals" not in tables:
            return {}  # a store that was never scanned: no usage to measure purity on
        con.register("dg_fp_flagged", pa.table({"account_id": sorted(flagged)}))
        fresh = (
            "a.created_at IS NOT NULL AND epoch(u.first_use) - epoch(a.created_at) < $1 * 86400"
            if "accounts" in tables
            else "$1 < 0"
        )
        out: dict[tuple[str, str], Fingerprint] = {}
        for kind in {k for k, _ in cand}:
            col = _SIGNAL_OF[kind]
            values = sorted(v for k, v in cand if k == kind)
            con.register("dg_fp_values", pa.table({"value": values}))
            rows = con.execute(
                f"""WITH use AS (
                      SELECT s.{col} AS value, s.account_id, min(s.timestamp) AS first_use
                      FROM exchange_signals s JOIN dg_fp_values v ON s.{col} = v.value
                      GROUP BY 1, 2)
                    SELECT u.value, count(*), count(f.account_id),
                           count(*) FILTER (WHERE {fresh}),
                           count(f.account_id) FILTER (WHERE {fresh})
                    FROM use u
                    LEFT JOIN dg_fp_flagged f ON f.account_id = u.account_id
                    LEFT JOIN accounts a ON a.account_id = u.account_id
                    GROUP BY 1""",
                [fresh_days],
            ).fetchall()
            con.unregister("dg_fp_values")
            for value, n, m, n_fresh, m_fresh in rows:
                camp = cand[(kind, value)]
                fp = Fingerprint(camp, kind, int(n), int(m))
                if fp.accounts < min_accounts or fp.purity < min_purity:
                    fp = Fingerprint(camp, kind, int(n_fresh), int(m_fresh), fresh_only=True)
                    if fresh_days <= 0 or fp.accounts < min_accounts or fp.purity < min_purity:
                        continue
                out[(col, str(value))] = fp
        return out
    finally:
        con.close()


class CampaignFingerprints:
    """``campaign_fingerprint`` evidence for requests that carry a campaign's own value."""

    kind = "campaign_fingerprint"

    def __init__(
        self, index: dict[tuple[str, str], Fingerprint] | None = None, *, fresh_days: float = 0.0
    ) -> None:
        self.index: dict[tuple[str, str], Fingerprint] = dict(index or {})
        #: how young an account must be for ``fresh_only`` fingerprints to speak
        self.fresh_s = fresh_days * 86400.0

    def replace(self, index: dict[tuple[str, str], Fingerprint]) -> None:
        """Swap in a new index (after the verdicts reload)."""
        self.index = dict(index)

    def __len__(self) -> int:
        return len(self.index)

    def lookup(self, context: RequestContext, account: AccountRecord | None) -> list[Evidence]:
        """One piece of evidence per matching value (system prompt first)."""
        sig = context.signals
        if not sig or not self.index:
            return []
        fresh = (
            account is not None
            and account.created_at is not None
            and context.ts - account.created_at < self.fresh_s
        )
        out: list[Evidence] = []
        keys = [("system_hash", sig.get("system_hash")), ("client_fp", sig.get("client_fp"))]
        if is_template_indicator(sig):
            keys.append(("template_id", sig.get("template_id")))
        for col, value in keys:
            if not value:
                continue
            fp = self.index.get((col, str(value)))
            if fp is not None and (fresh or not fp.fresh_only):
                out.append(self._evidence(str(value), fp))
        return out

    def _evidence(self, value: str, fp: Fingerprint) -> Evidence:
        return Evidence(
            self.kind,
            value,
            campaign_id=fp.campaign_id,
            detail=f"batch: {fp.kind} of {fp.campaign_id}: {fp.flagged}/{fp.accounts} "
            f"{'fresh ' if fp.fresh_only else ''}accounts flagged",
        )
