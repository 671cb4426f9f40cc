"""Actor memory: who ran a campaign, remembered across scans, in the store.

An *actor* is whoever stands behind one or more campaigns (a lab, a proxy service).
Naming a campaign as an actor records the actor's *fingerprint*: the evidence values
its accounts used (IP /24 prefixes, ASNs, hosting providers, client fingerprints,
payment instruments, prompt-template and system-prompt fingerprints, request shapes;
hashes only, never prompt text) each with the purity it had when it was learned, plus
profiles (capability shares, active hours and the time zone they suggest, account types,
verification levels, billing countries, account-creation habits).

Three tables hold it: ``actors`` (one row per actor), ``actor_fingerprints`` (one row per
actor, version, kind and value) and ``actor_accounts`` (the accounts known to be the
actor's). Every change writes a new version of the whole fingerprint; older versions stay
for audit and ``actors show --version``.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from ..contracts import Campaign
from ..errors import InputError
from ..store import Store
from ._evidence import (
    VALUES_TABLE,
    ensure_account_values,
    expand_range,
    purity,
    value_stats,
)

__all__ = [
    "ActorFingerprint",
    "ensure_actor_tables",
    "fingerprint_campaign",
    "list_actors",
    "load_actor",
    "load_actors",
    "name_actor",
    "save_actor",
]

#: Most values kept per kind in one fingerprint (most used first).
MAX_VALUES_PER_KIND = 2000

#: An actor's fingerprint keeps (of the values its members' own traffic shows) only those
#: at least this many member accounts used: the actor's shared tooling, infrastructure
#: and cards. A value one member alone used says who that account is, not who the actor
#: is; and when a scan swept an ordinary customer into the campaign, that customer's own
#: card, address and client would otherwise become "the actor's" (and be shared).
ACTOR_SHARED_BY = 2

_DDL = (
    "CREATE TABLE IF NOT EXISTS actors (actor VARCHAR PRIMARY KEY, version INTEGER NOT NULL, "
    "named BOOLEAN NOT NULL, source VARCHAR NOT NULL, campaigns VARCHAR[], "
    "description VARCHAR, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, "
    "data_as_of TIMESTAMPTZ)",
    "CREATE TABLE IF NOT EXISTS actor_fingerprints (actor VARCHAR NOT NULL, "
    "version INTEGER NOT NULL, kind VARCHAR NOT NULL, value VARCHAR NOT NULL, "
    "weight DOUBLE NOT NULL, PRIMARY KEY (actor, version, kind, value))",
    "CREATE TABLE IF NOT EXISTS actor_accounts (actor VARCHAR NOT NULL, "
    "account_id VARCHAR NOT NULL, campaign_id VARCHAR, added_at TIMESTAMPTZ, "
    "PRIMARY KEY (actor, account_id))",
)

#: Profile kinds are stored in ``actor_fingerprints`` under this prefix.
PROFILE_PREFIX = "profile:"


@dataclass
class ActorFingerprint:
    """What is known about one actor (one version of it)."""

    name: str
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    profiles: dict[str, dict[str, float]] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)
    campaigns: list[str] = field(default_factory=list)
    version: int = 0
    named: bool = True
    source: str = "local"
    description: str = ""
    #: Latest time in the data this fingerprint was learned from (a campaign's last_seen).
    as_of: datetime | None = None

    def merge(self, other: ActorFingerprint) -> None:
        """Add another fingerprint's evidence (values keep the higher purity)."""
        for kind, vals in other.values.items():
            mine = self.values.setdefault(kind, {})
            for v, w in vals.items():
                mine[v] = max(w, mine.get(v, 0.0))
        for kind, dist in other.profiles.items():
            self.profiles[kind] = _blend(self.profiles.get(kind, {}), dist)
        self.members |= other.members
        self.campaigns += [c for c in other.campaigns if c not in self.campaigns]
        if other.as_of is not None:
            self.as_of = max(self.as_of, other.as_of) if self.as_of else other.as_of

    def n_values(self) -> int:
        """Number of evidence values in the fingerprint."""
        return sum(len(v) for v in self.values.values())


