"""What simulate writes: the native spec, the registry, the truth, byte-for-byte determinism."""

from __future__ import annotations

import gzip
import itertools
import json
import re
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
import yaml
from sim_world import SMALL, TINY, World

from distillguard.contracts import read_truth
from distillguard.ingest import normalize_account, normalize_native, read_exchanges
from distillguard.simulate import scenario_from_dict, simulate

_STOPS = {
    "anthropic.messages": {"end_turn", "max_tokens", "tool_use", "stop_sequence"},
    "openai.chat_completions": {"stop", "length", "tool_calls"},
}


def test_every_exchange_conforms_to_the_spec(small_world: World) -> None:
    paths = set()
    for e in small_world.exchanges:
        row = normalize_native(e)  # the ingest reader accepts it
        assert row["account_id"] in small_world.accounts
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["timestamp"])
        if e["response"]["status"] != 200:  # rate limited / overloaded: an error, no usage
            assert e["response"]["status"] in (429, 500, 529) and e["response"]["error"]["type"]
            continue
        assert e["response"]["stop_reason"] in _STOPS[e["api"]]
        usage = e["response"]["usage"]
        if e["api"] == "anthropic.messages":
            assert {"input_tokens", "output_tokens"} <= usage.keys()
            assert "max_tokens" in e["request"] and "messages" in e["request"]
        else:
            assert {"prompt_tokens", "completion_tokens"} <= usage.keys()
            assert "max_completion_tokens" in e["request"]
        assert all(k == k.lower() for k in e["client"]["headers"])
        assert e["latency_ms"] > 0
        paths.add(e["access_path"])
    assert {"api", "console", "cloud:aws", "cloud:gcp"} <= paths
    assert {e["api"] for e in small_world.exchanges} == set(_STOPS)
    assert len({e["id"] for e in small_world.exchanges}) == len(small_world.exchanges)


def test_stop_reason_matches_the_request(small_world: World) -> None:
    for e in small_world.exchanges:
        if e["response"]["status"] != 200:
            continue
        out = e["response"]["usage"].get(
            "output_tokens", e["response"]["usage"].get("completion_tokens")
        )
        cap = e["request"].get("max_tokens") or e["request"].get("max_completion_tokens")
        assert out <= cap
        if e["response"]["stop_reason"] in ("tool_use", "tool_calls"):
            assert e["request"].get("tools")


def test_registry_and_truth_agree(small_world: World) -> None:
    for a in small_world.accounts.values():
        normalize_account(a)
        assert (a["status"] == "banned") == (a["status_changed_at"] is not None)
    assert set(small_world.truth) == set(small_world.accounts)
    truth = read_truth(small_world.out / "truth.csv")
    attack = {t.account_id for t in truth if t.is_attack}
    assert all(t.actor for t in truth if t.is_attack) and not any(
        t.actor for t in truth if not t.is_attack
    )
    members = {m for c in small_world.campaigns for m in c["members"]}
    assert members == attack
    seen = {e["account_id"] for e in small_world.exchanges}
    assert len(seen & attack) > 0.8 * len(attack)


def test_exchanges_respect_account_lifetimes(small_world: World) -> None:
    for e in small_world.exchanges:
        a = small_world.accounts[e["account_id"]]
        assert e["timestamp"][:19] >= a["created_at"][:19]
        if a["status_changed_at"] is not None:
            assert e["timestamp"][:19] < a["status_changed_at"][:19]


def test_roughly_time_ordered(small_world: World) -> None:
    ts = [e["timestamp"] for e in small_world.exchanges]
    inversions = sum(1 for a, b in itertools.pairwise(ts) if b < a)
    assert inversions < 0.05 * len(ts)


def test_resolved_scenario_and_releases(small_world: World) -> None:
    resolved = yaml.safe_load((small_world.out / "scenario.yaml").read_text())
    assert resolved["seed"] == SMALL["seed"] and resolved["scale"] == 1.0
    assert (
        scenario_from_dict({k: v for k, v in resolved.items() if k != "scale"}).name == "test-small"
    )
    rel = json.loads((small_world.out / "model_releases.json").read_text())
    assert rel == [{"model": "frontier-2", "released_at": "2026-03-03T12:00:00.000Z"}]


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    s = scenario_from_dict(TINY)
    simulate(s, tmp_path / "a", seed=5)
    simulate(s, tmp_path / "b", seed=5)
    simulate(s, tmp_path / "c", seed=6)
    for f in ("exchanges.jsonl", "accounts.jsonl", "truth.csv", "campaigns_truth.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert (tmp_path / "a" / "exchanges.jsonl").read_bytes() != (
        tmp_path / "c" / "exchanges.jsonl"
    ).read_bytes()


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz"])
def test_worker_processes_write_the_same_bytes(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distillguard.simulate import engine

    monkeypatch.setattr(engine, "_BATCH", 50)  # many small chunks in flight
    s = scenario_from_dict(TINY)
    one = simulate(s, tmp_path / "one", seed=4, fmt=fmt)
    two = simulate(s, tmp_path / "two", seed=4, fmt=fmt, workers=2)
    assert one.exchanges == two.exchanges and one.by_group == two.by_group
    name = f"exchanges.{fmt}"
    assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


@pytest.mark.parametrize("fmt", ["jsonl.gz", "parquet"])
def test_other_formats_hold_the_same_records(tmp_path: Path, fmt: str) -> None:
    s = scenario_from_dict(TINY)
    simulate(s, tmp_path / "j", seed=3)
    simulate(s, tmp_path / "o", seed=3, fmt=fmt)
    ref = [orjson.loads(x) for x in (tmp_path / "j" / "exchanges.jsonl").read_bytes().splitlines()]
    path = tmp_path / "o" / f"exchanges.{fmt}"
    if fmt == "jsonl.gz":
        got = [orjson.loads(x) for x in gzip.decompress(path.read_bytes()).splitlines()]
        assert got == ref
        simulate(s, tmp_path / "o2", seed=3, fmt=fmt)
        assert path.read_bytes() == (tmp_path / "o2" / f"exchanges.{fmt}").read_bytes()
    else:
        tbl = pq.read_table(path)
        assert tbl.num_rows == len(ref)
        assert tbl.column("id").to_pylist() == [r["id"] for r in ref]
        assert orjson.loads(tbl.column("request")[0].as_py()) == ref[0]["request"]
    ids = []
    for batch in read_exchanges(path):
        ids += batch.column("exchange_id").to_pylist()
    assert ids == [r["id"] for r in ref]


def test_scale_multiplies_accounts_and_volume(tmp_path: Path) -> None:
    s = scenario_from_dict(TINY)
    small = simulate(s, tmp_path / "s", scale=0.5)
    full = simulate(s, tmp_path / "f", scale=1.0)
    assert 0.3 < small.accounts / full.accounts < 0.7
    assert 0.3 < small.exchanges / full.exchanges < 0.7
