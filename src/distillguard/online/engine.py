"""The enforcer: signals, state and the pure decision wired together for one request.

:class:`Enforcer` is what the service, the gateway adapters and ``replay`` call:

* :meth:`Enforcer.decide`: computes the request's per-exchange signals (the batch
  definitions from :mod:`distillguard.signals`), reads the account's state snapshot,
  calls the pure :func:`~distillguard.online.decide.decide`, then records the request
  (windows, sticky enforcement, challenges, indicators learnt from enforced accounts).
* :meth:`Enforcer.observe`: after the response, merges the exchange's signals into the
  account's online features (:class:`distillguard.features.OnlineAccountState`).

A state backend that cannot be reached gives the policy's fail mode, never an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from ..contracts import Campaign, Verdict, read_campaigns, read_verdicts
from ..errors import InputError
from ..policy.model import Policy, action_rank
from .context import RequestContext
from .decide import Decision, decide
from .state import (
    ANCHOR_EVIDENCE,
    AccountRecord,
    EnforcementState,
    StateUnavailable,
    StateView,
)

__all__ = [
    "REQUEST_DETECTORS",
    "BatchSignalFn",
    "Enforcer",
    "SignalFn",
    "VerdictWatcher",
    "default_batch_signals",
    "default_signals",
    "read_accounts",
]

log = logging.getLogger(__name__)

#: Native exchange record -> per-exchange signals.
SignalFn = Callable[[dict[str, Any]], dict[str, Any]]


#: Native exchange records -> their per-exchange signals, in order (one Arrow batch).
BatchSignalFn = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


#: Detectors whose signals a decision reads before the response exists: the request's
#: identity (template, system prompt and request-shape fingerprints). Network and client
#: enrichment always run. The content detectors (capability, elicitation) feed the
#: online features, so they run at ``observe``, over the batch of served exchanges.
REQUEST_DETECTORS = ("template", "shape")


def default_signals(detectors: tuple[str, ...] | None = REQUEST_DETECTORS) -> SignalFn:
    """The batch signal definitions applied to one native record.

    Gives the values of :func:`distillguard.signals.signals_for_exchange`, the
    single-exchange path that shares the batch rules, masks and hashes (tested equal to
    the batch output), so a request is decided on its address, client, template and
    shape signals without building a one-row Arrow batch; what repeats from request to
    request (client fingerprints, request shapes) is cached
    (:class:`~distillguard.online.request_signals.RequestSignals`). ``detectors`` limits
    the registry to those detectors (default :data:`REQUEST_DETECTORS`, what ``decide``
    and the evidence sources read); ``None`` runs them all. Each signal computed has
    the batch value.
    """
    from ..signals import SignalContext
    from ..signals.registry import Registry
    from .request_signals import RequestSignals

    sctx = SignalContext.default()
    if detectors is not None:
        sctx.registry = Registry([d for d in sctx.registry if d.name in detectors])
    return RequestSignals(sctx)


def default_batch_signals() -> BatchSignalFn:
    """The batch signal definitions (``distillguard.signals``) over many native records."""
    import pyarrow as pa

    from ..ingest import normalize_native
    from ..schema import EXCHANGE_SCHEMA
    from ..signals import SignalContext, compute_signals

    sctx = SignalContext.default()
    names = EXCHANGE_SCHEMA.names

    def fn(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not records:
            return []
        rows = []
        for rec in records:
            row = normalize_native(rec)
            rows.append({n: row.get(n) for n in names})
        batch = pa.RecordBatch.from_pylist(rows, schema=EXCHANGE_SCHEMA)
        return list(compute_signals(batch, sctx).to_pylist())

    return fn


class Enforcer:
    """Decide and observe requests against one state backend and one policy."""

    def __init__(
        self,
        state: EnforcementState,
        policy: Policy,
        *,
        signals: SignalFn | None = None,
        batch_signals: BatchSignalFn | None = None,
        observe_signals: SignalFn | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.policy = policy
        self.signals = signals
        self.batch_signals = batch_signals
        #: all signals of one served exchange (the online features need the content
        #: detectors that request-time ``signals`` may leave out); ``signals`` if None
        self.observe_signals = observe_signals
        self.clock = clock
        self.state_errors = 0
        self._learn_rank = action_rank(policy.learn_indicators_from)

    def annotate(
        self, context: RequestContext, response: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Compute (once) and attach the request's per-exchange signals."""
        if context.signals is None:
            context.signals = (
                self.signals(context.to_native(response)) if self.signals is not None else {}
            )
        return context.signals

    def snapshot(self, context: RequestContext, now: float) -> StateView:
        """The state view, or an ``unavailable`` view when the backend is down."""
        try:
            return self.state.view(context, now)
        except StateUnavailable:
            self.state_errors += 1
            return StateView(account_id=context.account_id, now=now, unavailable=True)

    def decide(self, context: RequestContext, *, now: float | None = None) -> Decision:
        """Decide one request and record it in the state."""
        t = context.ts if now is None else now
        self.annotate(context)
        view = self.snapshot(context, t)
        decision = decide(context, view, self.policy)
        if view.unavailable:
            return decision
        learn = action_rank(decision.action) >= self._learn_rank and any(
            r in ANCHOR_EVIDENCE or r.startswith("verdict") for r in decision.reasons
        )
        try:
            self.state.record_decision(
                context,
                decision.action,
                decision.reasons,
                t,
                ttl_s=decision.ttl_s,
                learn=learn,
                campaign_id=decision.campaign_id or f"online:{context.account_id}",
                indicator_ttl_s=self.policy.ttl.indicator_s,
            )
        except StateUnavailable:
            self.state_errors += 1
        return decision

    def observe(
        self,
        context: RequestContext,
        response: Mapping[str, Any] | None = None,
        *,
        now: float | None = None,
    ) -> dict[str, Any]:
        """Merge a completed exchange into the account's online features."""
        t = context.ts if now is None else now
        if response is not None or context.signals is None:
            fn = self.observe_signals or self.signals
            context.signals = fn(context.to_native(response)) if fn is not None else {}
        sig = context.signals or {}
        try:
            self.state.observe(context, sig, t)
        except StateUnavailable:
            self.state_errors += 1
        return sig

    def observe_many(self, items: Sequence[tuple[RequestContext, Mapping[str, Any] | None]]) -> int:
        """Observe many exchanges; their signals are computed as one Arrow batch."""
        todo = [(c, r) for c, r in items]
        if self.batch_signals is not None:
            sigs = self.batch_signals([c.to_native(r) for c, r in todo])
            for (ctx, _), sig in zip(todo, sigs, strict=True):
                ctx.signals = sig
        for ctx, resp in todo:
            self.observe(ctx, None if self.batch_signals is not None else resp)
        return len(todo)


