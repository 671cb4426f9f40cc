"""Baseline (a): per-account rate limits as API gateways apply them.

A gateway (LiteLLM virtual keys, Kong / Envoy rate-limit plugins, a provider's usage
tiers) gives each key or account a budget of requests per minute (RPM), tokens per
minute (TPM) and tokens per day (TPD); traffic above a budget is throttled. As a detector,
"flagged" means the account exceeded at least one budget at least once.

Two settings are scored:

* **user limits** (:data:`USER_LIMITS`): budgets an operator would pick without looking at
  the attack, in the range of public entry usage tiers: 60 RPM (one request a second),
  100,000 tokens a minute (input + output) and 5,000,000 tokens a day.
* **oracle limits** (:func:`oracle_limits`): the RPM / TPM / TPD combination that scores
  the best account F1 against the truth, grid-searched over per-account peaks. No operator
  can pick these (they need the answer); they bound what rate limits can do at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ...contracts import TruthRow
from ..detector import DetectorOutput
from .features import account_peaks

__all__ = ["USER_LIMITS", "RateLimits", "oracle_limits", "over_limits", "run_ratelimit"]


@dataclass(frozen=True)
class RateLimits:
    """Per-account budgets; ``inf`` switches a budget off."""

    rpm: float
    tpm: float
    tpd: float


#: Budgets a user would choose (see the module docstring).
USER_LIMITS = RateLimits(rpm=60, tpm=100_000, tpd=5_000_000)


def over_limits(peaks: Mapping[str, np.ndarray], limits: RateLimits) -> np.ndarray:
    """Boolean mask: which accounts (aligned with ``peaks``) exceeded any budget."""
    return (peaks["rpm"] > limits.rpm) | (peaks["tpm"] > limits.tpm) | (peaks["tpd"] > limits.tpd)


def _candidates(values: np.ndarray, n: int) -> np.ndarray:
    # observed peaks at quantiles from the median up (a budget of v flags peaks above v),
    # and "no budget"
    qs = np.quantile(values, np.linspace(0.0, 1.0, n) ** 0.5 * 0.5 + 0.5, method="lower")
    return np.concatenate([np.unique(qs), [np.inf]]) if len(values) else np.array([np.inf])


def _popcount(bits: np.ndarray) -> np.ndarray:
    return np.unpackbits(bits, axis=-1).sum(axis=-1)


def oracle_limits(
    peaks: Mapping[str, np.ndarray], truth: Mapping[str, TruthRow], grid: int = 24
) -> tuple[RateLimits, float]:
    """The budgets with the best account F1 with hindsight; returns (limits, F1).

    Candidates per budget are ``grid`` quantiles of the accounts' peaks (from the median
    up) plus "off"; every combination is scored with packed bitsets.
    """
    ids = peaks["account_id"]
    y = np.array([bool(truth[a].is_attack) if a in truth else False for a in ids])
    n_attack = int(y.sum())
    if n_attack == 0 or len(ids) == 0:
        return RateLimits(np.inf, np.inf, np.inf), 0.0
    cands = {k: _candidates(peaks[k], grid) for k in ("rpm", "tpm", "tpd")}
    over = {k: np.packbits(peaks[k][None, :] > cands[k][:, None], axis=1) for k in cands}
    ypk = np.packbits(y)
    best = (-1.0, RateLimits(np.inf, np.inf, np.inf))
    for i, r in enumerate(cands["rpm"]):
        rt = over["rpm"][i][None, :] | over["tpm"]  # (n_tpm, bytes)
        for j, d in enumerate(cands["tpd"]):
            flag = rt | over["tpd"][j][None, :]
            flagged = _popcount(flag)
            tp = _popcount(flag & ypk)
            f1 = np.where(flagged + n_attack > 0, 2 * tp / (flagged + n_attack), 0.0)
            k = int(np.argmax(f1))
            if f1[k] > best[0]:
                best = (float(f1[k]), RateLimits(float(r), float(cands["tpm"][k]), float(d)))
    return best[1], best[0]


def _fmt(limits: RateLimits) -> str:
    def one(v: float, unit: str) -> str:
        return f"{unit} off" if not np.isfinite(v) else f"{unit} {v:,.0f}"

    return ", ".join([one(limits.rpm, "RPM"), one(limits.tpm, "TPM"), one(limits.tpd, "TPD")])


def run_ratelimit(
    facts: pa.Table, truth: Mapping[str, TruthRow], limits: RateLimits = USER_LIMITS
) -> list[DetectorOutput]:
    """Score both settings on the exchange facts; returns [user limits, oracle limits]."""
    peaks = account_peaks(facts)
    ids = peaks["account_id"]
    user = set(ids[over_limits(peaks, limits)].tolist())
    # how far over its tightest budget each account went (1.0 = exactly at a budget)
    load = np.maximum.reduce(
        [peaks["rpm"] / limits.rpm, peaks["tpm"] / limits.tpm, peaks["tpd"] / limits.tpd]
    )
    scores = dict(zip(ids.tolist(), load.tolist(), strict=True))
    oracle, f1 = oracle_limits(peaks, truth)
    best = set(ids[over_limits(peaks, oracle)].tolist())
    return [
        DetectorOutput(
            name="rate limits (user)",
            flagged=user,
            notes=[f"flag = exceeded any budget once: {_fmt(limits)} (input+output tokens)"],
            params={"rpm": limits.rpm, "tpm": limits.tpm, "tpd": limits.tpd},
            scores=scores,
        ),
        DetectorOutput(
            name="rate limits (oracle)",
            flagged=best,
            kind="oracle",
            notes=[f"ORACLE: budgets grid-searched against the truth for best F1: {_fmt(oracle)}"],
            params={"rpm": oracle.rpm, "tpm": oracle.tpm, "tpd": oracle.tpd, "f1": f1},
        ),
    ]
