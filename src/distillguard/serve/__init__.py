"""The decision service (FastAPI): ``/v1/decide``, ``/v1/observe``, metrics, Envoy ext_authz."""

from __future__ import annotations

from .app import DecideRequest, DecideResponse, ObserveRequest, create_app
from .envoy import ACCOUNT_HEADER, account_from_headers

__all__ = [
    "ACCOUNT_HEADER",
    "DecideRequest",
    "DecideResponse",
    "ObserveRequest",
    "account_from_headers",
    "create_app",
]