def read_accounts(path: str | Path) -> list[AccountRecord]:
    """Read ``accounts.jsonl`` (the account registry); bad lines name file and line."""
    out: list[AccountRecord] = []
    p = Path(path)
    with p.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                d = orjson.loads(raw)
                out.append(AccountRecord.from_dict(d))
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                raise InputError(
                    "bad_account", str(exc), file=str(p), line=lineno, field="account_id"
                ) from exc
    return out


class VerdictWatcher:
    """Loads ``verdicts.csv`` / ``campaigns.json`` from a scan folder, again when they change."""

    def __init__(
        self,
        state: EnforcementState,
        folder: str | Path,
        on_load: Sequence[Callable[[list[Verdict], list[Campaign]], None]] = (),
    ) -> None:
        self.state = state
        self.folder = Path(folder)
        #: called with each load's verdicts and campaigns (indexes built from them)
        self.on_load = list(on_load)
        self._stamp: tuple[float, float] | None = None
        self.loaded = 0
        self.loads = 0

    def _mtimes(self) -> tuple[float, float]:
        def mt(name: str) -> float:
            try:
                return (self.folder / name).stat().st_mtime
            except OSError:
                return 0.0

        return mt("verdicts.csv"), mt("campaigns.json")

    def reload(self) -> int:
        """Load now; returns the number of verdicts."""
        stamp = self._mtimes()
        verdicts = read_verdicts(self.folder / "verdicts.csv") if stamp[0] else []
        campaigns = read_campaigns(self.folder / "campaigns.json") if stamp[1] else []
        self.loaded = self.state.load_verdicts(verdicts, campaigns, time.time())
        for hook in self.on_load:
            hook(verdicts, campaigns)
        self._stamp = stamp
        self.loads += 1
        log.info(
            "loaded %d verdicts, %d campaigns from %s", self.loaded, len(campaigns), self.folder
        )
        return self.loaded

    def maybe_reload(self) -> bool:
        """Reload when a file changed since the last load; True when it did."""
        if self._mtimes() != self._stamp:
            self.reload()
            return True
        return False
