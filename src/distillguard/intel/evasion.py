"""Returning actors: new accounts that share strong evidence with banned ones.

Accounts whose ``status`` is ``banned`` are ground truth, and so are the accounts of a
known actor. A *link* is a target (a known actor, or a cluster of banned accounts that no actor
claims: banned accounts joined by values only banned accounts used) and the evidence
values that lead to it, each worth ``weight(kind) x purity`` (see
:mod:`distillguard.intel._evidence`), combined by evidence family so that correlated
kinds (a system prompt and the request shape that contains it) are not counted twice.
An account is flagged as a returning actor once its evidence for one target reaches
:data:`FLAG_SCORE` with at least two independent families, each meaningful on its own
(``MIN_FAMILY_SCORE``; a webmail domain never counts) (about two strong, pure pieces
of evidence, e.g. the actor's system prompt and its proxy range), or once its payment
evidence alone reaches :data:`PAYMENT_FLAG_SCORE` (a card only banned accounts used:
a payment instrument is personal, prompts, clients and networks are shared by ordinary
customers at some rate).

Two entry points share one index:

* :func:`returning_accounts` (batch, for ``scan``) looks at every account in the store;
* :class:`BanEvasionIndex` (online) answers per request from memory, and
  :class:`ReturningActorWatch` accumulates those answers per account so the online state
  flags an account at the request where its evidence becomes sufficient.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass, field

import pyarrow as pa

from ..store import Store
from ._evidence import (
    FAMILIES,
    KIND_WEIGHTS,
    VALUES_TABLE,
    ValueStats,
    combine,
    ensure_account_values,
    independent_families,
    ip_key,
    value_stats,
)
from .actors import ensure_actor_tables, known_bad_accounts, load_actors

__all__ = [
    "BANNED_TARGET",
    "FLAG_SCORE",
    "PAYMENT_FLAG_SCORE",
    "BanEvasionIndex",
    "Link",
    "ReturningAccount",
    "ReturningActorWatch",
    "account_evidence",
    "returning_accounts",
]

#: Evidence score (from two or more families) from which an account is flagged.
FLAG_SCORE = 3.0
#: Payment-family evidence from which an account is flagged on that alone.
PAYMENT_FLAG_SCORE = 2.0

#: Prefix of the link target for a cluster of banned accounts that no known actor claims.
BANNED_TARGET = "banned-accounts"

#: Purity from which a value shared by banned accounts puts them in one cluster.
CLUSTER_PURITY = 0.8
#: Kinds specific enough to join banned accounts into one cluster (an ASN, a hosting
#: provider or a webmail domain is shared by unrelated actors).
CLUSTER_KINDS = frozenset(
    {"payment_fp", "template_id", "system_hash", "shape_fp", "ip_prefix", "client_fp"}
)


@dataclass
class Link:
    """Why an account (or one request) links to a banned account or known actor."""

    target: str
    score: float
    reasons: list[str] = field(default_factory=list)
    #: families that each carry meaningful evidence on their own (``independent_families``)
    families: frozenset[str] = frozenset()
    payment_score: float = 0.0

    @property
    def flagged(self) -> bool:
        """True when the evidence is enough (see the module docstring)."""
        if self.payment_score >= PAYMENT_FLAG_SCORE:
            return True
        return self.score >= FLAG_SCORE and len(self.families) >= 2


@dataclass(frozen=True)
class ReturningAccount:
    """An account flagged by :func:`returning_accounts`."""

    account_id: str
    target: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class _Entry:
    target: str
    weight: float
    example: str


class BanEvasionIndex:
    """Compact in-memory map from evidence value to banned accounts / known actors.

    Build it with :meth:`from_store` after a scan (or after statuses change); query it
    per request with :meth:`lookup`. It holds only values, weights and one example
    account per value, so it is small enough to keep in every gateway replica.
    """

    def __init__(
        self,
        entries: dict[tuple[str, str], list[_Entry]],
        known: dict[str, str],
        banned: frozenset[str] | None = None,
    ):
        self._entries = entries
        self._known = known
        #: accounts that are ground truth on their own (banned); ``None``: every known one
        self._banned = frozenset(known) if banned is None else banned

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def from_store(cls, store: Store) -> BanEvasionIndex:
        """Index the banned accounts and every known actor's fingerprint in ``store``."""
        ensure_actor_tables(store)
        ensure_account_values(store)
        member_of = dict(
            store.con.execute(
                "SELECT account_id, min(actor) FROM actor_accounts GROUP BY 1"
            ).fetchall()
        )
        banned = [
            r[0]
            for r in store.con.execute(
                "SELECT account_id FROM accounts WHERE status = 'banned'"
            ).fetchall()
        ]
        raw: dict[tuple[str, str], dict[str, tuple[float, str]]] = defaultdict(dict)
        users: dict[tuple[str, str], list[str]] = {}
        if banned:
            tbl = pa.table({"account_id": banned}, schema=pa.schema([("account_id", pa.string())]))
            store.con.register("_dg_banned", tbl)
            try:
                rows = store.con.execute(
                    f"SELECT kind, value, list(DISTINCT account_id) FROM {VALUES_TABLE} "
                    f"JOIN _dg_banned USING (account_id) GROUP BY kind, value"
                ).fetchall()
            finally:
                store.con.unregister("_dg_banned")
            users = {(k, v): sorted(a) for k, v, a in rows if k in KIND_WEIGHTS}
        actors = load_actors(store)
        for actor in actors:
            for kind, vals in actor.values.items():
                if kind not in KIND_WEIGHTS:
                    continue
                for v, learned in vals.items():
                    raw[(kind, v)][actor.name] = (learned, f"actor {actor.name}")
        bad = known_bad_accounts(store)
        stats = value_stats(store, set(raw) | set(users), bad)
        # an actor's values are judged by the local accounts that used them before the actor
        # was learned (a partner's: before the partner saw it): none here -> what was
        # learned, else diluted by them; later users (its returning accounts) do not count
        actor_cuts = {
            (kind, v): actor.as_of
            for actor in actors
            for kind, vals in actor.values.items()
            for v in vals
        }
        actor_stats = value_stats(store, actor_cuts, bad, cuts=actor_cuts)
        actor_names = {a.name for a in actors}
        # (banned accounts' values keep their local purity, whatever cluster they join)
        actor_values = {
            key: [t for t, (learned, _) in targets.items() if learned >= CLUSTER_PURITY]
            for key, targets in raw.items()
        }
        cluster = _banned_clusters(banned, users, stats, member_of, actor_values)
        known = dict(member_of)
        for a in banned:
            known.setdefault(a, cluster[a])
        for key, accounts in users.items():
            for a in accounts:
                raw[key].setdefault(cluster[a], (1.0, f"banned account {a}"))
        entries: dict[tuple[str, str], list[_Entry]] = {}
        for key, targets in raw.items():
            st = stats.get(key)
            local = st.purity if st else 0.5
            entries[key] = []
            for t, (learned, ex) in targets.items():
                pur = min(local, learned)
                if t in actor_names and ex == f"actor {t}":  # from the actor's fingerprint
                    ps = actor_stats.get(key)
                    pur = (ps.linked + learned) / (ps.users + 1) if ps else learned
                    pur = min(pur, learned)
                entries[key].append(_Entry(t, round(KIND_WEIGHTS[key[0]] * pur, 4), ex))
        return cls(entries, known, frozenset(banned))

    def known_account(self, account_id: str) -> str | None:
        """The target an account itself belongs to (banned or actor member), if any."""
        return self._known.get(account_id)

    def banned_account(self, account_id: str) -> str | None:
        """The target of a banned account (ground truth on its own), else ``None``.

        An actor's members that are not banned are a campaign's claim (a scan can sweep
        an ordinary customer into a campaign): online they are judged by their evidence.
        """
        return self._known.get(account_id) if account_id in self._banned else None

    def matches(self, **values: str | int | None) -> list[tuple[str, str, _Entry]]:
        """Every ``(kind, value, entry)`` the given evidence values hit."""
        out = []
        for kind, value in values.items():
            if value is None or value == "":
                continue
            if kind == "client_ip":
                kind, value = "ip_prefix", ip_key(str(value)) or ""
            elif kind == "ip_prefix":
                value = ip_key(str(value)) or str(value)
            elif kind == "email_domain":
                value = str(value).lower()
            for e in self._entries.get((kind, str(value)), ()):
                out.append((kind, str(value), e))
        return out

    def lookup(
        self,
        *,
        payment_fp: str | None = None,
        client_fp: str | None = None,
        ip_prefix: str | None = None,
        template_id: str | None = None,
        system_hash: str | None = None,
        shape_fp: str | None = None,
        asn: int | str | None = None,
        client_ip: str | None = None,
    ) -> Link | None:
        """The strongest link the evidence of one request supports (``None`` if none)."""
        hits = self.matches(
            payment_fp=payment_fp,
            client_fp=client_fp,
            ip_prefix=ip_prefix,
            template_id=template_id,
            system_hash=system_hash,
            shape_fp=shape_fp,
            asn=asn,
            client_ip=client_ip,
        )
        return _best(_accumulate({}, hits))


