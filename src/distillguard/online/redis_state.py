"""Redis state: several gateway replicas share windows, features and enforcements.

Layout (``prefix`` defaults to ``dg:``):

* ``w:<account>:<bucket>``: request counter of a fixed window (``INCR`` + ``EXPIRE``).
* ``a:<account>``: hash with the account's online feature state (``state``, JSON of
  ``OnlineAccountState.to_dict()``) and its version (``ver``), its current features
  (``feat``), ``events``, the sticky enforcement (``enf``), the open challenge
  (``challenge``) and ``verified``. Feature updates are compare-and-set on ``ver``, so
  concurrent replicas never lose an update.
* ``hll:<dim>:<account>``: HyperLogLog of distinct addresses, keys, user agents
  (``PFADD`` / ``PFCOUNT``).
* ``reg`` (account registry), ``banpay`` (payment instrument -> banned account),
  ``verdicts`` + ``verdicts_at``, ``ind:batch`` (campaign indicators; replaced with
  ``RENAME`` on reload), ``ind:<kind>|<value>`` (indicators learnt online, with a TTL).

Round trips: a decision is one ``EVALSHA`` (:data:`~.redis_scripts.VIEW` reads the
snapshot and counts the request in its window, atomically, so two replicas cannot both
take a window's last slot) plus, only when the decision enforces, challenges or learns
indicators, one pipeline that writes them. An observed exchange is one ``EVALSHA``
(:data:`~.redis_scripts.OBSERVE`: compare-and-set of the feature state, event count and
HyperLogLogs): each replica keeps the feature states it wrote last in a bounded cache
and updates them locally; when another replica moved the version on, the script
returns the current state and the update is applied to it and sent again.

Every Redis error becomes :class:`~distillguard.online.state.StateUnavailable`; the
enforcer then applies the policy's fail mode. redis-py reconnects on the next call, so
the service recovers by itself when Redis is back, with whatever Redis persisted.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import redis

from ..contracts import Action, Campaign, Verdict
from .context import RequestContext
from .memory import FeatureStateFactory, campaign_indicators, default_feature_state
from .redis_scripts import OBSERVE, VIEW
from .state import (
    AccountRecord,
    Enforcement,
    Evidence,
    EvidenceSource,
    StateUnavailable,
    StateView,
    indicator_keys,
    lookup_keys,
)

__all__ = ["RedisState"]

_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
_DIMS = ("ip", "api_key", "user_agent")
#: Compare-and-set attempts of one observed exchange before it gives up.
_CAS_TRIES = 16


def _s(v: Any) -> str | None:
    return v.decode() if isinstance(v, bytes) else v


class RedisState:
    """Online state in Redis (see the module docstring for the key layout)."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "dg:",
        window_s: int = 60,
        timeout_s: float = 0.05,
        feature_state: FeatureStateFactory = default_feature_state,
        evidence_sources: Sequence[EvidenceSource] = (),
        feature_state_from_dict: Any = None,
        feature_cache: int = 4096,
    ) -> None:
        self.url = url
        self.p = prefix
        self.window_s = window_s
        self._new_features = feature_state
        self._from_dict = feature_state_from_dict
        self._sources = list(evidence_sources)
        self.r = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry_on_timeout=False,
            health_check_interval=0,
        )
        self._view_script = self.r.register_script(VIEW)
        self._observe_script = self.r.register_script(OBSERVE)
        with contextlib.suppress(*_ERRORS):  # Redis down now: loaded on first use
            for script in (self._view_script, self._observe_script):
                self.r.script_load(script.script)
        #: account -> (version, feature state) this replica wrote last (bounded LRU)
        self._features: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._feature_cache = feature_cache
        #: the request the last view on this thread counted in its window
        self._counted = threading.local()

    # ------------------------------------------------------------------ helpers
    def _features_from(self, raw: bytes | None) -> Any:
        fs = self._new_features()
        if raw:
            data = orjson.loads(raw)
            if self._from_dict is not None:
                return self._from_dict(data)
            if hasattr(type(fs), "from_dict"):
                return type(fs).from_dict(data)
        return fs

    # ------------------------------------------------------------------ reads
    def view(self, context: RequestContext, now: float) -> StateView:
        """Snapshot for one request in one round trip; counts the request in its window.

        The request is counted atomically with the read (``window_requests`` is the
        count before it), and :meth:`record_decision` for the same request does not
        count it again.
        """
        acct = context.account_id
        p = self.p
        bucket = int(now // self.window_s)
        keys = lookup_keys(context)
        try:
            res = self._view_script(
                keys=[
                    f"{p}w:{acct}:{bucket}",
                    f"{p}a:{acct}",
                    *(f"{p}ind:{k}|{v}" for k, v in keys),
                ],
                args=[p, acct, self.window_s * 2, len(keys), *(f"{k}|{v}" for k, v in keys)],
            )
        except _ERRORS as exc:
            raise StateUnavailable(str(exc)) from exc
        self._counted.last = (id(context), acct, bucket)
        rec = AccountRecord.from_dict(orjson.loads(res[6])) if res[6] else None
        pay_hits: list[Any] = res[12:15] if rec is not None and rec.payment_fingerprint else []
        view = StateView(account_id=acct, now=now, account=rec)
        view.window_requests = int(res[0] or 0)
        view.window_reset_s = (bucket + 1) * self.window_s - now
        feat, events, enf, challenge, verified = res[1:6]
        if feat:
            view.features = orjson.loads(feat)
        view.events = int(events or 0)
        if enf:
            e = orjson.loads(enf)
            view.enforcement = Enforcement(e["action"], e["since"], e["until"], tuple(e["reasons"]))
        view.challenge_since = float(challenge) if challenge else None
        view.verified_until = float(verified) if verified else None
        if res[7]:
            view.verdict = Verdict.model_validate_json(res[7])
            view.verdict_loaded_at = float(res[8] or 0.0)
        view.distinct = {dim: int(n) for dim, n in zip(_DIMS, res[9:12], strict=True)}
        ev = view.evidence
        if rec is not None:
            if rec.status in ("banned", "suspended"):
                ev.append(Evidence("banned_account", rec.status or ""))
            if pay_hits:
                banned_by = _s(pay_hits[0])
                pay = rec.payment_fingerprint or ""
                if banned_by and banned_by != acct:
                    ev.append(
                        Evidence("banned_link", pay, detail=f"payment shared with {banned_by}")
                    )
                learnt_pay, batch_pay = _s(pay_hits[2]), _s(pay_hits[1])
                if learnt_pay or batch_pay:
                    origin = "online" if learnt_pay else "batch"
                    cid = learnt_pay or batch_pay or ""
                    ev.append(Evidence("shared_payment", pay, campaign_id=cid, detail=origin))
        if keys:
            batch = res[15 : 15 + len(keys)]
            learnt = res[15 + len(keys) :]
            for i, (k, v) in enumerate(keys):
                on, off = _s(learnt[i]), _s(batch[i])
                if on or off:
                    origin = "online" if on else "batch"
                    ev.append(Evidence(k, v, campaign_id=on or off or "", detail=origin))
        for src in self._sources:
            ev.extend(src.lookup(context, rec))
        return view

    # ------------------------------------------------------------------ writes
    def record_decision(
        self,
        context: RequestContext,
        action: Action,
        reasons: Sequence[str],
        now: float,
        *,
        ttl_s: int | None,
        learn: bool,
        campaign_id: str,
        indicator_ttl_s: int,
    ) -> None:
        """Count the request; keep enforcement / challenge; learn indicators."""
        acct = context.account_id
        p = self.p
        bucket = int(now // self.window_s)
        counted = getattr(self._counted, "last", None) == (id(context), acct, bucket)
        self._counted.last = None
        enforce = action in ("degrade", "block") and bool(ttl_s)
        if counted and not enforce and action != "verify" and not learn:
            return  # the view counted the request; nothing else to write
        try:
            pipe = self.r.pipeline(transaction=False)
            if not counted:  # recorded without a view (or the view was for another)
                wkey = f"{p}w:{acct}:{bucket}"
                pipe.incr(wkey)
                pipe.expire(wkey, self.window_s * 2)
            akey = f"{p}a:{acct}"
            if enforce and ttl_s:
                enf = orjson.dumps(
                    {"action": action, "since": now, "until": now + ttl_s, "reasons": list(reasons)}
                )
                pipe.hset(akey, "enf", enf)
            if action == "verify":
                pipe.hsetnx(akey, "challenge", repr(now))
            if learn:
                for k, v in indicator_keys(context):
                    pipe.set(f"{p}ind:{k}|{v}", campaign_id, ex=indicator_ttl_s)
            pipe.execute()
        except _ERRORS as exc:
            raise StateUnavailable(str(exc)) from exc

    def observe(self, context: RequestContext, signals: dict[str, Any], now: float) -> None:
        """Merge one exchange's signals into the account's features (one round trip).

        Compare-and-set on the state's version: the update is applied to the state this
        replica wrote last (or a new one) and written only if no one else wrote since;
        otherwise Redis returns the current state and the update is applied to that.
        """
        acct = context.account_id
        p = self.p
        keys = [f"{p}a:{acct}", *(f"{p}hll:{dim}:{acct}" for dim in _DIMS)]
        seen = [context.client_ip or "", context.api_key_id or "", context.user_agent or ""]
        try:
            if not signals:  # without signals (none computed) only the event is counted
                self._observe_script(keys=keys, args=[0, "", "", *seen])
                return
            mine = self._features.pop(acct, None)
            version, fs = mine if mine is not None else (0, self._new_features())
            for _ in range(_CAS_TRIES):
                fs.update(signals)
                res = self._observe_script(
                    keys=keys,
                    args=[
                        version,
                        orjson.dumps(fs.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY),
                        orjson.dumps(fs.features(), option=orjson.OPT_SERIALIZE_NUMPY),
                        *seen,
                    ],
                )
                if int(res[0]) == 1:
                    self._keep_features(acct, int(res[1]), fs)
                    return
                version = int(res[1])
                fs = self._features_from(res[2] if len(res) > 2 else None)
        except _ERRORS as exc:
            raise StateUnavailable(str(exc)) from exc
        raise StateUnavailable(f"observe {acct}: state kept changing ({_CAS_TRIES} tries)")

    def _keep_features(self, account: str, version: int, fs: Any) -> None:
        cache = self._features
        cache[account] = (version, fs)
        if len(cache) > self._feature_cache:
            cache.popitem(last=False)

    def load_verdicts(
        self, verdicts: Iterable[Verdict], campaigns: Iterable[Campaign], loaded_at: float
    ) -> int:
        """Replace verdicts and campaign indicators atomically (build, then ``RENAME``)."""
        p = self.p
        vmap = {v.account_id: v.model_dump_json() for v in verdicts}
        inds = {f"{k}|{v}": cid for k, v, cid in campaign_indicators(campaigns)}
        try:
            pipe = self.r.pipeline(transaction=True)
            for name, data in (("verdicts", vmap), ("ind:batch", inds)):
                tmp = f"{p}{name}:loading"
                pipe.delete(tmp)
                items = list(data.items())
                for i in range(0, len(items), 1000):
                    pipe.hset(tmp, mapping=dict(items[i : i + 1000]))
                if data:
                    pipe.rename(tmp, f"{p}{name}")
                else:
                    pipe.delete(f"{p}{name}")
            pipe.set(f"{p}verdicts_at", repr(loaded_at))
            pipe.execute()
        except _ERRORS as exc:
            raise StateUnavailable(str(exc)) from exc
        return len(vmap)

    def load_accounts(self, accounts: Iterable[AccountRecord]) -> int:
        """Add or replace registry records."""
        n = 0
        try:
            pipe = self.r.pipeline(transaction=False)
            for rec in accounts:
                d = {
                    "account_id": rec.account_id,
                    "account_type": rec.account_type,
                    "verification": rec.verification,
                    "status": rec.status,
                    "payment_fingerprint": rec.payment_fingerprint,
                    "org_id": rec.org_id,
                    "created_at": rec.created_at,
                }
                pipe.hset(f"{self.p}reg", rec.account_id, orjson.dumps(d))
                if rec.status in ("banned", "suspended") and rec.payment_fingerprint:
                    pipe.hset(f"{self.p}banpay", rec.payment_fingerprint, rec.account_id)
                n += 1
                if n % 1000 == 0:
                    pipe.execute()
            pipe.execute()
        except _ERRORS as exc:
            raise StateUnavailable(str(exc)) from exc
        return n

    def mark_verified(self, account_id: str, until: float) -> None:
        """Record a passed step-up verification and close the challenge."""
        akey = f"{self.p}a:{account_id}"
        try:
            pipe = self.r.pipeline(transaction=True)
            pipe.hset(akey, "verified", repr(until))
            pipe.hdel(akey, "challenge")
            pipe.execute()
        except _ERRORS as exc:
            raise StateUnavailable(str(exc)) from exc

    def healthy(self) -> bool:
        """True when Redis answers PING."""
        try:
            return bool(self.r.ping())
        except _ERRORS:
            return False

    def close(self) -> None:
        """Close the connection pool."""
        self.r.close()
