"""Returning actors: replacement accounts are flagged, at first sight online, benign never."""

from __future__ import annotations

from intel_world import P2, make_campaign

from distillguard.intel import (
    BanEvasionIndex,
    ReturningActorWatch,
    name_actor,
    returning_accounts,
)
from distillguard.intel._evidence import ensure_account_values
from distillguard.intel.evasion import BANNED_TARGET


def _p1_with_bans(world, store_factory, *, name: bool):
    """Period one in a store, bans applied; actors named only when ``name``."""
    store = store_factory()
    world.period(store, 1)
    if name:
        for actor in ("LAB-A", "HYDRA-B"):
            c = make_campaign(store, f"{actor}-p1", world.members(actor, 1))
            name_actor(store, c, actor)
    banned = [a for a in world.members("LAB-A", 1)]
    store.con.execute(
        f"UPDATE accounts SET status = 'banned', status_changed_at = ? "
        f"WHERE account_id IN ({','.join('?' * len(banned))})",
        [P2, *banned],
    )
    return store


def test_batch_flags_replacements_with_the_link_and_no_benign(world, store_factory) -> None:
    store = store_factory()
    world.period(store, 1)
    for actor in ("LAB-A", "HYDRA-B"):
        name_actor(store, make_campaign(store, f"{actor}-p1", world.members(actor, 1)), actor)
    world.period(store, 2)
    flagged = returning_accounts(store)
    by_account = {r.account_id: r for r in flagged}
    returning = world.members("LAB-A", 2) + world.members("HYDRA-B", 2)
    assert set(by_account) == set(returning)
    for r in flagged:
        assert r.target == world.truth[r.account_id]
        assert r.reasons and "shared with" in r.reasons[0]
    assert not any(world.truth[a] == "" for a in by_account)


def test_banned_accounts_alone_are_ground_truth_without_any_named_actor(
    world, store_factory
) -> None:
    store = _p1_with_bans(world, store_factory, name=False)
    world_p2 = world
    world_p2.period(store, 2)  # period two also bans half of HYDRA-B
    flagged = {r.account_id: r for r in returning_accounts(store)}
    lab_new = set(world.members("LAB-A", 2))
    assert lab_new <= set(flagged)
    # all of LAB-A's banned accounts form one cluster, and its replacements link to it
    targets = {flagged[a].target for a in lab_new}
    assert len(targets) == 1 and targets.pop().startswith(BANNED_TARGET + ":acct_lab1_")
    assert not any(world.truth[a] == "" for a in flagged)


def test_online_watch_flags_replacements_within_their_first_exchanges(world, store_factory) -> None:
    store = _p1_with_bans(world, store_factory, name=True)
    index = BanEvasionIndex.from_store(store)
    assert len(index) > 0
    world.period(store, 2)
    ensure_account_values(store)
    watch = ReturningActorWatch(index)
    rows = store.con.execute(
        "SELECT e.account_id, e.client_ip, e.user_agent, e.client_headers, e.system_text, "
        "a.payment_fingerprint FROM exchanges e JOIN accounts a USING (account_id) "
        "WHERE e.timestamp >= ? ORDER BY e.timestamp",
        [P2],
    ).fetchall()
    from distillguard.intel._evidence import VALUES_TABLE  # the same hashes as the batch

    per_account: dict[str, dict[str, str]] = {}
    for account, kind, value in store.con.execute(
        f"SELECT account_id, kind, value FROM {VALUES_TABLE} "
        "WHERE kind IN ('client_fp', 'system_hash')"
    ).fetchall():
        per_account.setdefault(account, {})[kind] = value
    seen: dict[str, int] = {}
    first_flag: dict[str, int] = {}
    for account, ip, _ua, _h, _sys, pay in rows:
        seen[account] = seen.get(account, 0) + 1
        link = watch.observe(account, client_ip=ip, payment_fp=pay, **per_account.get(account, {}))
        if link is not None and account not in first_flag:
            first_flag[account] = seen[account]
            assert link.target == world.truth[account] or link.target.startswith(BANNED_TARGET)
    new_attack = world.members("LAB-A", 2) + world.members("HYDRA-B", 2)
    assert all(first_flag.get(a, 99) <= 20 for a in new_attack)
    assert not any(world.truth[a] == "" for a in first_flag)


