"""distillguard: find and stop distillation campaigns against an LLM API.

The public API is small on purpose; see the README for the command line.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
