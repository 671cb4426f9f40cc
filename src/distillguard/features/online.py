"""Online per-account state: the batch features as mergeable aggregates.

``OnlineAccountState.update(sig)`` folds in one exchange's signals (a row of
``exchange_signals`` / the dict :func:`distillguard.signals.signals_for_exchange`
returns); ``merge`` combines two states (gateway replicas, time partitions);
``to_dict`` / ``from_dict`` serialise for Redis; ``features()`` gives the batch
feature names (:data:`FEATURE_COLUMNS`) wherever they can be kept online.

Exact where cheap: counts, sums, histograms (UTC time in 15-minute bins, so local-time
shares match the batch for every offset in the table), Welford moments of inter-arrival
gaps (events are expected in time order; merging two states adds the gap between them).
Distinct counts use exact counters capped at :data:`MAX_KEYS` keys per counter; past
the cap new keys are counted in ``overflow`` and distinct-based features become lower
bounds. ``new_model_share_72h`` needs the whole log and stays null online.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..schema import VERIFICATION_LEVELS
from .batch import CAPABILITY_LABELS, FEATURE_COLUMNS
from .timezones import COUNTRY_UTC_OFFSET

__all__ = ["MAX_KEYS", "STATE_VERSION", "OnlineAccountState"]

#: Most keys kept per distinct-value counter.
MAX_KEYS = 20_000

#: Version of the serialised form written by :meth:`OnlineAccountState.to_dict`.
STATE_VERSION = 1

_SUMS = (
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "out_tok_n",
    "single_turn",
    "tool",
    "length_stop",
    "errors",
    "n_choices",
    "thinking",
    "hosting",
    "anon",
    "elicits",
    "hidden",
    "judge",
    "elic_score",
    "templated",
    "prompts",
)
_COUNTERS = (
    "ips",
    "prefixes",
    "asns",
    "client_fps",
    "templates",
    "prompts",
    "shapes",
    "capabilities",
    "countries",
    "days_n",
    "days_tok",
    "families",
)


def _ms(ts: Any) -> int:
    if isinstance(ts, datetime):
        return int(ts.timestamp() * 1000)
    return int(ts)


def _entropy(counts: Sequence[float], base_n: int) -> float | None:
    total = sum(counts)
    if total <= 0:
        return None
    h = -sum((c / total) * math.log(c / total) for c in counts if c > 0)
    return h / math.log(base_n)


class OnlineAccountState:
    """Mergeable, serialisable per-account aggregates behind the account features."""

    def __init__(self, account_id: str | None = None) -> None:
        self.account_id = account_id
        self.n = 0
        self.min_ts: int | None = None
        self.max_ts: int | None = None
        self.sums: dict[str, float] = dict.fromkeys(_SUMS, 0.0)
        self.bins96 = [0] * 96
        self.gap_n = 0
        self.gap_mean = 0.0
        self.gap_m2 = 0.0
        self.gap_bins = [0] * 24
        self.counters: dict[str, Counter[str]] = {k: Counter() for k in _COUNTERS}
        self.overflow: Counter[str] = Counter()
        self.account: dict[str, Any] = {}

    # ---------------------------------------------------------------- updates
    def set_account(self, account: dict[str, Any]) -> None:
        """Attach registry facts (created_at, account_type, verification, billing_country)."""
        self.account = {
            k: account.get(k)
            for k in ("created_at", "account_type", "verification", "billing_country")
        }
        if self.account.get("created_at") is not None:
            self.account["created_at"] = _ms(self.account["created_at"])

    def _count(self, name: str, key: Any, by: float = 1) -> None:
        if key is None:
            return
        c = self.counters[name]
        k = str(key)
        if k in c or len(c) < MAX_KEYS:
            c[k] += by  # type: ignore[assignment]
        else:
            self.overflow[name] += 1

    def _add_gap(self, gap: float) -> None:
        self.gap_n += 1
        d = gap - self.gap_mean
        self.gap_mean += d / self.gap_n
        self.gap_m2 += d * (gap - self.gap_mean)
        self.gap_bins[min(23, math.floor(math.log2(gap + 1)))] += 1

    def update(self, sig: dict[str, Any]) -> None:
        """Fold in one exchange's signals (expected in time order)."""
        ts = _ms(sig["timestamp"])
        if self.max_ts is not None and ts >= self.max_ts:
            self._add_gap((ts - self.max_ts) / 1000.0)
        self.n += 1
        self.min_ts = ts if self.min_ts is None else min(self.min_ts, ts)
        self.max_ts = ts if self.max_ts is None else max(self.max_ts, ts)
        s = self.sums
        g = sig.get
        s["input_tokens"] += g("input_tokens") or 0
        out_tok = g("output_tokens")
        if out_tok is not None:
            s["output_tokens"] += out_tok
            s["out_tok_n"] += 1
        s["reasoning_tokens"] += g("reasoning_tokens") or 0
        s["single_turn"] += (g("n_user_turns") or 1) <= 1 and (g("n_assistant_turns") or 0) == 0
        s["tool"] += (g("n_tools") or 0) > 0
        s["length_stop"] += g("stop_kind") == "length"
        s["errors"] += (g("status") or 200) >= 400
        s["n_choices"] += g("n_choices") or 1
        s["thinking"] += (g("thinking_budget") or 0) > 0 or g("reasoning_effort") is not None
        s["hosting"] += bool(g("is_hosting"))
        s["anon"] += bool(g("is_vpn") or g("is_tor") or g("is_proxy"))
        s["elicits"] += bool(g("elicits_reasoning"))
        s["hidden"] += bool(g("hidden_reasoning"))
        s["judge"] += bool(g("judge_prompt"))
        s["elic_score"] += g("elicitation_score") or 0.0
        if g("prompt_hash") is not None:
            s["prompts"] += 1
            s["templated"] += bool(g("templated"))
        self.bins96[(ts // 900_000) % 96] += 1
        day = str(ts // 86_400_000)
        self._count("days_n", day)
        self._count("days_tok", day, g("output_tokens") or 0)
        self._count("ips", g("client_ip"))
        self._count("prefixes", g("ip_prefix"))
        asn = g("asn")
        self._count("asns", str(asn) if asn is not None else g("asn_org"))
        self._count("client_fps", g("client_fp"))
        self._count("templates", g("template_id"))
        self._count("prompts", g("prompt_hash"))
        self._count("shapes", g("shape_fp"))
        self._count("capabilities", g("capability"))
        self._count("countries", g("country"))
        fam = g("model_family")
        if fam is not None:
            prev = self.counters["families"].get(fam)
            if prev is None or ts < prev:
                self.counters["families"][fam] = ts

    def merge(self, other: OnlineAccountState) -> OnlineAccountState:
        """Fold ``other`` into this state (returns self)."""
        if other.n == 0:
            return self
        if self.n and other.min_ts is not None and self.max_ts is not None:
            if other.min_ts >= self.max_ts:
                other_gap = (other.min_ts - self.max_ts) / 1000.0
                self._add_gap(other_gap)
            elif self.min_ts is not None and self.min_ts >= other.max_ts:  # type: ignore[operator]
                self._add_gap((self.min_ts - other.max_ts) / 1000.0)  # type: ignore[operator]
        n = self.gap_n + other.gap_n
        if other.gap_n:
            d = other.gap_mean - self.gap_mean
            self.gap_m2 += other.gap_m2 + d * d * self.gap_n * other.gap_n / n
            self.gap_mean += d * other.gap_n / n
            self.gap_n = n
            self.gap_bins = [a + b for a, b in zip(self.gap_bins, other.gap_bins, strict=True)]
        self.n += other.n
        self.min_ts = min(x for x in (self.min_ts, other.min_ts) if x is not None)
        self.max_ts = max(x for x in (self.max_ts, other.max_ts) if x is not None)
        for k in _SUMS:
            self.sums[k] += other.sums[k]
        self.bins96 = [a + b for a, b in zip(self.bins96, other.bins96, strict=True)]
        for name, c in other.counters.items():
            if name == "families":
                for fam, ts in c.items():
                    prev = self.counters[name].get(fam)
                    self.counters[name][fam] = ts if prev is None else min(prev, ts)
                continue
            for key, v in c.items():
                self._count(name, key, v)
        self.overflow.update(other.overflow)
        if not self.account:
            self.account = dict(other.account)
        return self

    # ---------------------------------------------------------------- serialise
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot (versioned)."""
        return {
            "v": STATE_VERSION,
            "account_id": self.account_id,
            "n": self.n,
            "min_ts": self.min_ts,
            "max_ts": self.max_ts,
            "sums": self.sums,
            "bins96": self.bins96,
            "gap": [self.gap_n, self.gap_mean, self.gap_m2],
            "gap_bins": self.gap_bins,
            "counters": {k: dict(v) for k, v in self.counters.items()},
            "overflow": dict(self.overflow),
            "account": self.account,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OnlineAccountState:
        """Rebuild a state written by :meth:`to_dict`."""
        if d.get("v") != STATE_VERSION:
            raise ValueError(
                f"online account state version {d.get('v')!r}, expected {STATE_VERSION}"
            )
        st = cls(d.get("account_id"))
        st.n, st.min_ts, st.max_ts = d["n"], d["min_ts"], d["max_ts"]
        st.sums = {k: float(d["sums"].get(k, 0.0)) for k in _SUMS}
        st.bins96 = list(d["bins96"])
        st.gap_n, st.gap_mean, st.gap_m2 = d["gap"]
        st.gap_bins = list(d["gap_bins"])
        st.counters = {k: Counter(d["counters"].get(k, {})) for k in _COUNTERS}
        st.overflow = Counter(d.get("overflow", {}))
        st.account = dict(d.get("account", {}))
        return st

    # ---------------------------------------------------------------- features
    def features(self, release_times: dict[str, datetime] | None = None) -> dict[str, Any]:
        """The :data:`FEATURE_COLUMNS` this state can give (others are ``None``)."""
        f: dict[str, Any] = dict.fromkeys(FEATURE_COLUMNS)
        n = self.n
        if n == 0:
            return f
        s, c = self.sums, self.counters
        days = c["days_n"]
        f["n_exchanges"] = n
        f["active_days"] = len(days)
        f["span_days"] = (self.max_ts - self.min_ts) / 86_400_000  # type: ignore[operator]
        f["exchanges_per_active_day"] = n / len(days)
        f["peak_day_exchanges"] = max(days.values())
        f["peak_day_output_tokens"] = max(c["days_tok"].values())
        for k in ("input_tokens", "output_tokens", "reasoning_tokens"):
            f[k] = s[k]
        f["output_input_ratio"] = (
            s["output_tokens"] / s["input_tokens"] if s["input_tokens"] else None
        )
        f["mean_output_tokens"] = s["output_tokens"] / s["out_tok_n"] if s["out_tok_n"] else None
        for feat, key in (
            ("single_turn_share", "single_turn"),
            ("tool_share", "tool"),
            ("length_stop_share", "length_stop"),
            ("error_share", "errors"),
            ("mean_n_choices", "n_choices"),
            ("thinking_share", "thinking"),
            ("hosting_share", "hosting"),
            ("anon_share", "anon"),
            ("elicitation_share", "elicits"),
            ("hidden_reasoning_share", "hidden"),
            ("judge_share", "judge"),
            ("mean_elicitation_score", "elic_score"),
        ):
            f[feat] = s[key] / n
        hours = [sum(self.bins96[h * 4 : h * 4 + 4]) for h in range(24)]
        f["hour_entropy"] = _entropy(hours, 24)
        off = COUNTRY_UTC_OFFSET.get(self.account.get("billing_country") or "")
        if off is not None:
            shift = round(off * 4)
            local = [
                sum(self.bins96[(b - shift) % 96] for b in range(h * 4, h * 4 + 4))
                for h in range(24)
            ]
            f["local_night_share"] = sum(local[0:6]) / n
            f["local_work_share"] = sum(local[9:18]) / n
        if self.gap_n:
            f["iat_mean_s"] = self.gap_mean
            sd = math.sqrt(max(self.gap_m2 / self.gap_n, 0.0))
            f["iat_cv"] = sd / self.gap_mean if self.gap_mean else None
            f["iat_entropy"] = _entropy([float(x) for x in self.gap_bins], 24)
        f["distinct_ips"] = len(c["ips"])
        f["distinct_prefixes"] = len(c["prefixes"])
        f["distinct_asns"] = len(c["asns"])
        f["ip_churn"] = len(c["ips"]) / n
        billing = self.account.get("billing_country")
        if billing and c["countries"]:
            tot = sum(c["countries"].values())
            f["country_mismatch_share"] = (tot - c["countries"].get(billing, 0)) / tot
        f["distinct_client_fps"] = len(c["client_fps"])
        caps = c["capabilities"]
        labelled = sum(caps.values())
        if labelled:
            for lab in CAPABILITY_LABELS:
                f[f"cap_share_{lab}"] = caps.get(lab, 0) / labelled
            f["capability_entropy"] = _entropy([float(v) for v in caps.values()], 8)
            f["capability_top_share"] = max(caps.values()) / labelled
        f["distinct_templates"] = len(c["templates"])
        if c["templates"]:
            f["template_top_share"] = max(c["templates"].values()) / sum(c["templates"].values())
        if s["prompts"]:
            f["templated_share"] = s["templated"] / s["prompts"]
        prompts = c["prompts"]
        if prompts:
            tot = sum(prompts.values())
            f["distinct_prompt_share"] = len(prompts) / tot
            f["prompt_once_share"] = sum(1 for v in prompts.values() if v == 1) / tot
        if c["shapes"]:
            f["shape_top_share"] = max(c["shapes"].values()) / n
        if release_times:
            import pyarrow as pa

            from ..signals.shape import model_family

            fams = model_family(pa.array(list(release_times), pa.string())).to_pylist()
            lags = [
                (c["families"][fam] - _ms(t)) / 3_600_000
                for fam, t in zip(fams, release_times.values(), strict=True)
                if fam in c["families"]
            ]
            f["release_lag_hours"] = min(lags) if lags else None
        created = self.account.get("created_at")
        if created is not None:
            f["account_age_days"] = (self.min_ts - created) / 86_400_000
        ver = self.account.get("verification")
        if ver in VERIFICATION_LEVELS:
            f["verification_level"] = VERIFICATION_LEVELS.index(ver)
        return f
