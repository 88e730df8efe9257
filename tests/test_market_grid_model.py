"""The chain knows the grid it trades on (issue 12, item 5).

The DSO publishes feeders, buses and connection limits to the grid contract (bounded pages,
replaced bus by bus); once published, device registration refuses unknown buses, buses on
another feeder and power above the bus's limit.  Sessions whose first MTU has started and
meter readings for MTUs not yet delivered are refused.  The publication is derived from
the oracle's feeder model (CIGRE LV).  Every refusal is checked with its exact message.
"""
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from gridoracle.config import OracleConfig
from gridoracle.feeder import load_feeder
from gridoracle.publication import PAGE_SIZE, connection_limits_w, grid_rows, publication_pages
from market.client import CALL_GAS
from testnet.devnode import DevNode
from tests.chainkit import TOKEN, key_of
from tests.market_chain import (GENESIS_S, GRID, MARKET, ORACLE_NAME, PHASES, REGISTRY, World,
                                assert_replays_identically, ok, rejected)

GRID_ROWS = {"f1": [["bus1", 50_000], ["bus2", None]], "f2": [["bus9", 20_000]]}


def publish(world: World, rows: dict = GRID_ROWS) -> None:
    for feeder, buses in rows.items():
        ok(world.chain.call(world.dso, GRID, "publish_buses", feeder, buses))


def register(world: World, device_id: str, bus: str, feeder: str, max_power: int = 10_000):
    spec = {"id": device_id, "type": "load", "max_power": max_power, "min_power": 0, "capacity": 0,
            "bus": bus, "feeder": feeder}
    return world.chain.call(world.alice, REGISTRY, "register_device", spec)


@pytest.fixture
def world(tmp_path):
    built = World.build(tmp_path / "node")
    yield built
    built.chain.close()


def test_publishing_is_for_grid_operators_with_bounded_well_formed_pages(world):
    c = world.chain
    rejected(c.call(world.alice, GRID, "publish_buses", "f1", [["bus1", None]]),
             "only the DSO or the grid oracle key may publish the grid")
    for feeder, buses, message in (
            ("F 1", [["bus1", None]], "feeder must be 1 to 64 characters from a-z 0-9 . _ -"),
            ("f1", [], "buses must be a list of 1 to 64 [bus, limit_w] rows"),
            ("f1", [[f"bus{n:03d}", None] for n in range(65)], "buses must be a list of 1 to 64 [bus, limit_w] rows"),
            ("f1", [["bus1", 0]], "a bus row is [bus, limit_w] with a bus id and limit_w an int >= 1 (W) or None"),
            ("f1", [["Bus 1", 10]], "a bus row is [bus, limit_w] with a bus id and limit_w an int >= 1 (W) or None"),
            ("f1", [["bus1"]], "a bus row is [bus, limit_w] with a bus id and limit_w an int >= 1 (W) or None"),
            ("f1", [["bus2", 1], ["bus1", 1]], "buses must be in ascending order of bus id, each once"),
            ("f1", [["bus1", 1], ["bus1", 2]], "buses must be in ascending order of bus id, each once")):
        rejected(c.call(world.dso, GRID, "publish_buses", feeder, buses), message)
    assert c.query(GRID, "published") is False
    assert ok(c.call(key_of(ORACLE_NAME), GRID, "publish_buses", "f1", [["bus1", 5]])) == 1
    assert c.query(GRID, "published") is True


def test_a_full_page_of_long_ids_fits_a_call_even_when_every_bus_moves(world):
    c = world.chain
    page = [[f"{n:03d}" + "b" * 61, 1_000_000 + n] for n in range(PAGE_SIZE)]
    full = c.call(world.dso, GRID, "publish_buses", "f" * 64, page)
    moved = c.call(world.dso, GRID, "publish_buses", "g" * 64, page)
    assert ok(full) == ok(moved) == PAGE_SIZE and full.gas_used < moved.gas_used < CALL_GAS
    one = c.call(world.dso, GRID, "publish_buses", "h" * 64, page[:1])
    assert full.gas_used > PAGE_SIZE * one.gas_used // 2  # gas grows with the buses


