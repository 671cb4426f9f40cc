"""Per-account behaviour features, in batch (DuckDB SQL) and online (mergeable state).

:func:`account_features` gives one row per account over the whole span (plus daily
peaks; :func:`account_daily` gives per-day rows); :data:`FEATURE_COLUMNS` lists the
numeric model inputs and :data:`FEATURE_DOCS` what each means.
:class:`OnlineAccountState` keeps the same features per event for the online path.
"""

from __future__ import annotations

from .batch import (
    CAPABILITY_LABELS,
    FEATURE_COLUMNS,
    FEATURE_DOCS,
    account_daily,
    account_features,
    read_release_times,
)
from .online import MAX_KEYS, OnlineAccountState
from .timezones import COUNTRY_UTC_OFFSET

__all__ = [
    "CAPABILITY_LABELS",
    "COUNTRY_UTC_OFFSET",
    "FEATURE_COLUMNS",
    "FEATURE_DOCS",
    "MAX_KEYS",
    "OnlineAccountState",
    "account_daily",
    "account_features",
    "read_release_times",
]
