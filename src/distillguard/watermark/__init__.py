"""Output-side countermeasures: watermarks, tracing a suspect model, degrade transforms.

- :mod:`.lexical`: keyed, context-conditioned synonym-substitution watermark for text
  (no model needed) and its exact binomial detector.
- :mod:`.generation`: transformers' green-list watermark at generation time and an exact
  detector (needs the ``watermark`` extra: torch, transformers, gguf).
- :mod:`.trace`: pooled evidence per watermark with calibrated p-values.
- :mod:`.degrade`: pure text/request transforms for enforcement's ``degrade`` action.
"""

from __future__ import annotations

from .degrade import (
    OutputDegrade,
    cap_length,
    degrade_response,
    final_answer_only,
    reduce_sampling_diversity,
    strip_reasoning,
    summarise_reasoning,
)
from .lexical import LexicalEvidence, LexicalKey, detect_text, detect_texts, mark_text
from .trace import TraceReport, WatermarkEvidence, read_answers, trace_texts, units_needed

__all__ = [
    "LexicalEvidence",
    "LexicalKey",
    "OutputDegrade",
    "TraceReport",
    "WatermarkEvidence",
    "cap_length",
    "degrade_response",
    "detect_text",
    "detect_texts",
    "final_answer_only",
    "mark_text",
    "read_answers",
    "reduce_sampling_diversity",
    "strip_reasoning",
    "summarise_reasoning",
    "trace_texts",
    "units_needed",
]
