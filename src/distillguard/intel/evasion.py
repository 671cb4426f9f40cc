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

With a large banned population an ordinary customer shares *something* with many
banned accounts. Evidence therefore never pools across targets, and within a target a
banned account's value counts only when :data:`TARGET_SUPPORT` of the target's banned
accounts used it (its shared tooling, not one account's coincidence; cards excepted);
a residential /24 counts :data:`RESIDENTIAL_SHARE` and a stock SDK build
:data:`STOCK_CLIENT_SHARE` of their weight, while several distinct /24s of one target's
exit pool add up (:mod:`distillguard.intel._linking`).

Two entry points share one index:

* :func:`returning_accounts` (batch, for ``scan``) looks at every account in the store;
* :class:`BanEvasionIndex` (online) answers per request from memory, and
  :class:`ReturningActorWatch` accumulates those answers per account so the online state
  flags an account at the request where its evidence becomes sufficient.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from ..store import Store
from ._clusters import (
    BANNED_TARGET,
    CLUSTER_PURITY,
    banned_clusters,
    banned_values,
    residential_prefixes,
    stock_clients,
)
from ._evidence import (
    FAMILIES,
    KIND_WEIGHTS,
    VALUES_TABLE,
    ensure_account_values,
    ip_key,
    value_stats,
)
from ._linking import (
    FLAG_SCORE,
    PAYMENT_FLAG_SCORE,
    Accumulator,
    Link,
    _Entry,
    _rank,
    accumulate,
    best,
    candidate_sql,
    kinds_table,
    link_of,
)
from .actors import ensure_actor_tables, known_bad_accounts, load_actors

__all__ = [
    "BANNED_TARGET",
    "FLAG_SCORE",
    "PAYMENT_FLAG_SCORE",
    "RESIDENTIAL_SHARE",
    "STOCK_CLIENT_SHARE",
    "TARGET_SUPPORT",
    "BanEvasionIndex",
    "Link",
    "ReturningAccount",
    "ReturningActorWatch",
    "account_evidence",
    "returning_accounts",
]

#: A value banned accounts used counts for their target only when at least this many of
#: the target's banned accounts used it: the cluster's shared tooling, prompts and exit
#: pool, not one banned account's coincidences (payment instruments excepted: a card is
#: personal, one banned account's card is evidence on its own).
TARGET_SUPPORT = 2
#: Share of a /24's weight when the address space is residential (unrelated households
#: share a residential /24; a datacenter or hosting /24 is rented by one tenant).
RESIDENTIAL_SHARE = 0.5


#: Share of a client fingerprint's weight when it is a stock SDK build: its SDK family and
#: header set are what many ordinary accounts send (:func:`~._clusters.stock_clients`), so
#: an unrelated customer on the same version, runtime and OS shares it by chance.
STOCK_CLIENT_SHARE = 0.5


def _share(key: tuple[str, str], discounted: set[tuple[str, str]]) -> float:
    if key not in discounted:
        return 1.0
    return RESIDENTIAL_SHARE if key[0] == "ip_prefix" else STOCK_CLIENT_SHARE


@dataclass(frozen=True)
class ReturningAccount:
    """An account flagged by :func:`returning_accounts`."""

    account_id: str
    target: str
    score: float
    reasons: tuple[str, ...]


class BanEvasionIndex:
    """Compact in-memory map from evidence value to banned accounts / known actors.

    Build it with :meth:`from_store` after a scan (or after statuses change); query it
    per request with :meth:`lookup`. It holds only values, weights and one example
    account per value and target, so it is small enough to keep in every gateway replica.
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
        """Index the banned accounts and every known actor's fingerprint in ``store``.

        Values are judged by purity (see :func:`~distillguard.intel._evidence.value_stats`);
        a banned account's value is indexed for its target only when
        :data:`TARGET_SUPPORT` of the target's banned accounts used it (cards: one), and a
        residential /24 counts :data:`RESIDENTIAL_SHARE` of a datacenter one.
        """
        ensure_actor_tables(store)
        ensure_account_values(store)
        con = store.con
        member_of = dict(
            con.execute("SELECT account_id, min(actor) FROM actor_accounts GROUP BY 1").fetchall()
        )
        banned = [
            r[0]
            for r in con.execute(
                "SELECT account_id FROM accounts WHERE status = 'banned'"
            ).fetchall()
        ]
        users = banned_values(store, banned)
        actors = load_actors(store)
        from_actor: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        for actor in actors:
            for kind, vals in actor.values.items():
                if kind in KIND_WEIGHTS:
                    for v, learned in vals.items():
                        from_actor[(kind, v)][actor.name] = learned
        bad = known_bad_accounts(store)
        stats = value_stats(store, set(from_actor) | set(users), bad)
        # an actor's values are judged by the local accounts that used them before the actor
        # was learned (a partner's: before the partner saw it): none here -> what was
        # learned, else diluted by them; later users (its returning accounts) do not count
        actor_cuts: dict[tuple[str, str], datetime | None] = {
            (kind, v): actor.as_of
            for actor in actors
            for kind, vals in actor.values.items()
            for v in vals
        }
        actor_stats = value_stats(store, actor_cuts, bad, cuts=actor_cuts)
        keys = set(from_actor) | set(users)
        residential = residential_prefixes(store, {v for k, v in keys if k == "ip_prefix"})
        stock = stock_clients(store, {v for k, v in keys if k == "client_fp"}, bad)
        discounted = {("ip_prefix", v) for v in residential} | {("client_fp", v) for v in stock}
        actor_values = {
            key: [t for t, learned in targets.items() if learned >= CLUSTER_PURITY]
            for key, targets in from_actor.items()
        }
        cluster = banned_clusters(banned, users, stats, member_of, actor_values, residential)
        known = dict(member_of)
        for a in banned:
            known.setdefault(a, cluster[a])
        entries: dict[tuple[str, str], list[_Entry]] = defaultdict(list)
        for key, targets in from_actor.items():
            share = _share(key, discounted)
            ps = actor_stats.get(key)
            for t, learned in targets.items():
                pur = min((ps.linked + learned) / (ps.users + 1) if ps else learned, learned)
                entries[key].append(
                    _Entry(t, round(KIND_WEIGHTS[key[0]] * pur * share, 4), f"actor {t}")
                )
        for key, accounts in users.items():
            support = Counter(cluster[a] for a in accounts)
            claimed = {e.target for e in entries.get(key, ())}
            share = _share(key, discounted)
            st = stats.get(key)
            pur = st.purity if st else 0.5
            for t, n in support.items():
                if t in claimed or (n < TARGET_SUPPORT and FAMILIES.get(key[0]) != "payment"):
                    continue
                example = next(a for a in accounts if cluster[a] == t)
                what = f"banned account {example}" + (f" and {n - 1} more" if n > 1 else "")
                entries[key].append(_Entry(t, round(KIND_WEIGHTS[key[0]] * pur * share, 4), what))
        return cls(dict(entries), known, frozenset(banned))

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
        return best(accumulate({}, hits))


class ReturningActorWatch:
    """Per-account accumulation of :class:`BanEvasionIndex` hits for the online path.

    ``observe(account_id, ...)`` is called once per request with that request's evidence
    values; it returns the account's link once flagged. Evidence is kept per target (at
    most ``MAX_VALUES_PER_KIND`` values per kind), exactly as the batch path scores it.
    At most ``max_accounts`` accounts are remembered (least recently seen forgotten first).
    """

    def __init__(self, index: BanEvasionIndex, max_accounts: int = 1_000_000) -> None:
        self.index = index
        self.max_accounts = max_accounts
        self._state: OrderedDict[str, Accumulator] = OrderedDict()

    def observe(self, account_id: str, **values: str | int | None) -> Link | None:
        """Add one request's evidence; return the link when the account is flagged.

        A banned account is linked at once; every other account (an actor's unbanned
        members included) once its own accumulated evidence for one target is enough.
        """
        known = self.index.banned_account(account_id)
        if known is not None:
            return Link(
                known, FLAG_SCORE, [f"account is itself linked to {known}"], payment_score=9.9
            )
        acc = self._state.pop(account_id, {})
        accumulate(acc, self.index.matches(**values))
        self._state[account_id] = acc
        if len(self._state) > self.max_accounts:
            self._state.popitem(last=False)
        return _flagged_link(acc)


def _flagged_link(acc: Accumulator) -> Link | None:
    """The strongest flagged per-target link of an accumulator, else ``None``."""
    flagged = [lk for t, kinds in acc.items() if (lk := link_of(t, kinds)).flagged]
    return max(flagged, key=_rank) if flagged else None


def account_evidence(
    store: Store,
    index: BanEvasionIndex,
    accounts: list[str] | None = None,
    *,
    min_total: float = 0.0,
    flaggable_only: bool = False,
) -> dict[str, dict[str, Link]]:
    """Per account (all, or ``accounts``), its link to every target its values hit.

    Hits are joined, scored and ranked in DuckDB; Python only builds the links of the
    account-target pairs that pass a filter computed there from an upper bound of the
    score: at least ``min_total``, and with ``flaggable_only`` able to be flagged at all
    (two independent families reaching the flag score, or the payment family alone).
    """
    rows = [
        (kind, value, e.target, e.weight, e.example)
        for (kind, value), entries in index._entries.items()
        for e in entries
    ]
    if not rows:
        return {}
    cols = list(zip(*rows, strict=True))
    con = store.con
    con.register(
        "_dg_index",
        pa.table(
            {
                "kind": pa.array(cols[0], pa.string()),
                "value": pa.array(cols[1], pa.string()),
                "target": pa.array(cols[2], pa.string()),
                "weight": pa.array(cols[3], pa.float64()),
                "example": pa.array(cols[4], pa.string()),
            }
        ),
    )
    con.register("_dg_kinds", kinds_table())
    if accounts is not None:
        con.register(
            "_dg_only",
            pa.table({"account_id": accounts}, schema=pa.schema([("account_id", pa.string())])),
        )
    try:
        hits = con.execute(
            candidate_sql(VALUES_TABLE, accounts is not None, flaggable_only), [min_total]
        ).fetchall()
    finally:
        con.unregister("_dg_index")
        con.unregister("_dg_kinds")
        if accounts is not None:
            con.unregister("_dg_only")
    acc: dict[str, Accumulator] = defaultdict(dict)
    for account, target, kind, top in hits:
        acc[account].setdefault(target, {})[kind] = {
            t["v"]: (t["w"], f"{kind}={t['v']} shared with {t['e']} (+{t['w']:.2f})") for t in top
        }
    return {a: {t: link_of(t, kinds) for t, kinds in per.items()} for a, per in acc.items()}


def returning_accounts(store: Store, *, min_score: float = 0.0) -> list[ReturningAccount]:
    """Accounts (not banned, not already an actor's) linked to banned accounts or actors.

    Returns one row per flagged account with its strongest flagged link's target, score
    and reasons, strongest first.
    """
    index = BanEvasionIndex.from_store(store)
    floor = max(min(PAYMENT_FLAG_SCORE, FLAG_SCORE), min_score)
    out: list[ReturningAccount] = []
    for account, links in account_evidence(
        store, index, min_total=floor, flaggable_only=True
    ).items():
        if index.known_account(account) is not None:
            continue
        flagged = [lk for lk in links.values() if lk.flagged and lk.score >= min_score]
        if flagged:
            link = max(flagged, key=_rank)
            out.append(ReturningAccount(account, link.target, link.score, tuple(link.reasons)))
    out.sort(key=lambda r: (-r.score, r.account_id))
    return out
