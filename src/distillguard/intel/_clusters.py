"""Banned accounts as link targets: their values, their clusters, residential /24s.

Helpers of :class:`distillguard.intel.evasion.BanEvasionIndex`: which banned accounts
used which value, which /24s the enrichment calls residential, and how banned accounts
join into clusters (one link target each) by values only known-bad accounts used.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

import pyarrow as pa

from ..store import Store
from ._evidence import KIND_WEIGHTS, VALUES_TABLE, ValueStats

__all__ = [
    "BANNED_TARGET",
    "CLUSTER_KINDS",
    "CLUSTER_PURITY",
    "banned_clusters",
    "banned_values",
    "residential_prefixes",
    "stock_clients",
]

#: Prefix of the link target for a cluster of banned accounts that no known actor claims.
BANNED_TARGET = "banned-accounts"

#: Purity from which a value shared by banned accounts puts them in one cluster.
CLUSTER_PURITY = 0.8
#: Kinds specific enough to join banned accounts into one cluster (an ASN, a hosting
#: provider or a webmail domain is shared by unrelated actors; a residential /24 by
#: unrelated households, so it never joins either).
CLUSTER_KINDS = frozenset(
    {"payment_fp", "template_id", "system_hash", "shape_fp", "ip_prefix", "client_fp"}
)


def banned_values(store: Store, banned: list[str]) -> dict[tuple[str, str], list[str]]:
    """Per ``(kind, value)`` the banned accounts that used it (sorted)."""
    if not banned:
        return {}
    tbl = pa.table({"account_id": banned}, schema=pa.schema([("account_id", pa.string())]))
    store.con.register("_dg_banned", tbl)
    try:
        rows = store.con.execute(
            f"SELECT kind, value, list(DISTINCT account_id ORDER BY account_id) "
            f"FROM {VALUES_TABLE} JOIN _dg_banned USING (account_id) GROUP BY kind, value"
        ).fetchall()
    finally:
        store.con.unregister("_dg_banned")
    return {(k, v): a for k, v, a in rows if k in KIND_WEIGHTS}


def residential_prefixes(store: Store, prefixes: Iterable[str]) -> set[str]:
    """Those of ``prefixes`` (/24 keys) whose traffic the enrichment calls residential.

    Read from ``exchange_signals.net_kind`` (the most common kind of the prefix's
    exchanges); empty when the store has no signals (then no /24 is discounted).
    """
    keys = sorted(set(prefixes))
    cols = {
        r[0]
        for r in store.con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'exchange_signals'"
        ).fetchall()
    }
    if not keys or not {"ip_prefix", "net_kind"} <= cols:
        return set()
    store.con.register(
        "_dg_prefixes",
        pa.table({"ip_prefix": keys}, schema=pa.schema([("ip_prefix", pa.string())])),
    )
    try:
        rows = store.con.execute(
            "SELECT s.ip_prefix FROM exchange_signals s SEMI JOIN _dg_prefixes p "
            "ON s.ip_prefix = p.ip_prefix GROUP BY s.ip_prefix "
            "HAVING mode(s.net_kind) = 'residential'"
        ).fetchall()
    finally:
        store.con.unregister("_dg_prefixes")
    return {r[0] for r in rows}


#: A client's SDK family and header set used by at least this many accounts that are not
#: known-bad make every exact build of it a *stock* client (see :func:`stock_clients`).
STOCK_CLIENT_USERS = 20


def stock_clients(
    store: Store, fingerprints: Iterable[str], bad: Iterable[str] | None = None
) -> set[str]:
    """Those of ``fingerprints`` that are stock SDK builds.

    A client fingerprint is ``family/version|runtime|os|hs:<header set>``; when at least
    :data:`STOCK_CLIENT_USERS` accounts outside ``bad`` send the same family and header
    set (any version), the exact build says little more than "uses that SDK".
    """
    fps = sorted(set(fingerprints))
    if not fps:
        return set()
    family = "split_part(split_part(value, '|', 1), '/', 1) || '|' || split_part(value, '|', 4)"
    store.con.register(
        "_dg_fps", pa.table({"value": fps}, schema=pa.schema([("value", pa.string())]))
    )
    bad_ids = sorted(set(bad or ()))
    store.con.register(
        "_dg_bad",
        pa.table({"account_id": bad_ids}, schema=pa.schema([("account_id", pa.string())])),
    )
    try:
        rows = store.con.execute(
            f"WITH fam AS (SELECT {family} AS fam, count(DISTINCT account_id) AS n "
            f"FROM {VALUES_TABLE} WHERE kind = 'client_fp' "
            f"AND account_id NOT IN (SELECT account_id FROM _dg_bad) GROUP BY 1) "
            f"SELECT f.value FROM (SELECT value, {family} AS fam FROM _dg_fps) f "
            f"JOIN fam USING (fam) WHERE fam.n >= ?",
            [STOCK_CLIENT_USERS],
        ).fetchall()
    finally:
        store.con.unregister("_dg_fps")
        store.con.unregister("_dg_bad")
    return {r[0] for r in rows}


def banned_clusters(
    banned: list[str],
    users: dict[tuple[str, str], list[str]],
    stats: dict[tuple[str, str], ValueStats],
    member_of: dict[str, str],
    actor_values: dict[tuple[str, str], list[str]] | None = None,
    residential: set[str] | frozenset[str] = frozenset(),
) -> dict[str, str]:
    """Link target of each banned account: its actor, else its cluster of banned accounts.

    Banned accounts are joined when they share a specific value (:data:`CLUSTER_KINDS`,
    residential /24s excepted) whose users are mostly known-bad (purity >=
    :data:`CLUSTER_PURITY`), and joined to an actor when such a value is in that actor's
    fingerprint with that purity. A cluster takes the actor most of its links and
    attributed accounts point to, else ``banned-accounts:<smallest account id>``;
    accounts attributed to an actor keep it.
    """
    parent = {a: a for a in banned}
    votes_of: dict[str, Counter[str]] = defaultdict(Counter)

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for key, accounts in users.items():
        st = stats.get(key)
        if key[0] not in CLUSTER_KINDS or st is None or st.purity < CLUSTER_PURITY:
            continue
        if key[0] == "ip_prefix" and key[1] in residential:
            continue
        for a in accounts[1:]:
            union(accounts[0], a)
        for actor in (actor_values or {}).get(key, ()):
            votes_of[accounts[0]][actor] += len(accounts)
    for a in banned:
        if a in member_of:
            votes_of[a][member_of[a]] += 1
    groups: dict[str, list[str]] = defaultdict(list)
    for a in banned:
        groups[find(a)].append(a)
    out: dict[str, str] = {}
    for accounts in groups.values():
        votes: Counter[str] = Counter()
        for a in accounts:
            votes.update(votes_of.get(a, {}))
        name = (
            min(votes, key=lambda k: (-votes[k], k))
            if votes
            else f"{BANNED_TARGET}:{min(accounts)}"
        )
        for a in accounts:
            out[a] = member_of.get(a, name)
    return out
