"""STIX 2.1: export validates, leaks nothing private, and a second provider catches the actor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from intel_world import PROMPT_MARK, SYSTEM_MARK, World, make_campaign
from stix2validator import ValidationOptions, validate_file

from distillguard.errors import ConfigError
from distillguard.intel import (
    attribute,
    build_bundle,
    export_stix,
    import_bundle,
    keyed_hash,
    load_actor,
    name_actor,
    partner_evidence,
)
from distillguard.intel.stix import ATLAS_TECHNIQUE, EXTENSION_ID

KEY = b"community-key-shared-by-partners"


def _provider_a(world: World, store_factory):
    store = store_factory("provider_a")
    world.period(store, 1)
    camps = []
    for actor in ("LAB-A", "HYDRA-B"):
        c = make_campaign(store, f"{actor}-p1", world.members(actor, 1))
        name_actor(store, c, actor)
        camps.append(c)
    return store, attribute(camps, store)


def test_export_validates_and_has_every_required_object(world, store_factory, tmp_path) -> None:
    store, camps = _provider_a(world, store_factory)
    out = tmp_path / "bundle.json"
    counts = export_stix(out, camps, key=KEY, store=store, tlp="amber", producer="Provider A")
    results = validate_file(str(out), ValidationOptions(strict=True))
    assert results.is_valid, [e for o in results.object_results for e in o.errors]
    for t in ("identity", "campaign", "intrusion-set", "attack-pattern", "infrastructure",
              "indicator", "relationship", "sighting", "marking-definition",
              "extension-definition"):  # fmt: skip
        assert counts.get(t, 0) >= 1, t
    doc = json.loads(out.read_text())
    objs = doc["objects"]
    amber = next(o for o in objs if o["type"] == "marking-definition")
    assert amber["name"] == "TLP:AMBER"
    assert all(amber["id"] in o.get("object_marking_refs", [amber["id"]]) for o in objs
               if o["type"] not in ("marking-definition", "extension-definition")
               and o.get("name") != "distillguard")  # fmt: skip
    ap = next(o for o in objs if o["type"] == "attack-pattern")
    assert ap["external_references"][0]["external_id"] == ATLAS_TECHNIQUE
    rels = {o["relationship_type"] for o in objs if o["type"] == "relationship"}
    assert {"indicates", "attributed-to", "uses"} <= rels
    patterns = " ".join(o["pattern"] for o in objs if o["type"] == "indicator")
    for needle in ("ipv4-addr:value ISSUBSET", "autonomous-system:number",
                   "user-account:user_id", "x-distillguard-client:fingerprint"):  # fmt: skip
        assert needle in patterns
    camp = next(o for o in objs if o["type"] == "campaign")
    ext = camp["extensions"][EXTENSION_ID]
    assert ext["extension_type"] == "property-extension"
    assert ext["system_prompt_fingerprints"] and ext["capability_profile"]
    # the same export twice gives the same ids (partners update, not duplicate)
    again = build_bundle(camps, key=KEY, store=store, producer="Provider A")
    assert {o.id for o in again.objects} == {o["id"] for o in objs}


def test_no_account_id_email_domain_payment_or_prompt_in_any_export(
    world, store_factory, tmp_path
) -> None:
    store, camps = _provider_a(world, store_factory)
    benign = make_campaign(store, "cmp_benign", world.benign[:20])
    camps.append(benign)
    out = tmp_path / "all.json"
    export_stix(out, camps, key=KEY, store=store, tlp="red")
    text = out.read_text()
    accounts = store.con.execute(
        "SELECT account_id, email_domain, payment_fingerprint FROM accounts"
    ).fetchall()
    assert len(accounts) == 87
    for account_id, email, payment in accounts:
        assert account_id not in text
        assert email not in text
        assert payment not in text
    assert PROMPT_MARK not in text and SYSTEM_MARK not in text
    assert "step by step" not in text.lower()
    # and what stands in for the account ids is the keyed hash
    assert keyed_hash(KEY, "account", world.members("LAB-A", 1)[0]) in text


def test_a_short_or_missing_community_key_is_refused(monkeypatch) -> None:
    from distillguard.intel import community_key

    monkeypatch.delenv("DISTILLGUARD_COMMUNITY_KEY", raising=False)
    with pytest.raises(ConfigError, match="community key"):
        community_key(None)
    with pytest.raises(ConfigError, match="16"):
        community_key("short")
    monkeypatch.setenv("DISTILLGUARD_COMMUNITY_KEY", "x" * 20)
    assert community_key(None) == b"x" * 20


def test_second_provider_catches_the_same_actor_in_its_own_traffic(
    world, store_factory, tmp_path
) -> None:
    store_a, camps = _provider_a(world, store_factory)
    bundle = tmp_path / "lab-a.json"
    export_stix(bundle, [camps[0]], key=KEY, store=store_a, producer="Provider A")
    # provider B never saw period one: only the actor's new accounts on its own API
    store_b = store_factory("provider_b")
    World(seed=99).period(store_b, 2)
    report = import_bundle(store_b, bundle)
    assert report.source == "Provider A" and report.actors == ["LAB-A"]
    assert report.indicators >= 4 and report.unsupported == 0
    partner = load_actor(store_b, "LAB-A")
    assert partner.source == "partner:Provider A" and not partner.members
    lab = [
        a for (a,) in store_b.con.execute(
            "SELECT account_id FROM accounts WHERE account_id LIKE 'acct_lab2_%'"
        ).fetchall()
    ]  # fmt: skip
    hydra = [
        a for (a,) in store_b.con.execute(
            "SELECT account_id FROM accounts WHERE account_id LIKE 'acct_hydra2_%'"
        ).fetchall()
    ]  # fmt: skip
    mine = [make_campaign(store_b, "b-cmp-1", lab), make_campaign(store_b, "b-cmp-2", hydra)]
    out = partner_evidence(store_b, attribute(mine, store_b), key=KEY)
    assert out[0].attributed_actor is not None and out[0].attributed_actor.actor == "LAB-A"
    assert out[1].attributed_actor is None  # HYDRA-B was not shared
    confirmations = out[0].extra["partner_confirmations"]
    assert confirmations and all(c.startswith("confirmed by partner indicator indicator--")
                                 for c in confirmations)  # fmt: skip
    assert any(e["kind"] == "partner_indicator" for e in out[0].evidence)
    assert not out[1].extra["partner_confirmations"]


def test_keyed_account_hashes_confirm_only_with_the_same_key(
    world, store_factory, tmp_path
) -> None:
    store_a, camps = _provider_a(world, store_factory)
    bundle = tmp_path / "b.json"
    export_stix(bundle, camps, key=KEY, store=store_a)
    # a reseller seeing the same account ids (e.g. a cloud platform) imports the bundle
    store_c = store_factory("reseller")
    world.period(store_c, 1)
    import_bundle(store_c, bundle)
    c = make_campaign(store_c, "c", world.members("HYDRA-B", 1))
    with_key = partner_evidence(store_c, [c], key=KEY)[0]
    wrong_key = partner_evidence(store_c, [c], key=b"another-key-entirely-000")[0]
    assert any("account_hash=" in s for s in with_key.extra["partner_confirmations"])
    assert not any("account_hash=" in s for s in wrong_key.extra["partner_confirmations"])


def test_reimporting_a_bundle_replaces_it(world, store_factory, tmp_path: Path) -> None:
    store_a, camps = _provider_a(world, store_factory)
    bundle = tmp_path / "b.json"
    export_stix(bundle, camps, key=KEY, store=store_a)
    store_b = store_factory("b")
    first = import_bundle(store_b, bundle)
    n = store_b.con.execute("SELECT count(*) FROM partner_indicators").fetchone()[0]
    second = import_bundle(store_b, bundle)
    assert first.values == second.values
    assert store_b.con.execute("SELECT count(*) FROM partner_indicators").fetchone()[0] == n
    assert load_actor(store_b, "HYDRA-B").version == 2


def test_bundle_carries_every_pure_range_with_its_purity_not_only_the_scans_top(
    world, store_factory, tmp_path
) -> None:
    store, camps = _provider_a(world, store_factory)
    hydra = next(c for c in camps if c.attributed_actor and c.attributed_actor.actor == "HYDRA-B")
    # the scan lists only a campaign's top ranges; add one ordinary customers share
    shared = "34.100.0.0/24"  # benign customers' cloud egress (see intel_world)
    infra = hydra.infrastructure.model_copy(
        update={"ip_ranges": [hydra.infrastructure.ip_ranges[0], shared]}
    )
    hydra = hydra.model_copy(update={"infrastructure": infra})
    out = tmp_path / "hydra.json"
    export_stix(out, [hydra], key=KEY, store=store, producer="Provider A")
    objs = json.loads(out.read_text())["objects"]
    (v4,) = [o for o in objs if o["type"] == "indicator" and "ipv4-addr" in o["pattern"]]
    for prefix in ("103.5.0", "103.5.1", "103.5.2", "103.5.3"):  # all of HYDRA-B's /24s
        assert f"'{prefix}.0/24'" in v4["pattern"]
    assert shared not in v4["pattern"]
    ext = next(o for o in objs if o["type"] == "intrusion-set")["extensions"][EXTENSION_ID]
    purity = {(p["kind"], p["value"]): p["purity"] for p in ext["fingerprint_purity"]}
    assert 0.5 <= purity[("ip_prefix", "103.5.0.0/24")] <= 1.0
    # the importer trusts each range no more than the producer's purity
    store_b = store_factory("provider_b")
    World(seed=99).period(store_b, 2)
    import_bundle(store_b, out)
    learned = load_actor(store_b, "HYDRA-B").values["ip_prefix"]
    assert set(learned) >= {"103.5.0.0/24", "103.5.3.0/24"} and shared not in learned
    assert learned["103.5.0.0/24"] <= purity[("ip_prefix", "103.5.0.0/24")]


def test_a_large_pool_is_split_into_indicators_the_validator_and_importer_accept(
    world, store_factory, tmp_path, monkeypatch
) -> None:
    # STIX pattern parsers recurse once per OR (the reference one fails near a thousand):
    # a big hydra's pool is shared as several indicators, none over the chunk size
    from distillguard.intel import stix

    monkeypatch.setattr(stix, "PATTERN_CHUNK", 2)
    store, camps = _provider_a(world, store_factory)
    hydra = next(c for c in camps if c.attributed_actor and c.attributed_actor.actor == "HYDRA-B")
    out = tmp_path / "chunked.json"
    export_stix(out, [hydra], key=KEY, store=store, producer="Provider A")
    assert validate_file(str(out), ValidationOptions(strict=True)).is_valid
    objs = json.loads(out.read_text())["objects"]
    v4 = [o for o in objs if o["type"] == "indicator" and "ipv4-addr" in o["pattern"]]
    assert len(v4) >= 2 and all(o["pattern"].count(" OR ") <= 1 for o in v4)
    assert len({o["id"] for o in v4}) == len(v4)
    joined = " ".join(o["pattern"] for o in v4)
    for prefix in ("103.5.0", "103.5.1", "103.5.2", "103.5.3"):  # every /24, in some part
        assert f"'{prefix}.0/24'" in joined
    store_b = store_factory("provider_b")
    report = import_bundle(store_b, out)
    ranges = {v for (v,) in store_b.con.execute(
        "SELECT value FROM partner_indicators WHERE kind = 'ip_range'").fetchall()}  # fmt: skip
    assert {"103.5.0.0/24", "103.5.3.0/24"} <= ranges and report.unsupported == 0
