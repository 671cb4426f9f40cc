"""The online state used by ``decide`` stops a banned actor's replacement at first sight."""

from __future__ import annotations

from intel_world import P2, World, make_campaign

from distillguard.intel import IntelEvidenceSource, name_actor
from distillguard.intel._evidence import VALUES_TABLE, ensure_account_values
from distillguard.online.context import RequestContext
from distillguard.online.decide import decide
from distillguard.online.memory import MemoryState
from distillguard.online.state import AccountRecord


def _signals_of(account: str) -> tuple[dict[str, str], str]:
    """The signal values and one client address of ``account``'s period-two traffic."""
    from distillguard.store import Store

    world = World()  # the same world, built apart (the state must not see period two)
    with Store(":memory:") as s2:
        world.period(s2, 1)
        world.period(s2, 2)
        ensure_account_values(s2)
        values = dict(
            s2.con.execute(
                f"SELECT kind, any_value(value) FROM {VALUES_TABLE} WHERE account_id = ? "
                "AND kind IN ('client_fp', 'system_hash') GROUP BY kind",
                [account],
            ).fetchall()
        )
        (ip,) = s2.con.execute(
            "SELECT client_ip FROM exchanges WHERE account_id = ? ORDER BY timestamp LIMIT 1",
            [account],
        ).fetchone()
    return values, ip


def test_decide_blocks_a_replacement_of_a_banned_actor_on_its_first_request(
    world, store_factory
) -> None:
    store = store_factory()
    world.period(store, 1)  # the enforcement side knows period one only
    lab = world.members("LAB-A", 1)
    name_actor(store, make_campaign(store, "LAB-A-p1", lab), "LAB-A")
    store.con.execute(
        f"UPDATE accounts SET status = 'banned', status_changed_at = ? "
        f"WHERE account_id IN ({','.join('?' * len(lab))})",
        [P2, *lab],
    )
    state = MemoryState(evidence_sources=[IntelEvidenceSource.from_store(store)])
    now = P2.timestamp() + 3600

    def first_request(account: str, pay: str) -> tuple[str, list[str]]:
        signals, ip = _signals_of(account)
        ctx = RequestContext(
            account_id=account,
            api="anthropic.messages",
            body={"messages": [{"role": "user", "content": "hello"}]},
            ts=now,
            client_ip=ip,
            signals=signals,
        )
        state.load_accounts([AccountRecord(account_id=account, payment_fingerprint=pay)])
        d = decide(ctx, state.view(ctx, now))
        return d.action, d.reasons

    # a fresh LAB-A account on a fresh card, never seen by the state: its first request
    # already carries the actor's system prompt, client build and proxy range
    replacement = "acct_lab2_01"  # on a fresh card (see intel_world)
    action, reasons = first_request(replacement, "pm_never_seen")
    assert "known_actor" in reasons
    assert action in ("block", "verify")
    # an ordinary customer's first request is not linked to any actor
    action, reasons = first_request(world.benign[0], "pm_benign_0")
    assert "known_actor" not in reasons and "banned_link" not in reasons
    assert action not in ("block", "verify")
