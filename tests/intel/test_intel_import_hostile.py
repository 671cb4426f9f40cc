"""Hostile or malformed bundles are refused with a clear message; the store is unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from intel_world import make_campaign

from distillguard.errors import InputError
from distillguard.intel import export_stix, import_bundle, name_actor
from distillguard.intel import stix_import as si

KEY = b"community-key-shared-by-partners"


def _snapshot(store) -> dict[str, list[tuple]]:
    tables = [
        r[0]
        for r in store.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY 1"
        ).fetchall()
    ]
    return {
        t: sorted(map(repr, store.con.execute(f"SELECT * FROM {t}").fetchall())) for t in tables
    }


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A store that already holds an actor and one imported bundle, plus a good bundle.

    Module-scoped: every test here must leave the store unchanged, and checks that.
    """
    from intel_world import World

    from distillguard.store import Store

    world = World()
    tmp_path = tmp_path_factory.mktemp("hostile")
    src = Store(tmp_path / "src.duckdb")
    world.period(src, 1)
    camps = [make_campaign(src, "cmp_a", world.members("LAB-A", 1))]
    name_actor(src, camps[0], "LAB-A")
    from distillguard.intel import attribute

    good = tmp_path / "good.json"
    export_stix(good, attribute(camps, src), key=KEY, store=src, producer="Provider A")
    dst = Store(tmp_path / "dst.duckdb")
    world.period(dst, 1)
    name_actor(dst, make_campaign(dst, "mine", world.members("HYDRA-B", 1)), "HYDRA-B")
    import_bundle(dst, good)
    src.close()
    yield dst, json.loads(good.read_text()), tmp_path
    dst.close()


def _write(tmp_path: Path, name: str, doc: object) -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def _refused(store, path: Path, reason: str) -> InputError:
    before = _snapshot(store)
    with pytest.raises(InputError) as info:
        import_bundle(store, path)
    assert reason in str(info.value) and str(path) in str(info.value)
    assert "nothing was imported" in str(info.value)
    assert _snapshot(store) == before
    return info.value


def test_stix_20_bundle_is_refused(loaded) -> None:
    store, doc, tmp = loaded
    old = dict(doc, spec_version="2.0")
    _refused(store, _write(tmp, "v20.json", old), "wrong spec version")
    objs = [dict(o, spec_version="2.0") if o["type"] == "indicator" else o for o in doc["objects"]]
    _refused(store, _write(tmp, "v20b.json", dict(doc, objects=objs)), "wrong spec version")


def test_unknown_object_types_are_refused(loaded) -> None:
    store, doc, tmp = loaded
    evil = {"type": "x-evil-loader", "id": "x-evil-loader--1", "spec_version": "2.1"}
    err = _refused(store, _write(tmp, "u.json", dict(doc, objects=[*doc["objects"], evil])),
                   "unknown object type")  # fmt: skip
    assert err.field == f"objects[{len(doc['objects'])}]"


def test_deep_nesting_is_refused(loaded) -> None:
    store, doc, tmp = loaded
    nested: dict = {"leaf": 1}
    for _ in range(60):
        nested = {"n": nested}
    objs = [dict(o, description=nested) if o["type"] == "campaign" else o for o in doc["objects"]]
    _refused(store, _write(tmp, "deep.json", dict(doc, objects=objs)), "too deeply nested")
    _refused(store, _write(tmp, "deeper.json", "[" * 200_000 + "]" * 200_000), "not JSON")


def test_huge_bundle_is_refused_before_it_is_read(loaded) -> None:
    store, _doc, tmp = loaded
    huge = tmp / "huge.json"
    with huge.open("wb") as fh:  # a sparse file: large on paper, nothing read
        fh.truncate(si.MAX_BYTES + 1)
    _refused(store, huge, "too large")


def test_too_many_objects_bad_json_and_invalid_stix_are_refused(loaded, monkeypatch) -> None:
    store, doc, tmp = loaded
    _refused(store, _write(tmp, "bad.json", '{"type": "bundle", "objects": ['), "not JSON")
    _refused(store, _write(tmp, "list.json", [doc]), "not a bundle")
    broken = [dict(o, pattern="[ipv4-addr:value = ") if o["type"] == "indicator" else o
              for o in doc["objects"]]  # fmt: skip
    _refused(store, _write(tmp, "pat.json", dict(doc, objects=broken)), "invalid STIX")
    monkeypatch.setattr(si, "MAX_OBJECTS", 5)
    _refused(store, _write(tmp, "many.json", doc), "too many objects")


def test_a_failure_while_writing_rolls_everything_back(loaded, monkeypatch) -> None:
    store, doc, tmp = loaded
    doc2 = dict(doc, id="bundle--0b9d2e57-8f3c-4a51-9e8a-2f6d7c5b4a31")
    path = _write(tmp, "other.json", doc2)

    def explode(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(si, "save_actor", explode)
    err = _refused(store, path, "import failed")
    assert "disk full" in str(err)


def test_an_oversized_pattern_and_an_object_without_a_type_are_refused(loaded, monkeypatch) -> None:
    store, doc, tmp = loaded
    no_type = [{k: v for k, v in o.items() if k != "type"} if o["type"] == "sighting" else o
               for o in doc["objects"]]  # fmt: skip
    _refused(store, _write(tmp, "notype.json", dict(doc, objects=no_type)), "unknown object type")
    _refused(store, _write(tmp, "scalar.json", dict(doc, objects=[*doc["objects"], 7])),
             "not an object")  # fmt: skip
    monkeypatch.setattr(si, "MAX_PATTERN_CHARS", 10)
    err = _refused(store, _write(tmp, "longpat.json", doc), "pattern too long")
    assert err.field is not None and err.field.startswith("objects[")


def test_a_pattern_with_thousands_of_terms_is_refused_not_a_crash(loaded) -> None:
    # the reference pattern parser recurses once per OR and dies near a thousand; a
    # hostile bundle must get a clear refusal, not a RecursionError traceback
    store, doc, tmp = loaded
    pat = " OR ".join(f"[ipv4-addr:value = '10.0.{i // 250}.{i % 250}']" for i in range(3000))
    objs = [dict(o, pattern=pat) if o["type"] == "indicator" else o for o in doc["objects"]]
    err = _refused(store, _write(tmp, "terms.json", dict(doc, objects=objs)), "too complex")
    assert err.field is not None and err.field.startswith("objects[")