def test_republishing_replaces_a_bus_and_never_removes_one(world):
    c = world.chain
    publish(world)
    assert c.query(GRID, "feeders", None, 100) == [{"feeder": "f1", "buses": 2}, {"feeder": "f2", "buses": 1}]
    assert c.query(GRID, "bus", "bus2") == {"bus": "bus2", "feeder": "f1", "limit_w": None}
    assert c.query(GRID, "bus", "bus-zz99") is None and c.query(GRID, "bus", "Bad Id") is None
    assert ok(c.call(world.dso, GRID, "publish_buses", "f2", [["bus1", 7_000], ["bus3", None]])) == 3
    assert c.query(GRID, "feeders", None, 100) == [{"feeder": "f1", "buses": 1}, {"feeder": "f2", "buses": 3}]
    assert c.query(GRID, "buses", "f2", None, 100) == [{"bus": "bus1", "feeder": "f2", "limit_w": 7_000},
                                                       {"bus": "bus3", "feeder": "f2", "limit_w": None},
                                                       {"bus": "bus9", "feeder": "f2", "limit_w": 20_000}]
    assert c.query(GRID, "buses", "f2", "bus1", 1) == [{"bus": "bus3", "feeder": "f2", "limit_w": None}]
    ok(c.call(world.dso, GRID, "publish_buses", "f2", [["bus2", None]]))  # f1's last bus moves: f1 is unlisted
    assert c.query(GRID, "feeders", None, 100) == [{"feeder": "f2", "buses": 4}]


def test_registration_refuses_unknown_buses_wrong_feeders_and_power_above_the_limit(world, tmp_path):
    c = world.chain
    ok(register(world, "early-load", "bus-zz99", "q"))  # no grid published yet: any bus is taken
    publish(world)
    rejected(register(world, "stray", "bus-zz99", "q"), "device stray: bus bus-zz99 is not on the published grid")
    rejected(register(world, "misfed", "bus9", "f1"), "device misfed: bus bus9 is on feeder f2, not f1")
    rejected(register(world, "big-load", "bus1", "f1", max_power=200_000),
             "device big-load: max_power 200000 W is above the connection limit of bus bus1 (50000 W)")
    ok(register(world, "at-limit", "bus1", "f1", max_power=50_000))
    ok(register(world, "unlimited", "bus2", "f1", max_power=10**9))
    assert c.query(REGISTRY, "device", "at-limit")["bus"] == "bus1"
    supply = c.query(TOKEN, "total_supply")
    assert_replays_identically(c, tmp_path / "replica")
    assert c.query(TOKEN, "total_supply") == supply


@pytest.mark.parametrize("moment", [datetime(1970, 1, 1, 0, 0), datetime(2024, 2, 29, 12, 15),
                                    datetime(2025, 12, 31, 23, 45), datetime(2026, 1, 1, 0, 0)])
def test_a_session_whose_first_mtu_has_started_is_refused(world, moment):
    c = world.chain
    mtu = int(moment.replace(tzinfo=timezone.utc).timestamp()) // 900
    for function in ("open_energy", "publish_capacity"):
        spec = {"feeder": "f1", "first_mtu": mtu, "n_mtus": 1, "max_price": 1, "max_qty": 1, "capacity": [1],
                "rule": "premium" if function == "publish_capacity" else "uniform"}
        rejected(c.call(world.dso, MARKET, function, spec),
                 f"the session's first MTU {mtu} ({moment:%Y-%m-%d %H:%M} UTC) has already started")
    ok(c.call(world.dso, MARKET, "open_energy", {"feeder": "f1", "first_mtu": c.now // 900 + 1, "n_mtus": 1,
                                                    "max_price": 1, "max_qty": 1}))


def test_meter_readings_wait_for_the_end_of_their_mtu(tmp_path):
    world = World.build(tmp_path / "node", config=replace(PHASES, meter_lead=0))
    try:
        c = world.chain
        current = c.now // 900
        assert c.now > current * 900 and GENESIS_S == current * 900
        rejected(world.meter([("alice-load", current - 1, 100), ("alice-load", current, 100)]),
                 f"meter reading for alice-load MTU {current} before the MTU is delivered")
        ok(world.meter([("alice-load", current - 1, 100)]))
        c.now = (current + 1) * 900
        ok(world.meter([("alice-load", current, 100)]))
        rejected(world.meter([("bob-pv", current + 96, -5)]),
                 f"meter reading for bob-pv MTU {current + 96} before the MTU is delivered")
    finally:
        world.chain.close()