def _banned_clusters(
    banned: list[str],
    users: dict[tuple[str, str], list[str]],
    stats: dict[tuple[str, str], ValueStats],
    member_of: dict[str, str],
    actor_values: dict[tuple[str, str], list[str]] | None = None,
) -> dict[str, str]:
    """Link target of each banned account: its actor, else its cluster of banned accounts.

    Banned accounts are joined when they share a specific value (:data:`CLUSTER_KINDS`)
    whose users are mostly known-bad (purity >= :data:`CLUSTER_PURITY`), and joined to an
    actor when such a value is in that actor's fingerprint with that purity. A cluster
    takes the actor most of its links and attributed accounts point to, else
    ``banned-accounts:<smallest account id>``; accounts attributed to an actor keep it.
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


def _accumulate(
    acc: dict[str, dict[str, tuple[float, str]]], hits: list[tuple[str, str, _Entry]]
) -> dict[str, dict[str, tuple[float, str]]]:
    for kind, value, e in hits:
        per_kind = acc.setdefault(e.target, {})
        if e.weight > per_kind.get(kind, (0.0, ""))[0]:
            per_kind[kind] = (e.weight, f"{kind}={value} shared with {e.example} (+{e.weight:.2f})")
    return acc


def _best(acc: dict[str, dict[str, tuple[float, str]]]) -> Link | None:
    best: Link | None = None
    for target, kinds in acc.items():
        score = round(combine({k: w for k, (w, _) in kinds.items()}), 4)
        if best is None or score > best.score:
            reasons = [r for _, r in sorted(kinds.values(), key=lambda t: -t[0])]
            pay = max((w for k, (w, _) in kinds.items() if FAMILIES.get(k) == "payment"), default=0)
            fams = independent_families({k: w for k, (w, _) in kinds.items()})
            best = Link(target, score, reasons, frozenset(fams), pay)
    return best


class ReturningActorWatch:
    """Per-account accumulation of :class:`BanEvasionIndex` hits for the online path.

    ``observe(account_id, ...)`` is called once per request with that request's evidence
    values; it returns the account's link once flagged. At most ``max_accounts`` accounts
    are remembered (least recently seen forgotten first).
    """

    def __init__(self, index: BanEvasionIndex, max_accounts: int = 1_000_000) -> None:
        self.index = index
        self.max_accounts = max_accounts
        self._state: OrderedDict[str, dict[str, dict[str, tuple[float, str]]]] = OrderedDict()

    def observe(self, account_id: str, **values: str | int | None) -> Link | None:
        """Add one request's evidence; return the link when the account is flagged.

        A banned account is linked at once; every other account (an actor's unbanned
        members included) once its own accumulated evidence is enough.
        """
        known = self.index.banned_account(account_id)
        if known is not None:
            return Link(
                known, FLAG_SCORE, [f"account is itself linked to {known}"], payment_score=9.9
            )
        acc = self._state.pop(account_id, {})
        _accumulate(acc, self.index.matches(**values))
        self._state[account_id] = acc
        if len(self._state) > self.max_accounts:
            self._state.popitem(last=False)
        link = _best(acc)
        return link if link is not None and link.flagged else None


def account_evidence(
    store: Store, index: BanEvasionIndex, accounts: list[str] | None = None
) -> dict[str, dict[str, Link]]:
    """Per account (all, or ``accounts``), its link to every target its values hit."""
    rows = [
        (kind, value, e.target, f"{e.weight}|{e.example}")
        for (kind, value), entries in index._entries.items()
        for e in entries
    ]
    if not rows:
        return {}
    tbl = pa.table(
        {
            "kind": [r[0] for r in rows],
            "value": [r[1] for r in rows],
            "target": [r[2] for r in rows],
            "meta": [r[3] for r in rows],
        }
    )
    store.con.register("_dg_index", tbl)
    where = ""
    if accounts is not None:
        store.con.register(
            "_dg_only",
            pa.table({"account_id": accounts}, schema=pa.schema([("account_id", pa.string())])),
        )
        where = "WHERE v.account_id IN (SELECT account_id FROM _dg_only)"
    try:
        hits = store.con.execute(
            f"SELECT v.account_id, v.kind, v.value, i.target, i.meta FROM {VALUES_TABLE} v "
            f"JOIN _dg_index i ON i.kind = v.kind AND i.value = v.value {where}"
        ).fetchall()
    finally:
        store.con.unregister("_dg_index")
        if accounts is not None:
            store.con.unregister("_dg_only")
    per_account: dict[str, list[tuple[str, str, _Entry]]] = defaultdict(list)
    for account, kind, value, target, meta in hits:
        weight, example = meta.split("|", 1)
        per_account[account].append((kind, value, _Entry(target, float(weight), example)))
    out: dict[str, dict[str, Link]] = {}
    for account, h in per_account.items():
        acc = _accumulate({}, h)
        out[account] = {t: link for t in acc if (link := _best({t: acc[t]})) is not None}
    return out


def returning_accounts(store: Store, *, min_score: float = 0.0) -> list[ReturningAccount]:
    """Accounts (not banned, not already an actor's) linked to banned accounts or actors.

    Returns one row per flagged account with its strongest link target, score and
    reasons, strongest first.
    """
    index = BanEvasionIndex.from_store(store)
    out: list[ReturningAccount] = []
    for account, links in account_evidence(store, index).items():
        if index.known_account(account) is not None:
            continue
        link = max(links.values(), key=lambda lk: lk.score)
        if link.flagged and link.score >= min_score:
            out.append(ReturningAccount(account, link.target, link.score, tuple(link.reasons)))
    out.sort(key=lambda r: (-r.score, r.account_id))
    return out