def _blend(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    if not a:
        return dict(b)
    keys = set(a) | set(b)
    return {k: (a.get(k, 0.0) + b.get(k, 0.0)) / 2 for k in keys}


def ensure_tables(store: Store, ddls: tuple[str, ...]) -> None:
    """Create missing tables; on a read-only store, create them empty and temporary."""
    have = {r[0] for r in store.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for ddl in ddls:
        name = ddl.split("EXISTS ", 1)[1].split(" ", 1)[0]
        if name in have:
            continue
        try:
            store.con.execute(ddl)
        except duckdb.InvalidInputException:  # read-only: nothing stored, nothing known
            store.con.execute(ddl.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))


def ensure_actor_tables(store: Store) -> None:
    """Create the actor tables if they do not exist yet."""
    ensure_tables(store, _DDL)


# ------------------------------------------------------------------ fingerprints
def _banned(store: Store) -> set[str]:
    rows = store.con.execute("SELECT account_id FROM accounts WHERE status = 'banned'").fetchall()
    return {r[0] for r in rows}


def known_bad_accounts(store: Store) -> dict[str, datetime | None]:
    """Banned accounts and every account attributed to an actor, with when each became
    known (the ban; else the data the actor was learned from)."""
    ensure_actor_tables(store)
    rows = store.con.execute(
        "SELECT x.account_id, min(a.data_as_of) FROM actor_accounts x "
        "JOIN actors a USING (actor) GROUP BY 1"
    ).fetchall()
    out: dict[str, datetime | None] = dict(rows)
    for acc, when in store.con.execute(
        "SELECT account_id, status_changed_at FROM accounts WHERE status = 'banned'"
    ).fetchall():
        prev = out.get(acc)
        out[acc] = when if prev is None or (when is not None and when < prev) else prev
    return out


def _member_values(store: Store, members: list[str]) -> dict[str, Counter[str]]:
    tbl = pa.table({"account_id": members}, schema=pa.schema([("account_id", pa.string())]))
    store.con.register("_dg_members", tbl)
    try:
        rows = store.con.execute(
            f"SELECT kind, value, count(DISTINCT v.account_id) FROM {VALUES_TABLE} v "
            f"JOIN _dg_members m USING (account_id) GROUP BY kind, value"
        ).fetchall()
    finally:
        store.con.unregister("_dg_members")
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for kind, value, n in rows:
        out[kind][value] = int(n)
    return out


def _profiles(store: Store, members: list[str]) -> dict[str, dict[str, float]]:
    tbl = pa.table({"account_id": members}, schema=pa.schema([("account_id", pa.string())]))
    store.con.register("_dg_members", tbl)
    try:
        hours = store.con.execute(
            "SELECT hour(timestamp AT TIME ZONE 'UTC') h, count(*) FROM exchanges "
            "JOIN _dg_members USING (account_id) GROUP BY h"
        ).fetchall()
        acc = store.con.execute(
            "SELECT account_type, verification, billing_country, created_at FROM accounts "
            "JOIN _dg_members USING (account_id)"
        ).fetchall()
    finally:
        store.con.unregister("_dg_members")
    prof: dict[str, dict[str, float]] = {}
    prof["active_hours"] = _shares({f"{int(h):02d}": n for h, n in hours})
    if prof["active_hours"]:
        prof["timezone"] = {f"UTC{_tz_offset(prof['active_hours']):+d}": 1.0}
    for i, kind in enumerate(("account_type", "verification", "billing_country")):
        prof[kind] = _shares(Counter(str(r[i]) for r in acc if r[i] is not None))
    created = sorted(r[3] for r in acc if r[3] is not None)
    if len(created) >= 2:
        gaps = [(b - a).total_seconds() / 3600 for a, b in itertools.pairwise(created)]
        gaps.sort()
        prof["account_creation"] = {
            "median_gap_hours": round(gaps[len(gaps) // 2], 3),
            "accounts_per_day": round(len(created) / max(1.0, sum(gaps) / 24), 3),
        }
    return {k: v for k, v in prof.items() if v}


def _shares(counts: dict[str, int] | Counter[str]) -> dict[str, float]:
    total = float(sum(counts.values()))
    return {k: round(n / total, 4) for k, n in counts.items()} if total else {}


def _tz_offset(hours: dict[str, float]) -> int:
    """UTC offset that puts the quietest six hours of activity at 01:00-07:00 local."""
    share = [hours.get(f"{h:02d}", 0.0) for h in range(24)]
    quietest = min(range(24), key=lambda s: sum(share[(s + i) % 24] for i in range(6)))
    off = (1 - quietest) % 24
    return off - 24 if off > 12 else off


def fingerprint_campaign(
    store: Store,
    campaign: Campaign,
    *,
    linked: dict[str, datetime | None] | None = None,
    name: str = "",
    shared_by: int = 1,
) -> ActorFingerprint:
    """Build the fingerprint of a campaign from its members' evidence in the store.

    A value enters the fingerprint with its purity given the campaign's members plus
    ``linked`` (already known-bad accounts) as the linked set. With ``shared_by`` > 1
    (and at least that many members), values fewer member accounts used are left out
    (see :data:`ACTOR_SHARED_BY`).
    """
    ensure_account_values(store)
    members = list(dict.fromkeys(campaign.members))
    counts = _member_values(store, members)
    seen = {kind: set(c) for kind, c in counts.items()}  # what the members' traffic shows
    if shared_by > 1 and len(members) >= shared_by:
        for kind in counts:
            counts[kind] = Counter({v: n for v, n in counts[kind].items() if n >= shared_by})
    infra = campaign.infrastructure
    extra: dict[str, Iterable[str]] = {
        "ip_prefix": [k for r in infra.ip_ranges for k in expand_range(r)],
        "asn": [str(a) for a in infra.asns],
        "asn_org": infra.asn_orgs,
    }
    # client and payment fingerprints the scan listed count only when the store cannot
    # say who used them: the members' own values are the better source
    if not seen.get("client_fp"):
        extra["client_fp"] = infra.client_fingerprints
    if not seen.get("payment_fp"):
        extra["payment_fp"] = infra.payment_fingerprints
    for kind, vals in extra.items():
        for v in vals:
            if v not in seen.get(kind, ()):  # (a value the members' traffic shows is
                counts[kind].setdefault(v, 1)  # judged by how many of them used it)
    pairs: list[tuple[str, str]] = []
    for kind, c in counts.items():
        pairs += [(kind, v) for v, _ in c.most_common(MAX_VALUES_PER_KIND)]
    known: dict[str, datetime | None] = dict(linked or {})
    for m in members:
        known.setdefault(m, None)
    stats = value_stats(store, pairs, known)
    values: dict[str, dict[str, float]] = defaultdict(dict)
    for kind, v in pairs:
        st = stats.get((kind, v))
        values[kind][v] = round(st.purity if st else purity(1, 1), 4)
    profiles = _profiles(store, members)
    if campaign.capability_profile:
        profiles["capability"] = dict(campaign.capability_profile)
    return ActorFingerprint(
        name=name or campaign.id,
        values=dict(values),
        profiles=profiles,
        members=set(members),
        campaigns=[campaign.id],
        as_of=campaign.last_seen,
    )


# ------------------------------------------------------------------ persistence
def save_actor(store: Store, fp: ActorFingerprint, *, begin: bool = True) -> int:
    """Write ``fp`` as the actor's next version (one transaction); returns the version."""
    ensure_actor_tables(store)
    con = store.con
    if begin:
        con.execute("BEGIN")
    try:
        row = con.execute("SELECT version FROM actors WHERE actor = ?", [fp.name]).fetchone()
        version = (int(row[0]) if row else 0) + 1
        now = datetime.now(UTC)
        rows: list[tuple[str, str, float]] = [
            (k, v, float(w)) for k, vals in fp.values.items() for v, w in vals.items()
        ]
        rows += [
            (PROFILE_PREFIX + k, v, float(w))
            for k, dist in fp.profiles.items()
            for v, w in dist.items()
        ]
        tbl = pa.table(
            {
                "actor": [fp.name] * len(rows),
                "version": [version] * len(rows),
                "kind": [r[0] for r in rows],
                "value": [r[1] for r in rows],
                "weight": [r[2] for r in rows],
            },
            schema=pa.schema(
                [
                    ("actor", pa.string()),
                    ("version", pa.int32()),
                    ("kind", pa.string()),
                    ("value", pa.string()),
                    ("weight", pa.float64()),
                ]
            ),
        )
        con.register("_dg_fp", tbl)
        con.execute("INSERT INTO actor_fingerprints SELECT * FROM _dg_fp")
        con.unregister("_dg_fp")
        con.execute(
            "INSERT OR REPLACE INTO actors VALUES (?, ?, ?, ?, ?, ?, "
            "coalesce((SELECT created_at FROM actors WHERE actor = ?), ?), ?, ?)",
            [
                fp.name,
                version,
                fp.named,
                fp.source,
                fp.campaigns,
                fp.description,
                fp.name,
                now,
                now,
                fp.as_of,
            ],
        )
        members = pa.table(
            {
                "actor": [fp.name] * len(fp.members),
                "account_id": sorted(fp.members),
                "campaign_id": [fp.campaigns[-1] if fp.campaigns else None] * len(fp.members),
            }
        )
        con.register("_dg_mem", members)
        con.execute(
            "INSERT OR IGNORE INTO actor_accounts SELECT actor, account_id, campaign_id, ? "
            "FROM _dg_mem",
            [now],
        )
        con.unregister("_dg_mem")
        if begin:
            con.execute("COMMIT")
    except Exception:
        if begin:
            con.execute("ROLLBACK")
        raise
    fp.version = version
    return version


def load_actor(store: Store, name: str, version: int | None = None) -> ActorFingerprint:
    """Load one actor (its latest version unless ``version`` is given)."""
    ensure_actor_tables(store)
    row = store.con.execute(
        "SELECT version, named, source, campaigns, description, data_as_of FROM actors "
        "WHERE actor = ?",
        [name],
    ).fetchone()
    if row is None:
        raise InputError("unknown actor", f"no actor named {name!r} in the store", field="actor")
    ver = int(version or row[0])
    fp = ActorFingerprint(
        name=name,
        version=ver,
        named=bool(row[1]),
        source=str(row[2]),
        campaigns=list(row[3] or []),
        description=str(row[4] or ""),
        as_of=row[5],
    )
    for kind, value, weight in store.con.execute(
        "SELECT kind, value, weight FROM actor_fingerprints WHERE actor = ? AND version = ?",
        [name, ver],
    ).fetchall():
        if kind.startswith(PROFILE_PREFIX):
            fp.profiles.setdefault(kind[len(PROFILE_PREFIX) :], {})[value] = float(weight)
        else:
            fp.values.setdefault(kind, {})[value] = float(weight)
    fp.members = {
        r[0]
        for r in store.con.execute(
            "SELECT account_id FROM actor_accounts WHERE actor = ?", [name]
        ).fetchall()
    }
    return fp


def load_actors(store: Store) -> list[ActorFingerprint]:
    """Every known actor at its latest version."""
    ensure_actor_tables(store)
    names = [r[0] for r in store.con.execute("SELECT actor FROM actors ORDER BY actor").fetchall()]
    return [load_actor(store, n) for n in names]


def list_actors(store: Store) -> list[dict[str, object]]:
    """One summary row per actor: name, version, named, source, campaigns, accounts, values."""
    ensure_actor_tables(store)
    rows = store.con.execute(
        "SELECT a.actor, a.version, a.named, a.source, a.campaigns, a.updated_at, "
        "(SELECT count(*) FROM actor_accounts x WHERE x.actor = a.actor), "
        "(SELECT count(*) FROM actor_fingerprints f WHERE f.actor = a.actor "
        " AND f.version = a.version AND NOT starts_with(f.kind, 'profile:')) "
        "FROM actors a ORDER BY a.actor"
    ).fetchall()
    keys = ("actor", "version", "named", "source", "campaigns", "updated_at", "accounts", "values")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _next_unnamed(store: Store) -> str:
    ensure_actor_tables(store)
    row = store.con.execute(
        "SELECT count(*) FROM actors WHERE starts_with(actor, 'UNNAMED-')"
    ).fetchone()
    return f"UNNAMED-{(int(row[0]) if row else 0) + 1:04d}"


def name_actor(
    store: Store, campaign: Campaign, name: str | None = None, *, description: str = ""
) -> ActorFingerprint:
    """Name ``campaign`` as actor ``name`` (a new unnamed actor when ``None``).

    Naming an existing actor again merges the campaign into it as a new version.
    """
    if name is not None and not name.strip():
        raise InputError("empty name", "an actor name must not be empty", field="name")
    actor_name = name.strip() if name else _next_unnamed(store)
    linked = known_bad_accounts(store)
    fp = fingerprint_campaign(
        store, campaign, linked=linked, name=actor_name, shared_by=ACTOR_SHARED_BY
    )
    fp.named = name is not None
    fp.description = description
    exists = store.con.execute("SELECT 1 FROM actors WHERE actor = ?", [actor_name]).fetchone()
    if exists:
        old = load_actor(store, actor_name)
        old.merge(fp)
        old.named = old.named or fp.named
        old.description = description or old.description
        fp = old
    save_actor(store, fp)
    return fp


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Cosine similarity of two sparse distributions (0 when either is empty)."""
    if not a or not b:
        return 0.0
    dot = sum(w * b.get(k, 0.0) for k, w in a.items())
    na = math.sqrt(sum(w * w for w in a.values()))
    nb = math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb) if na and nb else 0.0
