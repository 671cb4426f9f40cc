"""Ban-evasion evidence is not pooled over a large banned population.

With thousands of banned accounts, an ordinary customer collects small coincidences
from many *different* banned accounts (a template from one, a household /24 from
another, a stock SDK build from a third). These tests pin the structural rules that
keep such pieces from adding up to a flag while a real returning account still links.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from distillguard.intel import BanEvasionIndex, ReturningActorWatch, returning_accounts
from distillguard.intel._clusters import residential_prefixes, stock_clients
from distillguard.intel._evidence import ensure_account_values, value_stats
from distillguard.intel._linking import kind_score
from distillguard.intel.evasion import RESIDENTIAL_SHARE, _Entry

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _signals_store(store_factory, rows: list[tuple], banned: dict[str, int]):
    """A store whose ``exchange_signals`` holds ``rows`` and whose registry bans ``banned``.

    ``rows``: ``(account, day, ip_prefix, net_kind, client_fp, template_id)``;
    ``banned``: account -> day of its ban.
    """
    store = store_factory()
    n = len(rows)
    tbl = pa.table(
        {
            "exchange_id": [f"x{i}" for i in range(n)],
            "account_id": [r[0] for r in rows],
            "timestamp": pa.array(
                [T0 + timedelta(days=r[1], seconds=i) for i, r in enumerate(rows)],
                pa.timestamp("ms", "UTC"),
            ),
            "ip_prefix": [r[2] for r in rows],
            "net_kind": [r[3] for r in rows],
            "client_fp": [r[4] for r in rows],
            "template_id": [r[5] for r in rows],
        }
    )
    store.con.register("_t_sig", tbl)
    store.con.execute("CREATE TABLE exchange_signals AS SELECT * FROM _t_sig")
    store.con.unregister("_t_sig")
    accounts = sorted({r[0] for r in rows})
    for a in accounts:
        day = banned.get(a)
        store.con.execute(
            "INSERT INTO accounts (account_id, status, status_changed_at) VALUES (?, ?, ?)",
            [a, "banned" if day is not None else "active",
             T0 + timedelta(days=day) if day is not None else None],
        )  # fmt: skip
    ensure_account_values(store, refresh=True)
    return store


def _big_cluster(extra: list[tuple]) -> list[tuple]:
    """Ten banned accounts of one operation (one shared template joins them), each with
    its own datacenter /24 and SDK build, plus ``extra`` rows."""
    rows = []
    for i in range(10):
        a = f"ban_{i:02d}"
        rows.append((a, 0, f"203.0.{i}.0/24", "hosting", f"custom/{i}|py|linux|hs:op", "TPL-OP"))
        rows.append((a, 0, f"203.0.{i}.0/24", "hosting", f"custom/{i}|py|linux|hs:op", "TPL-OP"))
    return rows + extra


def test_pieces_from_different_banned_accounts_of_one_cluster_do_not_add_up(
    store_factory,
) -> None:
    # a newcomer whose /24 one banned account used and whose client another one used:
    # neither value is the cluster's (only one of its banned accounts used each)
    newcomer = [("new_1", 2, "203.0.3.0/24", "hosting", "custom/7|py|linux|hs:op", "TPL-MINE")]
    store = _signals_store(
        store_factory, _big_cluster(newcomer), {f"ban_{i:02d}": 1 for i in range(10)}
    )
    index = BanEvasionIndex.from_store(store)
    assert index.lookup(ip_prefix="203.0.3.0/24") is None
    assert index.lookup(client_fp="custom/7|py|linux|hs:op") is None
    assert not any(r.account_id == "new_1" for r in returning_accounts(store))
    # the cluster's shared template is indexed (all ten banned accounts used it)
    tpl = index.lookup(template_id="TPL-OP")
    assert tpl is not None and tpl.target.startswith("banned-accounts:ban_")


def test_values_several_banned_accounts_share_link_a_returning_account(store_factory) -> None:
    rows = _big_cluster([])
    # the operation's exit /24 and build, used by three of its banned accounts
    rows += [(f"ban_{i:02d}", 0, "198.51.100.0/24", "hosting", "custom/x|py|linux|hs:op",
              "TPL-OP") for i in range(3)]  # fmt: skip
    rows.append(("back_1", 2, "198.51.100.0/24", "hosting", "custom/x|py|linux|hs:op", "TPL-OP"))
    store = _signals_store(store_factory, rows, {f"ban_{i:02d}": 1 for i in range(10)})
    flagged = {r.account_id: r for r in returning_accounts(store)}
    assert set(flagged) == {"back_1"}
    assert len(flagged["back_1"].reasons) >= 2
    assert "banned account ban_0" in flagged["back_1"].reasons[0]


def test_purity_counts_customers_up_to_the_last_ban_not_the_first(store_factory) -> None:
    # a popular template: one banned account on day 0 (banned day 1), customers from day
    # 3, a second banned account banned on day 8; judged by the first ban it looked pure
    rows = [("ban_a", 0, None, None, None, "TPL-POP"), ("ban_b", 5, None, None, None, "TPL-POP")]
    rows += [(f"cust_{i}", 3, None, None, None, "TPL-POP") for i in range(6)]
    rows.append(("late_1", 9, None, None, None, "TPL-POP"))  # after the last ban: an evader?
    store = _signals_store(store_factory, rows, {"ban_a": 1, "ban_b": 8})
    bad = {"ban_a": T0 + timedelta(days=1), "ban_b": T0 + timedelta(days=8)}
    st = value_stats(store, [("template_id", "TPL-POP")], bad)[("template_id", "TPL-POP")]
    assert (st.linked, st.users) == (2, 8)  # six customers count, the later account not
    assert st.purity < 0.5


def test_residential_prefix_weighs_half_and_several_exit_prefixes_add_up(store_factory) -> None:
    rows = []
    for i in range(4):  # four banned accounts of one pool, on three household /24s each
        a = f"ban_{i}"
        for p in ("100.64.1.0/24", "100.64.2.0/24", "100.64.3.0/24"):
            rows.append((a, 0, p, "residential", None, "TPL-H"))
        rows.append((a, 0, "192.0.2.0/24", "hosting", None, "TPL-H"))
    store = _signals_store(store_factory, rows, {f"ban_{i}": 1 for i in range(4)})
    assert residential_prefixes(store, ["100.64.1.0/24", "192.0.2.0/24"]) == {"100.64.1.0/24"}
    index = BanEvasionIndex.from_store(store)
    home = index.lookup(ip_prefix="100.64.1.0/24")
    dc = index.lookup(ip_prefix="192.0.2.0/24")
    assert home is not None and dc is not None
    assert abs(home.score - RESIDENTIAL_SHARE * dc.score) < 1e-3
    assert "network" not in home.families  # one household /24 is not evidence alone
    # an account hopping across the pool's household /24s: the network family counts
    watch = ReturningActorWatch(index)
    watch.observe("hop", ip_prefix="100.64.1.0/24")
    assert watch.observe("hop", ip_prefix="100.64.2.0/24", template_id="TPL-H") is None
    link = watch.observe("hop", ip_prefix="100.64.3.0/24")
    assert link is not None and {"network", "prompting"} <= link.families
    one = ReturningActorWatch(index)
    assert one.observe("home", ip_prefix="100.64.1.0/24", template_id="TPL-H") is None


def test_kind_score_saturates_at_the_kind_weight_and_only_for_pooled_kinds() -> None:
    assert kind_score("ip_prefix", [0.7]) == 0.7
    two = kind_score("ip_prefix", [0.7, 0.7])
    assert 0.7 < two < 1.4 and two < 1.5
    assert kind_score("ip_prefix", [1.4] * 10) < 1.5
    assert kind_score("template_id", [1.0, 1.0, 1.0]) == 1.0  # strongest template only
    index = BanEvasionIndex({("template_id", "a"): [_Entry("T", 1.0, "x")],
                             ("template_id", "b"): [_Entry("T", 1.0, "x")]}, {})  # fmt: skip
    watch = ReturningActorWatch(index)
    watch.observe("acc", template_id="a")
    watch.observe("acc", template_id="b")
    assert watch.index.lookup(template_id="a").score == 1.0  # type: ignore[union-attr]


def test_stock_sdk_builds_are_recognised_by_their_ordinary_users(store_factory) -> None:
    rows = [(f"cust_{i}", 0, None, None, f"anthropic-python/0.{i}.0|py3.11|mac|hs:stock", "T")
            for i in range(25)]  # fmt: skip
    rows += [("ban_0", 0, None, None, "anthropic-python/0.7.0|py3.11|mac|hs:stock", "T"),
             ("ban_0", 0, None, None, "scraper/1.0|py3.12|linux|hs:own", "T")]  # fmt: skip
    store = _signals_store(store_factory, rows, {"ban_0": 1})
    fps = ["anthropic-python/0.99.0|py3.12|linux|hs:stock", "scraper/1.0|py3.12|linux|hs:own"]
    assert stock_clients(store, fps, {"ban_0"}) == {fps[0]}