def test_a_meter_lead_accepts_readings_that_early_and_no_earlier(world):
    c = world.chain
    latest = (c.now + PHASES.meter_lead) // 900 - 1
    ok(world.meter([("alice-load", latest, 1)]))
    rejected(world.meter([("alice-load", latest + 1, 1)]),
             f"meter reading for alice-load MTU {latest + 1} before the MTU is delivered")


def test_the_publication_is_derived_from_the_cigre_lv_feeder_model():
    model = load_feeder()
    rows = grid_rows(model, OracleConfig(node="http://127.0.0.1:1", buses={"house-7": "Bus R11"}))
    assert list(rows) == ["c", "i", "r"]
    assert {feeder: len(buses) for feeder, buses in rows.items()} == {"c": 20, "i": 2, "r": 19}
    assert [bus for bus, _ in rows["i"]] == ["bus-i1", "bus-i2"]
    assert sorted(bus for bus, _ in rows["r"]) == sorted(["house-7"] + [f"bus-r{n}" for n in range(1, 19)])
    limits = dict(rows["r"])
    assert limits["bus-r1"] == 500_000  # the transformer, 0.5 MVA
    assert limits["bus-r2"] == 242_487  # Line R1-R2, 0.35 kA at 0.4 kV
    assert limits["bus-r11"] == limits["house-7"] == 103_923  # 0.15 kA behind R3
    assert dict(rows["i"]) == {"bus-i1": 150_000, "bus-i2": 150_000}
    assert all(limit is not None for buses in rows.values() for _, limit in buses)
    assert "Bus R0" not in connection_limits_w(model)  # upstream of the transformer: on no feeder


def test_publication_pages_are_bounded_and_in_order():
    rows = {"a": [[f"b{n:04d}", None] for n in range(450)], "b": [["x", 1]]}
    pages = publication_pages(rows)
    assert [(feeder, len(page)) for feeder, page in pages] == [("a", 64)] * 7 + [("a", 2), ("b", 1)]
    assert [row for _, page in pages[:8] for row in page] == rows["a"]


def test_the_dso_publishes_the_oracle_model_with_the_cli(tmp_path):
    dev = DevNode(tmp_path / "dev", block_interval=0.2)
    dev.init()
    dev.start()
    try:
        def cli(*args: str, check: bool = True):
            return dev.cli(*args, check=check)
        assert cli("dso", "grid", "show").stdout == \
            "no grid published: the DSO publishes it with flexledger dso grid publish\n"
        for name, role in (("dso", "dso"), ("alice", "prosumer")):
            cli("keys", "new", name)
            cli("wallet", "send", name, "100", "--key", "issuer")
            cli("participant", "admit", name, "--name", name, "--role", role, "--key", "issuer")
        refused = cli("dso", "grid", "publish", "--key", "alice", check=False)
        assert refused.stderr.strip() == "error [require_failed]: only the DSO or the grid oracle key may publish the grid"
        published = cli("dso", "grid", "publish").stdout.splitlines()
        assert published[0].startswith("feeder c: published 20 buses, 20 in all (block ")
        assert published[-1] == "the grid on chain: 3 feeders, 40 buses"
        assert cli("dso", "grid", "show").stdout.splitlines() == ["feeder c: 20 buses", "feeder i: 2 buses",
                                                                  "feeder r: 18 buses"]
        assert cli("dso", "grid", "show", "--feeder", "i").stdout.splitlines()[1:] == \
            [f"{'bus-i1':24s} {'150000 W':>16s}", f"{'bus-i2':24s} {'150000 W':>16s}"]
        refused = cli("device", "register", "alice-depot", "--type", "load", "--max-power", "200000", "--bus", "bus-r11",
                      "--feeder", "r", "--key", "alice", check=False)
        assert refused.stderr.strip() == ("error [require_failed]: device alice-depot: max_power 200000 W is above the "
                                          "connection limit of bus bus-r11 (103923 W)")
    finally:
        dev.stop()
