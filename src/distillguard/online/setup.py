"""Build an :class:`Enforcer` from operator settings (CLI flags or environment).

Shared by ``distillguard serve``, ``distillguard replay`` and the in-process LiteLLM
guardrail, so all three read the same settings the same way:

* policy: ``DISTILLGUARD_POLICY``, a YAML policy file (default: the packaged one);
* state: ``DISTILLGUARD_STATE``, ``memory`` or ``redis://host:port/db``;
* verdicts: ``DISTILLGUARD_VERDICTS``, a scan output folder (verdicts.csv, campaigns.json);
* accounts: ``DISTILLGUARD_ACCOUNTS``, the account registry (accounts.jsonl);
* intel store: ``DISTILLGUARD_INTEL_STORE``, a scan's DuckDB store (banned accounts and
  known actors, for returning-actor evidence; with verdicts, also the purity of the
  campaigns' system prompts and templates: ``campaign_fingerprint`` evidence).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..contracts import Campaign, Verdict
from ..errors import ConfigError
from ..policy.load import load_policy
from ..policy.model import Policy
from .engine import (
    REQUEST_DETECTORS,
    BatchSignalFn,
    Enforcer,
    SignalFn,
    VerdictWatcher,
    default_batch_signals,
    default_signals,
    read_accounts,
)
from .fingerprints import CampaignFingerprints, fingerprint_index
from .memory import FeatureStateFactory, MemoryState, default_feature_state
from .state import EnforcementState, EvidenceSource

__all__ = ["EventCount", "build_enforcer", "build_state", "enforcer_from_env"]

log = logging.getLogger(__name__)


def _request_signals(detectors: tuple[str, ...] | None = REQUEST_DETECTORS) -> SignalFn | None:
    """Per-request signals (the batch definitions, one exchange): what ``decide`` sees."""
    try:
        return default_signals(detectors)
    except ImportError as exc:
        log.warning("per-exchange signals unavailable (%s); deciding without them", exc)
        return None


def _batch_signals() -> BatchSignalFn | None:
    try:
        return default_batch_signals()
    except ImportError as exc:
        log.warning("per-exchange signals unavailable (%s); observing without them", exc)
        return None


class EventCount:
    """Feature state used only when :mod:`distillguard.features` is not installed."""

    def __init__(self, events: int = 0) -> None:
        self.events = events

    def update(self, signals: dict[str, Any]) -> None:
        """Count one exchange."""
        self.events += 1

    def features(self) -> dict[str, float]:
        """No behavioural features, only the count."""
        return {"events": float(self.events)}

    def to_dict(self) -> dict[str, Any]:
        """Serialisable form."""
        return {"events": self.events}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EventCount:
        """Inverse of :meth:`to_dict`."""
        return cls(int(d.get("events", 0)))


def _feature_factory() -> FeatureStateFactory:
    try:
        default_feature_state()
    except ImportError as exc:
        log.warning("online features unavailable (%s); online rules will not fire", exc)
        return EventCount
    return default_feature_state


def _intel_source(path: str | Path) -> EvidenceSource:
    """Returning-actor evidence from a scan's store (banned accounts, known actors)."""
    from ..intel.evidence_source import IntelEvidenceSource
    from ..store import Store

    if not Path(path).exists():
        raise ConfigError(f"{path}: intel store not found (scan --store PATH)")
    store = Store(Path(path))
    try:
        return IntelEvidenceSource.from_store(store)
    finally:
        store.close()


def _fingerprint_hook(
    path: str | Path, policy: Policy, source: CampaignFingerprints
) -> Callable[[list[Verdict], list[Campaign]], None]:
    """Rebuild the campaign fingerprint index from the scan's store on each verdict load."""
    from ..store import Store

    spec = policy.fingerprints

    def hook(verdicts: list[Verdict], campaigns: list[Campaign]) -> None:
        if not spec.kinds:
            return
        store = Store(Path(path), read_only=True)
        try:
            source.replace(
                fingerprint_index(
                    campaigns,
                    verdicts,
                    store,
                    kinds=spec.kinds,
                    min_accounts=spec.min_accounts,
                    min_purity=spec.min_purity,
                    fresh_days=policy.new_accounts.max_age_days if spec.fresh_only else 0.0,
                )
            )
        finally:
            store.close()
        log.info("%d campaign fingerprints indexed", len(source))

    return hook


def build_state(
    url: str | None,
    *,
    window_s: int,
    evidence_sources: list[EvidenceSource] | None = None,
    feature_state: FeatureStateFactory | None = None,
) -> EnforcementState:
    """``memory`` (default) or a ``redis://`` URL -> a state backend."""
    fs = feature_state or _feature_factory()
    sources = evidence_sources or []
    if url in (None, "", "memory"):
        return MemoryState(window_s=window_s, feature_state=fs, evidence_sources=sources)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis_state import RedisState

        return RedisState(url, window_s=window_s, feature_state=fs, evidence_sources=sources)
    raise ConfigError(f"state must be 'memory' or a redis:// URL, not {url!r}")


def build_enforcer(
    *,
    policy: str | Path | None = None,
    state: str | None = None,
    verdicts: str | Path | None = None,
    accounts: str | Path | None = None,
    signals: bool = True,
    intel_store: str | Path | None = None,
    evidence_sources: list[EvidenceSource] | None = None,
    feature_state: FeatureStateFactory | None = None,
    **kw: Any,
) -> tuple[Enforcer, VerdictWatcher | None]:
    """An enforcer plus, when a verdict folder is given, its (already loaded) watcher."""
    pol = load_policy(policy)
    sources = list(evidence_sources or [])
    hooks = []
    if intel_store:
        sources.append(_intel_source(intel_store))
        if verdicts and pol.fingerprints.kinds:
            fps = CampaignFingerprints(fresh_days=pol.new_accounts.max_age_days)
            sources.append(fps)
            hooks.append(_fingerprint_hook(intel_store, pol, fps))
    backend = build_state(
        state,
        window_s=pol.throttle.window_s,
        evidence_sources=sources,
        feature_state=feature_state,
    )
    if accounts:
        backend.load_accounts(read_accounts(accounts))
    watcher = None
    if verdicts:
        folder = Path(verdicts)
        if not folder.is_dir():
            raise ConfigError(f"{folder}: verdict folder not found (scan --out DIR)")
        watcher = VerdictWatcher(backend, folder, on_load=hooks)
        watcher.reload()
    enforcer = Enforcer(
        backend,
        pol,
        signals=_request_signals() if signals else None,
        batch_signals=_batch_signals() if signals else None,
        observe_signals=_request_signals(None) if signals else None,
        **kw,
    )
    return enforcer, watcher


def enforcer_from_env() -> tuple[Enforcer, VerdictWatcher | None]:
    """:func:`build_enforcer` with the ``DISTILLGUARD_*`` environment settings."""
    env = os.environ.get
    return build_enforcer(
        policy=env("DISTILLGUARD_POLICY") or None,
        state=env("DISTILLGUARD_STATE") or None,
        verdicts=env("DISTILLGUARD_VERDICTS") or None,
        accounts=env("DISTILLGUARD_ACCOUNTS") or None,
        intel_store=env("DISTILLGUARD_INTEL_STORE") or None,
    )
