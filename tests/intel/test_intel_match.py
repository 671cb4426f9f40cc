"""Attribution: period-two campaigns match the actor named in period one, benign do not."""

from __future__ import annotations

from intel_world import make_campaign

from distillguard.intel import attribute, load_actor, match_campaign, name_actor
from distillguard.intel.actors import load_actors


def _named_world(world, store_factory):
    store = store_factory()
    world.period(store, 1)
    for actor in ("LAB-A", "HYDRA-B"):
        name_actor(store, make_campaign(store, f"{actor}-p1", world.members(actor, 1)), actor)
    world.period(store, 2)
    return store


def test_returning_campaigns_are_attributed_to_the_right_actor(world, store_factory) -> None:
    store = _named_world(world, store_factory)
    camps = [
        make_campaign(store, "cmp_a2", world.members("LAB-A", 2)),
        make_campaign(store, "cmp_b2", world.members("HYDRA-B", 2)),
    ]
    out = attribute(camps, store)
    assert [c.attributed_actor.actor for c in out] == ["LAB-A", "HYDRA-B"]  # type: ignore[union-attr]
    for c in out:
        assert c.attributed_actor is not None and c.attributed_actor.confidence >= 0.6
        assert c.attributed_actor.evidence, "the matched evidence is listed"
        assert c.extra["attribution"]["status"] == "matched"
    # the strongest evidence of LAB-A is something it alone used
    top = out[0].attributed_actor.evidence[0]  # type: ignore[union-attr]
    assert top.split("=")[0] in {"system_hash", "payment_fp", "ip_prefix", "template_id"}
    # inputs are not modified
    assert camps[0].attributed_actor is None


def test_benign_campaign_is_unmatched_and_says_so(world, store_factory) -> None:
    store = _named_world(world, store_factory)
    benign = make_campaign(store, "cmp_benign", world.benign[:12])
    (c,) = attribute([benign], store)
    assert c.attributed_actor is None
    assert c.extra["attribution"]["status"] == "unmatched"
    assert c.extra["attribution"]["known_actors"] == 2


def test_similar_profile_alone_never_attributes(world, store_factory) -> None:
    store = _named_world(world, store_factory)
    benign = make_campaign(store, "cmp_benign", world.benign[:12])
    matches = match_campaign(store, benign, load_actors(store))
    for m in matches:
        discrete = [e for e in m.evidence if not e.kind.startswith("profile:")]
        if not discrete:
            assert m.score == 0.0


def test_unmatched_campaign_becomes_a_new_unnamed_actor_when_asked(world, store_factory) -> None:
    store = store_factory()
    world.period(store, 1)
    c = make_campaign(store, "cmp_b1", world.members("HYDRA-B", 1))
    (out,) = attribute([c], store, create_unnamed=True)
    assert out.attributed_actor is not None and out.attributed_actor.actor == "UNNAMED-0001"
    assert out.extra["attribution"]["status"] == "new-actor"
    assert load_actor(store, "UNNAMED-0001").members == set(c.members)


def test_learning_follows_the_actor_as_a_new_version(world, store_factory) -> None:
    store = _named_world(world, store_factory)
    c = make_campaign(store, "cmp_a2", world.members("LAB-A", 2))
    attribute([c], store, learn=True)
    fp = load_actor(store, "LAB-A")
    assert fp.version == 2 and set(world.members("LAB-A", 2)) <= fp.members


def test_only_members_whose_own_evidence_agrees_are_attributed(world, store_factory) -> None:
    store = _named_world(world, store_factory)
    lab = world.members("LAB-A", 2)
    swept = world.benign[:5]  # ordinary customers a scan put in the same campaign
    (c,) = attribute([make_campaign(store, "mixed", lab + swept)], store)
    assert c.attributed_actor is not None and c.attributed_actor.actor == "LAB-A"
    att = c.extra["attribution"]
    assert set(att["corroborated_members"]) == set(lab)
    assert att["uncorroborated_members"] == len(swept)
