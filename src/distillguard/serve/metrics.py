"""Prometheus metrics of the decision service (one registry per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from ..contracts import ACTIONS
from ..online.decide import Decision

__all__ = ["ServiceMetrics"]


class ServiceMetrics:
    """Counters and a latency histogram, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.decisions = Counter(
            "distillguard_decisions", "Decisions by action", ["action"], registry=registry
        )
        self.alerts = Counter(
            "distillguard_alerts", "Decisions that raised an alert", registry=registry
        )
        self.latency = Histogram(
            "distillguard_decide_seconds",
            "Time to decide one request (signals, state read, decide, state write)",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1),
            registry=registry,
        )
        self.state_errors = Counter(
            "distillguard_state_errors", "State backend calls that failed", registry=registry
        )
        self.observed = Counter(
            "distillguard_observed", "Exchanges observed after serving", registry=registry
        )
        self.observe_errors = Counter(
            "distillguard_observe_errors", "Observe batches that failed", registry=registry
        )
        self.reloads = Counter("distillguard_verdict_reloads", "Verdict loads", registry=registry)
        self.reload_errors = Counter(
            "distillguard_verdict_reload_errors", "Verdict loads that failed", registry=registry
        )
        # one child per action, bound once: the hot path does no label lookup
        self._by_action = {a: self.decisions.labels(a) for a in ACTIONS}

    def observe_decision(self, decision: Decision, seconds: float) -> None:
        """Count one decision and its latency."""
        child = self._by_action.get(decision.action)
        (child if child is not None else self.decisions.labels(decision.action)).inc()
        if decision.alert:
            self.alerts.inc()
        self.latency.observe(seconds)
