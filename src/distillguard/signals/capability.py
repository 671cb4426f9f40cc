"""Capability targeted by an exchange: rules over the prompt plus structural cues.

Each capability of :data:`CAPABILITIES` gets a raw score: the weights of its text
rules that fire (:data:`CAPABILITY_RULES`) plus structural cues that survive prompt
redaction (tools declared, tool results sent back, code fences). Scores are squashed to
``1 - exp(-raw)`` in [0, 1); the top label needs a raw score of at least
:data:`MIN_RAW`, else it is ``general`` (text present, nothing specific) or null (no
text and no structure to go on).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from ..errors import ConfigError
from .capability_rules import CAPABILITY_RULES
from .registry import ExchangeView, RowText, Rule, join_cues, match_rules, match_rules_one

__all__ = [
    "MIN_RAW",
    "TOOLS_WEIGHT",
    "TOOL_RESULTS_WEIGHT",
    "CapabilityDetector",
    "load_capability_rules",
]

#: Raw score a capability needs to become the exchange's label.
MIN_RAW = 1.0

#: Structural weights of tool use: declaring tools, and sending tool results back, make
#: the exchange one that exercises tool use whatever the topic.
TOOLS_WEIGHT = 3.0
TOOL_RESULTS_WEIGHT = 2.0


def load_capability_rules(path: str | Path) -> dict[str, tuple[Rule, ...]]:
    """Read a YAML rule table ``{capability: [{id, pattern, weight, field}]}``."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: cannot read capability rules: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{p}: expected a mapping of capability -> rules")
    out: dict[str, tuple[Rule, ...]] = {}
    for cap, rules in doc.items():
        if not isinstance(rules, list):
            raise ConfigError(f"{p}: [{cap}] expected a list of rules")
        parsed = []
        for i, r in enumerate(rules):
            try:
                parsed.append(
                    Rule(
                        str(r["id"]),
                        str(r["pattern"]),
                        float(r.get("weight", 1.0)),
                        str(r.get("field", "prompt")),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"{p}: [{cap}][{i}] bad rule: {exc}") from exc
        out[str(cap)] = tuple(parsed)
    return out


class CapabilityDetector:
    """Scores every capability; writes the top label, one score per capability, cues."""

    name = "capability"

    def __init__(self, rules: Mapping[str, Sequence[Rule]] | None = None) -> None:
        self.rules = {k: tuple(v) for k, v in (rules or CAPABILITY_RULES).items()}
        self.capabilities = tuple(self.rules)
        self._flat = [
            Rule(f"{cap}.{r.id}", r.pattern, r.weight, r.field)
            for cap, rs in self.rules.items()
            for r in rs
        ]
        self.fields: dict[str, tuple[pa.DataType, str]] = {
            "capability": (
                pa.string(),
                "Top capability targeted (one of "
                + ", ".join(self.capabilities)
                + "), `general` when text matched none, null when nothing to go on.",
            ),
            "capability_basis": (
                pa.string(),
                "`text` when prompt text was read, `structure` when redacted.",
            ),
            **{
                f"cap_{c}": (pa.float32(), f"Score in [0,1) that the exchange targets {c}.")
                for c in self.capabilities
            },
            "capability_cues": (pa.string(), "`;`-joined ids of the capability rules that fired."),
        }

    @property
    def rules_used(self) -> list[Rule]:
        """Every text rule this detector evaluates (the registry prefetches them)."""
        return list(self._flat)

    def analyze(self, view: ExchangeView) -> dict[str, pa.Array]:
        """Score the batch."""
        n = view.num_rows
        hits = match_rules(view, self._flat)
        raw = {c: np.zeros(n) for c in self.capabilities}
        for rule in self._flat:
            cap = rule.id.split(".", 1)[0]
            raw[cap] += rule.weight * hits[rule.id]
        structural = self._structure(view, raw)
        scores = np.vstack([raw[c] for c in self.capabilities])  # (k, n)
        best = scores.argmax(axis=0)
        top = scores.max(axis=0)
        labels = np.array(self.capabilities, dtype=object)[best]
        has_text = view.has_prompt
        labels = np.where(
            top >= MIN_RAW, labels, np.where(has_text, "general", np.array(None, dtype=object))
        )
        out: dict[str, pa.Array] = {
            "capability": pa.array(labels, pa.string()),
            "capability_basis": pa.array(np.where(has_text, "text", "structure"), pa.string()),
        }
        for c in self.capabilities:
            out[f"cap_{c}"] = pa.array((1.0 - np.exp(-raw[c])).astype(np.float32))
        fired = {k: v for k, v in hits.items() if v.any()}
        fired.update({k: v for k, v in structural.items() if v.any()})
        out["capability_cues"] = join_cues(fired, n)
        return out

    def analyze_one(self, text: RowText) -> dict[str, Any]:
        """Score one exchange; same answer as :meth:`analyze` on a batch holding it."""
        row = text.row
        hits = match_rules_one(text, self._flat)
        raw = dict.fromkeys(self.capabilities, 0.0)
        for rule in self._flat:
            raw[rule.id.split(".", 1)[0]] += rule.weight * hits[rule.id]
        structural: dict[str, bool] = {}
        if "tool_agentic" in raw:
            tools = (row.get("n_tools") or 0) > 0
            results = bool(row.get("has_tool_results"))
            raw["tool_agentic"] += TOOLS_WEIGHT * tools + TOOL_RESULTS_WEIGHT * results
            structural = {
                "tool_agentic.tools_declared": tools,
                "tool_agentic.tool_results": results,
            }
        values = np.array([raw[c] for c in self.capabilities])
        best = int(values.argmax())
        has_text = text.prompt_raw is not None
        if values[best] >= MIN_RAW:
            label: str | None = self.capabilities[best]
        else:
            label = "general" if has_text else None
        scores = (1.0 - np.exp(-values)).astype(np.float32)
        out: dict[str, Any] = {
            "capability": label,
            "capability_basis": "text" if has_text else "structure",
        }
        for c, v in zip(self.capabilities, scores, strict=True):
            out[f"cap_{c}"] = float(v)
        fired = [k for k, v in {**hits, **structural}.items() if v]
        out["capability_cues"] = ";".join(fired)
        return out

    def _structure(self, view: ExchangeView, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Cues from the request's structure (they survive redaction)."""
        cues: dict[str, np.ndarray] = {}
        if "tool_agentic" in raw:
            tools = view.numeric("n_tools") > 0
            results = view.flag("has_tool_results")
            raw["tool_agentic"] += TOOLS_WEIGHT * tools + TOOL_RESULTS_WEIGHT * results
            cues["tool_agentic.tools_declared"] = tools
            cues["tool_agentic.tool_results"] = results
        return cues