def test_one_weak_value_is_not_enough_but_a_banned_card_is(world, store_factory) -> None:
    store = _p1_with_bans(world, store_factory, name=False)
    index = BanEvasionIndex.from_store(store)
    one_prefix = index.lookup(client_ip="45.10.20.77")
    assert one_prefix is not None and not one_prefix.flagged
    card = index.lookup(payment_fp="pm_lab_1")
    assert card is not None and card.flagged and card.target.startswith(BANNED_TARGET)
    assert "pm_lab_1" in card.reasons[0] and card.families == {"payment"}
    both = index.lookup(client_ip="45.10.20.77", asn=None, payment_fp=None, template_id=None)
    assert both is not None and both.score == one_prefix.score
    assert index.lookup(client_ip="8.8.8.8", payment_fp="pm_unknown") is None


def test_two_independent_families_flag_and_correlated_kinds_do_not_add_up() -> None:
    from distillguard.intel._evidence import combine
    from distillguard.intel.evasion import _Entry

    t = "LAB-X"
    entries = {
        ("system_hash", "s1"): [_Entry(t, 1.8, "actor LAB-X")],
        ("shape_fp", "h1"): [_Entry(t, 0.9, "actor LAB-X")],
        ("template_id", "t1"): [_Entry(t, 1.8, "actor LAB-X")],
        ("ip_prefix", "45.1.2.0/24"): [_Entry(t, 1.4, "actor LAB-X")],
    }
    index = BanEvasionIndex(entries, {})
    prompting = index.lookup(system_hash="s1", shape_fp="h1", template_id="t1")
    assert prompting is not None and prompting.score >= 2.0 and not prompting.flagged
    assert prompting.families == {"prompting"}
    assert prompting.score == round(
        combine({"system_hash": 1.8, "template_id": 1.8, "shape_fp": 0.9}), 4
    )
    assert prompting.score < 1.8 + 1.8 + 0.9
    both = index.lookup(system_hash="s1", client_ip="45.1.2.9")
    assert both is not None and both.score == 1.8 + 1.4
    assert both is not None and both.flagged and both.families == {"prompting", "network"}


def test_online_evidence_source_answers_banned_link_and_known_actor(world, store_factory) -> None:
    from distillguard.intel import IntelEvidenceSource
    from distillguard.online.context import RequestContext
    from distillguard.online.state import AccountRecord

    store = _p1_with_bans(world, store_factory, name=False)
    name_actor(store, make_campaign(store, "b", world.members("HYDRA-B", 1)), "HYDRA-B")
    source = IntelEvidenceSource.from_store(store)

    def ask(account: str, ip: str, pay: str | None) -> list:
        ctx = RequestContext(account_id=account, api="anthropic.messages", body={}, client_ip=ip)
        return source.lookup(ctx, AccountRecord(account_id=account, payment_fingerprint=pay))

    (card,) = ask("acct_new_1", "8.8.8.8", "pm_lab_2")  # a banned LAB-A card
    assert card.kind == "banned_link" and "pm_lab_2" in card.detail
    assert ask("acct_new_2", "103.5.1.9", None) == []  # one network value is not enough
    # a named member that is not banned: the analyst's claim, not ground truth
    (member,) = ask(world.members("HYDRA-B", 1)[1], "8.8.8.8", None)
    assert member.kind == "campaign_member" and member.value == "HYDRA-B"
    assert "not banned" in member.detail
    # a banned account is itself the link (LAB-A is not named here: a banned cluster)
    (banned,) = ask(world.members("LAB-A", 1)[0], "8.8.8.8", None)
    assert banned.kind == "banned_link" and banned.value.startswith(BANNED_TARGET)
    assert ask("acct_b000", "8.8.8.8", "pm_benign_0") == []
