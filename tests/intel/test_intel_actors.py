"""Actor memory: naming a campaign stores a versioned fingerprint of hashes, not text."""

from __future__ import annotations

import pytest
from intel_world import PROMPT_MARK, SYSTEM_MARK, make_campaign

from distillguard.errors import InputError
from distillguard.intel import keyed_hash, list_actors, load_actor, name_actor


def test_naming_records_infrastructure_client_payment_template_and_profiles(
    world, store_factory
) -> None:
    store = store_factory()
    world.period(store, 1)
    members = world.members("LAB-A", 1)
    fp = name_actor(store, make_campaign(store, "cmp_a", members), "LAB-A")
    assert fp.version == 1 and fp.members == set(members)
    stored = load_actor(store, "LAB-A")
    # the actor's two proxy /24s, its card fingerprints and its one system prompt
    assert {"45.10.20.0/24", "45.10.21.0/24"} <= set(stored.values["ip_prefix"])
    assert {"pm_lab_0", "pm_lab_1", "pm_lab_2"} <= set(stored.values["payment_fp"])
    assert len(stored.values["system_hash"]) == 1
    assert len(stored.values["client_fp"]) == 1
    # profiles: LAB-A works 00-08 UTC, on education accounts
    hours = stored.profiles["active_hours"]
    assert set(hours) <= {f"{h:02d}" for h in range(8)}
    assert stored.profiles["account_type"] == {"education": 1.0}
    assert "timezone" in stored.profiles and "account_creation" in stored.profiles
    # values only the actor used are pure; the common SDK of benign users is not in it
    assert min(stored.values["payment_fp"].values()) > 0.5


def test_fingerprint_holds_hashes_never_prompt_text(world, store_factory) -> None:
    store = store_factory()
    world.period(store, 1)
    name_actor(store, make_campaign(store, "cmp_a", world.members("LAB-A", 1)), "LAB-A")
    rows = store.con.execute("SELECT kind, value FROM actor_fingerprints").fetchall()
    assert rows
    text = " ".join(f"{k} {v}" for k, v in rows)
    assert PROMPT_MARK not in text and SYSTEM_MARK not in text
    assert "step by step" not in text


def test_naming_again_merges_as_a_new_version_and_keeps_history(world, store_factory) -> None:
    store = store_factory()
    world.period(store, 1)
    a = world.members("LAB-A", 1)
    name_actor(store, make_campaign(store, "c1", a[:6]), "LAB-A")
    fp = name_actor(store, make_campaign(store, "c2", a[6:]), "LAB-A")
    assert fp.version == 2 and fp.campaigns == ["c1", "c2"] and fp.members == set(a)
    v1 = load_actor(store, "LAB-A", version=1)
    v2 = load_actor(store, "LAB-A")
    assert v1.version == 1 and v2.version == 2
    assert v2.n_values() >= v1.n_values()
    summary = list_actors(store)
    assert [s["actor"] for s in summary] == ["LAB-A"] and summary[0]["accounts"] == len(a)


def test_unnamed_actors_get_sequential_names_and_bad_names_are_refused(
    world, store_factory
) -> None:
    store = store_factory()
    world.period(store, 1)
    c = make_campaign(store, "c1", world.members("HYDRA-B", 1))
    assert name_actor(store, c, None).name == "UNNAMED-0001"
    assert name_actor(store, c, None).name == "UNNAMED-0002"
    assert load_actor(store, "UNNAMED-0001").named is False
    with pytest.raises(InputError):
        name_actor(store, c, "   ")
    with pytest.raises(InputError, match="unknown actor"):
        load_actor(store, "NOPE")


def test_a_customer_swept_into_a_named_campaign_lends_the_actor_nothing_of_its_own(
    world, store_factory, tmp_path
) -> None:
    from distillguard.intel import BanEvasionIndex, ReturningActorWatch, export_stix

    store = store_factory()
    world.period(store, 1)
    swept = world.benign[5]  # the scan put one ordinary customer in HYDRA-B's campaign
    camp = make_campaign(store, "HYDRA-B-p1", [*world.members("HYDRA-B", 1), swept])
    fp = name_actor(store, camp, "HYDRA-B")
    own_ips = {
        ip
        for (ip,) in store.con.execute(
            "SELECT DISTINCT regexp_extract(client_ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1) || '.0/24' "
            "FROM exchanges WHERE account_id = ? AND NOT starts_with(client_ip, '34.100.')",
            [swept],
        ).fetchall()
    }
    assert "pm_benign_5" not in fp.values.get("payment_fp", {})
    assert not own_ips & set(fp.values.get("ip_prefix", {}))
    # the actor's shared tooling and infrastructure are kept
    assert {"103.5.0.0/24", "103.5.3.0/24"} <= set(fp.values["ip_prefix"])
    assert fp.values.get("system_hash")
    # nothing of the customer's own leaves in a bundle
    out = tmp_path / "b.json"
    export_stix(out, [camp], key=b"community-key-shared-by-partners", store=store)
    text = out.read_text()
    assert keyed_hash(b"community-key-shared-by-partners", "payment", "pm_benign_5") not in text
    assert not any(f"'{ip}'" in text for ip in own_ips)
    # and online, the customer's own card and addresses do not link it to the actor
    watch = ReturningActorWatch(BanEvasionIndex.from_store(store))
    for ip in sorted(own_ips)[:5]:
        assert watch.observe(swept, payment_fp="pm_benign_5", ip_prefix=ip) is None
