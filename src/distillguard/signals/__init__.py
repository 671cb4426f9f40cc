"""Per-exchange signals: what each API exchange asked for, how, and from where.

:func:`compute_signals` maps a batch of canonical exchanges to a batch of signals
(:data:`SIGNAL_SCHEMA`, every column documented in its field metadata);
:func:`signals_for_exchange` is the same code for one event (online path);
:func:`materialise` writes the ``exchange_signals`` table of a store. Detectors are
pluggable (:class:`Registry`, :class:`Detector`); the built-in ones score capability,
reasoning / judge elicitation, template fingerprint and request shape.
"""

from __future__ import annotations

from .capability import CapabilityDetector, load_capability_rules
from .capability_rules import CAPABILITIES, CAPABILITY_RULES
from .elicitation import ELICITATION_RULES, ElicitationDetector
from .pipeline import (
    PASSTHROUGH,
    SIGNAL_SCHEMA,
    SIGNALS_TABLE,
    SignalContext,
    compute_signals,
    default_registry,
    materialise,
    signal_schema,
    signals_for_exchange,
)
from .registry import Detector, ExchangeView, Registry, Rule
from .shape import ShapeDetector
from .template import TemplateDetector, TemplateVocabulary

__all__ = [
    "CAPABILITIES",
    "CAPABILITY_RULES",
    "ELICITATION_RULES",
    "PASSTHROUGH",
    "SIGNALS_TABLE",
    "SIGNAL_SCHEMA",
    "CapabilityDetector",
    "Detector",
    "ElicitationDetector",
    "ExchangeView",
    "Registry",
    "Rule",
    "ShapeDetector",
    "SignalContext",
    "TemplateDetector",
    "TemplateVocabulary",
    "compute_signals",
    "default_registry",
    "load_capability_rules",
    "materialise",
    "signal_schema",
    "signals_for_exchange",
]
