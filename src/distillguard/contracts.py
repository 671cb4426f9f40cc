"""The output contracts other tools read: verdicts, campaigns, ground truth, decisions.

These models are the single definition of what ``scan`` writes (``verdicts.csv``,
``campaigns.json``), what ``simulate`` writes as ground truth (``truth.csv``,
``campaigns_truth.json``) and what ``replay`` writes (``decisions.csv``). Writers and
readers in every module go through the helpers here, so a field cannot drift between
the writer and ``evaluate``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "ACTIONS",
    "Action",
    "AttributedActor",
    "Campaign",
    "CampaignTruth",
    "Decision",
    "InfrastructureIndicators",
    "TruthRow",
    "Verdict",
    "read_campaigns",
    "read_decisions",
    "read_truth",
    "read_verdicts",
    "write_campaigns",
    "write_decisions",
    "write_truth",
    "write_verdicts",
]

Action = Literal["allow", "monitor", "throttle", "verify", "degrade", "block"]
#: Actions from mildest to strongest.
ACTIONS: tuple[Action, ...] = ("allow", "monitor", "throttle", "verify", "degrade", "block")


class Verdict(BaseModel):
    """One row of ``verdicts.csv``: the scan's judgement of one account."""

    account_id: str
    risk: float = Field(ge=0.0, le=1.0, description="0-1, higher is worse")
    flagged: bool
    campaign_id: str = Field(default="", description="empty when none")
    action: Action = "allow"
    reasons: list[str] = Field(
        default_factory=list, description="short codes, ';'-separated in CSV"
    )


class InfrastructureIndicators(BaseModel):
    """What a campaign ran on."""

    ip_ranges: list[str] = Field(default_factory=list, description="CIDRs, most used first")
    asns: list[int] = Field(default_factory=list)
    asn_orgs: list[str] = Field(default_factory=list)
    hosting_share: float | None = Field(
        default=None, description="share of exchanges from hosting/VPN/proxy/Tor"
    )
    access_paths: dict[str, float] = Field(
        default_factory=dict, description="share per access path"
    )
    client_fingerprints: list[str] = Field(default_factory=list)
    payment_fingerprints: list[str] = Field(default_factory=list)


class AttributedActor(BaseModel):
    """The known actor a campaign was matched to."""

    actor: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list)


class Campaign(BaseModel):
    """One object of ``campaigns.json``."""

    id: str
    members: list[str]
    first_seen: datetime
    last_seen: datetime
    exchanges: int
    output_tokens: int
    capability_profile: dict[str, float] = Field(
        default_factory=dict, description="share per capability"
    )
    infrastructure: InfrastructureIndicators = Field(default_factory=InfrastructureIndicators)
    evidence: list[dict[str, object]] = Field(
        default_factory=list,
        description="linking evidence: {kind, value, accounts, weight}",
    )
    attributed_actor: AttributedActor | None = None
    risk: float | None = None
    extra: dict[str, object] = Field(
        default_factory=dict, description="stage-specific details (timeline, pivots)"
    )


class TruthRow(BaseModel):
    """One row of the simulator's ``truth.csv``."""

    account_id: str
    group: str = Field(description="population or campaign archetype, e.g. 'eval_lab', 'hydra'")
    actor: str = Field(default="", description="campaign actor name; empty for benign accounts")
    is_attack: bool


class CampaignTruth(BaseModel):
    """One object of the simulator's ``campaigns_truth.json``."""

    campaign_id: str
    actor: str
    archetype: str
    members: list[str]
    knobs: dict[str, object] = Field(default_factory=dict)


class Decision(BaseModel):
    """One row of ``decisions.csv`` written by ``replay``."""

    exchange_id: str
    account_id: str
    timestamp: datetime
    action: Action
    risk: float
    reasons: list[str] = Field(default_factory=list)


# ----------------------------------------------------------------------------- io
def _write_csv(path: Path, header: list[str], rows: Iterable[list[str]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow(row)
            n += 1
    tmp.replace(path)  # atomic: a crash never leaves half a file under the real name
    return n


def _read_csv(path: Path) -> Iterator[dict[str, str]]:
    with Path(path).open(newline="", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def _bool(s: str) -> bool:
    return s.strip().lower() in ("true", "1", "yes")


def write_verdicts(path: Path, verdicts: Iterable[Verdict]) -> int:
    """Write ``verdicts.csv`` atomically; returns the number of rows."""
    return _write_csv(
        Path(path),
        ["account_id", "risk", "flagged", "campaign_id", "action", "reasons"],
        (
            [
                v.account_id,
                f"{v.risk:.4f}",
                "true" if v.flagged else "false",
                v.campaign_id,
                v.action,
                ";".join(v.reasons),
            ]
            for v in verdicts
        ),
    )


def read_verdicts(path: Path) -> list[Verdict]:
    """Read ``verdicts.csv``."""
    return [
        Verdict(
            account_id=r["account_id"],
            risk=float(r["risk"]),
            flagged=_bool(r["flagged"]),
            campaign_id=r.get("campaign_id") or "",
            action=r.get("action") or "allow",  # type: ignore[arg-type]
            reasons=[c for c in (r.get("reasons") or "").split(";") if c],
        )
        for r in _read_csv(path)
    ]


def write_truth(path: Path, rows: Iterable[TruthRow]) -> int:
    """Write the simulator's ``truth.csv``."""
    return _write_csv(
        Path(path),
        ["account_id", "group", "actor", "is_attack"],
        ([r.account_id, r.group, r.actor, "true" if r.is_attack else "false"] for r in rows),
    )


def read_truth(path: Path) -> list[TruthRow]:
    """Read ``truth.csv``."""
    return [
        TruthRow(
            account_id=r["account_id"],
            group=r["group"],
            actor=r.get("actor") or "",
            is_attack=_bool(r["is_attack"]),
        )
        for r in _read_csv(path)
    ]


def write_campaigns(path: Path, campaigns: Iterable[Campaign]) -> int:
    """Write ``campaigns.json`` (a JSON array) atomically."""
    items = [c.model_dump(mode="json") for c in campaigns]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(items, indent=2), encoding="utf-8")
    tmp.replace(path)
    return len(items)


def read_campaigns(path: Path) -> list[Campaign]:
    """Read ``campaigns.json``."""
    return [Campaign.model_validate(o) for o in json.loads(Path(path).read_text(encoding="utf-8"))]


def write_decisions(path: Path, decisions: Iterable[Decision]) -> int:
    """Write ``decisions.csv`` atomically."""
    return _write_csv(
        Path(path),
        ["exchange_id", "account_id", "timestamp", "action", "risk", "reasons"],
        (
            [
                d.exchange_id,
                d.account_id,
                d.timestamp.isoformat(),
                d.action,
                f"{d.risk:.4f}",
                ";".join(d.reasons),
            ]
            for d in decisions
        ),
    )


def read_decisions(path: Path) -> Iterator[Decision]:
    """Stream ``decisions.csv`` (it has one row per exchange and can be large)."""
    for r in _read_csv(path):
        yield Decision(
            exchange_id=r["exchange_id"],
            account_id=r["account_id"],
            timestamp=datetime.fromisoformat(r["timestamp"]),
            action=r["action"],  # type: ignore[arg-type]
            risk=float(r["risk"]),
            reasons=[c for c in (r.get("reasons") or "").split(";") if c],
        )
