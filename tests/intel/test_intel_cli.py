"""The intel commands end to end through ``main(argv)``: name, list, show, export, import."""

from __future__ import annotations

import json

from intel_world import PROMPT_MARK, World, make_campaign

from distillguard.cli import main
from distillguard.contracts import read_campaigns, write_campaigns
from distillguard.store import Store

KEY = "community-key-shared-by-partners"


def test_name_list_show_export_import_returning(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    store_path = tmp_path / "a.duckdb"
    world = World()
    with Store(store_path) as store:
        world.period(store, 1)
        camps = [
            make_campaign(store, "cmp_lab", world.members("LAB-A", 1)),
            make_campaign(store, "cmp_hydra", world.members("HYDRA-B", 1)),
        ]
    cfile = tmp_path / "out" / "campaigns.json"
    write_campaigns(cfile, camps)
    s = ["--store", str(store_path)]
    assert main(["actors", "name", "cmp_lab", "LAB-A", *s, "--campaigns", str(cfile)]) == 0
    assert main(["actors", "name", "cmp_hydra", *s, "--campaigns", str(cfile)]) == 0
    assert "UNNAMED-0001" in capsys.readouterr().out
    # naming writes the attribution back into campaigns.json
    assert [c.attributed_actor.actor for c in read_campaigns(cfile)] == ["LAB-A", "UNNAMED-0001"]  # type: ignore[union-attr]
    assert main(["actors", "list", *s]) == 0
    listed = capsys.readouterr().out
    assert "LAB-A" in listed and "UNNAMED-0001 (unnamed)" in listed
    assert main(["actors", "show", "LAB-A", *s]) == 0
    shown = capsys.readouterr().out
    assert "ip_prefix" in shown and "45.10.20.0/24" in shown and PROMPT_MARK not in shown

    bundle = tmp_path / "share.json"
    rc = main(["export", "stix", str(bundle), "--campaigns", str(cfile), "--campaign", "cmp_lab",
               "--tlp", "green", "--key", KEY, "--producer", "Provider A", *s])  # fmt: skip
    assert rc == 0 and "valid STIX 2.1" in capsys.readouterr().out
    doc = json.loads(bundle.read_text())
    assert {o["type"] for o in doc["objects"]} >= {"campaign", "intrusion-set", "indicator"}
    assert any(o.get("name") == "TLP:GREEN" for o in doc["objects"])

    misp = tmp_path / "event.json"
    monkeypatch.setenv("DISTILLGUARD_COMMUNITY_KEY", KEY)
    assert main(["export", "misp", str(misp), "--campaigns", str(cfile), *s]) == 0
    event = json.loads(misp.read_text())
    text = misp.read_text()
    assert any(a["type"] == "ip-src" for a in event["Attribute"])
    assert all(a not in text for a in world.members("LAB-A", 1)) and PROMPT_MARK not in text

    b = ["--store", str(tmp_path / "b.duckdb")]
    assert main(["intel", "import", str(bundle), *b]) == 0
    assert "from Provider A" in capsys.readouterr().out
    with Store(tmp_path / "b.duckdb") as store_b:
        World(seed=5).period(store_b, 2)
    out_csv = tmp_path / "returning.csv"
    assert main(["intel", "returning", *b, "--out", str(out_csv)]) == 0
    rows = out_csv.read_text().splitlines()
    assert rows[0] == "account_id,linked_to,score,reasons"
    linked = {r.split(",")[0]: r.split(",")[1] for r in rows[1:]}
    assert linked and set(linked.values()) == {"LAB-A"}
    assert all(a.startswith("acct_lab2_") for a in linked)


def test_errors_name_the_file_and_exit_2(tmp_path, capsys) -> None:
    cfile = tmp_path / "campaigns.json"
    write_campaigns(cfile, [])
    s = ["--store", str(tmp_path / "s.duckdb")]
    assert main(["actors", "name", "nope", "X", *s, "--campaigns", str(cfile)]) == 2
    assert "unknown campaign" in capsys.readouterr().out
    assert main(["actors", "show", "NOBODY", *s]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "bundle", "spec_version": "2.0", "objects": []}')
    assert main(["intel", "import", str(bad), *s]) == 2
    assert "wrong spec version" in capsys.readouterr().out
    assert main(["export", "stix", str(tmp_path / "x.json"), "--campaigns", str(cfile),
                 "--key", "short"]) == 2  # fmt: skip
