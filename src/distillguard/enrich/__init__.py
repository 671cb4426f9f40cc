"""Enrichment: facts about where an exchange came from.

:class:`IpEnricher` maps client addresses to AS, organisation, country and network
kind (hosting, VPN, Tor, proxy, cloud provider); :class:`ClientFingerprinter` maps the
user agent and SDK headers to a client fingerprint. Both work on whole Arrow columns
(deduplicated first) and on single events with the same answers.
"""

from __future__ import annotations

from .client import CLIENT_FIELDS, ClientFingerprinter, parse_client
from .ip import IP_FIELDS, NET_KINDS, IpEnricher
from .lists import NetworkLists

__all__ = [
    "CLIENT_FIELDS",
    "IP_FIELDS",
    "NET_KINDS",
    "ClientFingerprinter",
    "IpEnricher",
    "NetworkLists",
    "parse_client",
]
