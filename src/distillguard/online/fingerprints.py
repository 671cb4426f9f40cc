"""A scanned campaign's own request fingerprints, as online evidence from the first request.

``scan`` lists in ``campaigns.json`` the values a campaign's accounts share: system
prompts (``system_prompt``: the exact hash) and prompt templates (``template``). When a
campaign comes back with fresh accounts, on new addresses and an ordinary SDK, these
are often all that gives it away before its behaviour can be measured (the online
rules need ten exchanges). But the values are only indicators when they are the
campaign's own: a coding agent's stock system prompt is shared by the campaign and by
every developer who runs the same agent. :func:`fingerprint_index` therefore keeps a
value only when the scanned period shows it is *pure*: used by at least
``min_accounts`` accounts, at least ``min_purity`` of them flagged by the scan.

:class:`CampaignFingerprints` is an :class:`~distillguard.online.state.EvidenceSource`:
it answers ``campaign_fingerprint`` evidence for a request whose ``system_hash`` or
``template_id`` signal (the batch definitions, computed at request time) is such a
value. It keeps no per-account state and is rebuilt whenever the verdicts reload.
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
_SIGNAL_OF = {"system_prompt": "system_hash", "template": "template_id"}


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """One pure campaign value: whose it is and how pure the scanned period showed it."""

    campaign_id: str
    kind: str
    accounts: int
    flagged: int

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
) -> dict[tuple[str, str], Fingerprint]:
    """``(signal name, value) -> Fingerprint`` for the campaigns' pure values.

    Counts, per candidate value, the distinct accounts of the store's
    ``exchange_signals`` that sent it and how many of them the scan flagged (or put in a
    campaign); keeps those with ``accounts >= min_accounts`` and purity at least
    ``min_purity``. A value claimed by two campaigns goes to the one listing it first.
    A store without ``exchange_signals`` (never scanned) gives no fingerprints.
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
        out: dict[tuple[str, str], Fingerprint] = {}
        for kind in {k for k, _ in cand}:
            col = _SIGNAL_OF[kind]
            values = sorted(v for k, v in cand if k == kind)
            con.register("dg_fp_values", pa.table({"value": values}))
            rows = con.execute(
                f"""SELECT s.{col}, count(DISTINCT s.account_id),
                           count(DISTINCT s.account_id) FILTER (WHERE f.account_id IS NOT NULL)
                    FROM exchange_signals s
                    JOIN dg_fp_values v ON s.{col} = v.value
                    LEFT JOIN dg_fp_flagged f ON f.account_id = s.account_id
                    GROUP BY 1"""
            ).fetchall()
            con.unregister("dg_fp_values")
            for value, n, m in rows:
                fp = Fingerprint(cand[(kind, value)], kind, int(n), int(m))
                if fp.accounts >= min_accounts and fp.purity >= min_purity:
                    out[(col, str(value))] = fp
        return out
    finally:
        con.close()


class CampaignFingerprints:
    """``campaign_fingerprint`` evidence for requests that carry a campaign's own value."""

    kind = "campaign_fingerprint"

    def __init__(self, index: dict[tuple[str, str], Fingerprint] | None = None) -> None:
        self.index: dict[tuple[str, str], Fingerprint] = dict(index or {})

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
        out: list[Evidence] = []
        sys_hash = sig.get("system_hash")
        if sys_hash:
            fp = self.index.get(("system_hash", str(sys_hash)))
            if fp is not None:
                out.append(self._evidence(str(sys_hash), fp))
        tpl = sig.get("template_id")
        if tpl and is_template_indicator(sig):
            fp = self.index.get(("template_id", str(tpl)))
            if fp is not None:
                out.append(self._evidence(str(tpl), fp))
        return out

    def _evidence(self, value: str, fp: Fingerprint) -> Evidence:
        return Evidence(
            self.kind,
            value,
            campaign_id=fp.campaign_id,
            detail=f"{fp.kind} of {fp.campaign_id}: {fp.flagged}/{fp.accounts} accounts flagged",
        )
