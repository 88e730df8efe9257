"""Grid attestations and the RED override on a real chain: only the genesis oracle key
attests, once per session, with a well-formed report; settlement waits for it; an attested
violation curtails the cleared trades exactly as documented (checked against the Python
statement of the rule in market.attestation) and the token supply is conserved; a RED
override voids or curtails trades with the escrow refunded and no penalty."""
import pytest

from market.attestation import (Curtailment, Report, ReportError, apply_curtailment, apply_override, build_report,
                                capped_curtailment, positions, wh_from_w)
from market.genesis import MarketConfig
from market.orders import Order
from node.encoding import decode, sha256
from tests.chainkit import DAVE, TOKEN
from tests.market_chain import GRID, MARKET, World, assert_replays_identically, key_of, ok, rejected

HASH = "5e" * 32


@pytest.fixture
def world(tmp_path):
    built = World.build(tmp_path / "node")
    yield built
    built.chain.close()


def oracle():
    return key_of("grid-oracle")


def cleared(world, rule="uniform", attestor=True, buyer_price=200_000):
    """An energy session on f1 cleared to two trades in MTU offset 0 (alice-load buys 4000 Wh;
    bob-pv sells 3000 at 100 000, the battery 2000 at 150 000) and one in offset 1."""
    c = world.chain
    sid = c.open_session(world.dso, "open_energy", min_price=10_000, max_price=500_000, min_qty=100, max_qty=10_000,
                         imbalance_price=300_000, rule=rule, attestor=oracle().address if attestor else None)
    orders = [(world.alice, Order("buy", "alice-load", buyer_price, 4_000, 100, (0, 1))),
              (world.bob, Order("sell", "bob-pv", 100_000, 3_000, 100, (0, 1))),
              (world.agg, Order("sell", "bob-battery", 150_000, 2_000, 100, (0,)))]
    c.trade_and_clear(sid, orders, world.bob)
    return sid


def balances(world):
    return {k.address: world.chain.balance(k.address) for k in (world.dso, world.alice, world.bob, world.agg)}


def supply_is_conserved(world):
    c = world.chain
    holders = (c.issuer, world.dso, world.mdm, world.agg, world.alice, world.bob)
    assert c.balance(MARKET) == 0
    assert c.query(TOKEN, "total_supply") == sum(c.balance(k.address) for k in holders)


def test_only_the_oracle_key_attests_once_and_settlement_waits_for_it(world):
    c = world.chain
    rejected(c.call(world.dso, MARKET, "open_energy", {"feeder": "f1", "first_mtu": 1, "n_mtus": 1, "max_price": 1,
                                                       "max_qty": 1, "attestor": world.dso.address}),
             "the attestor must be the grid oracle key")
    sid = cleared(world)
    assert c.session(sid)["phase"] == "grid_validation_pending"
    rejected(c.call(world.bob, MARKET, "settle", sid), "not ready to settle (the session is in grid_validation_pending)")
    report = build_report(c.session(sid), HASH)
    for forger in (world.dso, world.agg, world.bob, DAVE):
        rejected(c.call(forger, MARKET, "attest", sid, report.to_value()), "only the grid oracle key may attest")
    receipt = c.call(oracle(), MARKET, "attest", sid, report.to_value())
    assert ok(receipt) == 0
    assert [(e.name, e.data) for e in receipt.events] == [("Attested", {
        "session": sid, "attestor": oracle().address, "input_hash": HASH, "verdict": "approved", "violations": 0,
        "changes": 0})]
    rejected(c.call(oracle(), MARKET, "attest", sid, report.to_value()), "the session is already attested")
    session = c.session(sid)
    assert session["phase"] == "delivery" and session["attestation"]["input_hash"] == HASH
    assert c.query(MARKET, "attestation", sid)["report"] == report.to_value()
    # a session without an attestor settles without one and cannot be attested
    plain = cleared(world, attestor=False)
    rejected(c.call(oracle(), MARKET, "attest", plain, build_report(c.session(plain), HASH).to_value()),
             "the session is not waiting for grid validation")


def test_malformed_reports_are_rejected_with_their_messages(world):
    c = world.chain
    sid = cleared(world)
    session = c.session(sid)
    first = session["first_mtu"]
    good = build_report(session, HASH, [("line:3", 10_500, 10_000, first)], [(first, "alice-load", 500)]).to_value()
    cases = [
        ({"extra": 1}, "report must be a dict with exactly: session, mtus, input_hash, verdict, violations, curtailment"),
        ({"session": sid + 1}, "the report is for another session"),
        ({"mtus": [first]}, "report mtus must be the session's MTUs, ascending"),
        ({"input_hash": "XY" * 32}, "input_hash must be 64 hex digits"),
        ({"verdict": "fine"}, "verdict must be approved or violated"),
        ({"verdict": "approved"}, "an approved report has no violations and no curtailment"),
        ({"violations": []}, "a violated report lists its violations"),
        ({"violations": [["line:3", 10_500, 10_000, first + 9]]},
         "violations must be at most 1000 [element, value, limit, mtu] rows (element id of 1 to 64 printable ASCII "
         "characters, ints, an MTU of the report)"),
        ({"violations": [["line:\n", 10_500, 10_000, first]]},
         "violations must be at most 1000 [element, value, limit, mtu] rows (element id of 1 to 64 printable ASCII "
         "characters, ints, an MTU of the report)"),
        ({"curtailment": [[first, "bob-pv", 10], [first, "alice-load", 10]]},
         "curtailment must be at most 8000 [mtu, device, wh] rows, wh >= 1, sorted and distinct by (mtu, device)"),
        ({"curtailment": [[first, "alice-load", 0]]},
         "curtailment must be at most 8000 [mtu, device, wh] rows, wh >= 1, sorted and distinct by (mtu, device)"),
        ({"curtailment": [[first, "alice-pv", 10]]}, f"curtailment names no trade of alice-pv in MTU {first}"),
        ({"curtailment": [[first, "alice-load", 4_001]]},
         f"curtailment of alice-load in MTU {first} exceeds its position of 4000 Wh"),
    ]
    for change, message in cases:
        rejected(c.call(oracle(), MARKET, "attest", sid, {**good, **change}), message)
    assert c.session(sid)["phase"] == "grid_validation_pending"     # nothing half-done
    # the Python builder refuses the same mistakes before they reach the chain
    with pytest.raises(ReportError):
        Report(sid, (first,), HASH, "approved", curtailment=(Curtailment(first, "alice-load", 1),))
    with pytest.raises(ReportError):
        Report(sid, (first,), "xy", "approved")
    assert wh_from_w(4_001) == 1_001 and wh_from_w(4_000) == 1_000


def test_an_attested_violation_curtails_the_trades_and_the_settlement(world, tmp_path):
    c = world.chain
    before = balances(world)   # before the deposits: the gains below are the whole session's
    sid = cleared(world, rule="pay_as_bid", buyer_price=200_001)
    session = c.session(sid)
    first = session["first_mtu"]
    rows = c.rows(sid, "results")
    # pay-as-bid: alice pays 200 001 per kWh, bob gets 100 000, the battery 150 000
    assert rows == [[0, 1, 2, 3_000, 600_003, 300_000], [0, 1, 3, 1_000, 200_001, 150_000],
                    [1, 1, 2, 3_000, 600_003, 300_000]]
    devices = {1: "alice-load", 2: "bob-pv", 3: "bob-battery"}
    assert positions(rows, devices, first) == {(first, "alice-load"): 4_000, (first, "bob-pv"): -3_000,
                                               (first, "bob-battery"): -1_000, (first + 1, "alice-load"): 3_000,
                                               (first + 1, "bob-pv"): -3_000}
    # the oracle: line:3 at 105 % in MTU first; take 1 001 Wh off alice-load's position there
    report = build_report(session, HASH, [("line:Line R1-R2", 10_500, 10_000, first)],
                          [(first, "alice-load", 1_001)])
    assert report.verdict == "violated"
    assert decode(report.encode()) == ["flexledger-attestation-v1", sid, [first + k for k in range(4)], HASH, "violated",
                                       [["line:Line R1-R2", 10_500, 10_000, first]], [[first, "alice-load", 1_001]]]
    assert report.hash() == sha256(report.encode()).hex()
    assert ok(c.call(oracle(), MARKET, "attest", sid, report.to_value())) == 2
    # the last trade (the battery's 1 000 Wh) goes first, then 1 Wh of bob's: payments pro
    # rata, rounded down: 600 003 * 2 999 // 3 000 = 599 802, 300 000 * 2 999 // 3 000 = 299 900
    expected = [[0, 1, 2, 2_999, 599_802, 299_900], [0, 1, 3, 0, 0, 0], [1, 1, 2, 3_000, 600_003, 300_000]]
    assert c.rows(sid, "results") == expected == apply_curtailment(rows, devices, first, report.curtailment)
    assert c.query(MARKET, "attestation", sid)["changes"] == [
        [first, 1, 3, 1_000, 0, 200_001, 0, 150_000, 0], [first, 1, 2, 3_000, 2_999, 600_003, 599_802, 300_000, 299_900]]
    # every device follows its curtailed position: no imbalance; the battery has none left
    ok(world.meter([("alice-load", first, 2_999), ("bob-pv", first, -2_999), ("alice-load", first + 1, 3_000),
                    ("bob-pv", first + 1, -3_000)]))
    ok(c.call(world.bob, MARKET, "settle", sid))
    gained = {a: c.balance(a) - before[a] for a in before}
    assert gained == {world.alice.address: -(599_802 + 600_003), world.bob.address: 299_900 + 300_000,
                      world.agg.address: 0, world.dso.address: (599_802 - 299_900) + (600_003 - 300_000)}
    assert sum(gained.values()) == 0
    assert {line[0] for line in c.rows(sid, "lines")} == {"alice-load", "bob-pv"}
    supply_is_conserved(world)
    assert_replays_identically(c, tmp_path / "replica")


def test_red_override_voids_and_curtails_with_escrow_refunded_and_no_penalty(world):
    c = world.chain
    before = balances(world)
    sid = cleared(world, attestor=False)
    first = c.session(sid)["first_mtu"]
    rows = c.rows(sid, "results")
    assert rows == [[0, 1, 2, 3_000, 450_000, 450_000], [0, 1, 3, 1_000, 150_000, 150_000],
                    [1, 1, 2, 3_000, 600_000, 600_000]]   # uniform prices: 150 000, the partly sold battery's
    #                                                    ask; then 200 000, the partly filled bid
    trades = [[first, 1, 3, 0], [first + 1, 1, 2, 2_000]]  # void the battery's trade, cut the other to 2 000 Wh
    rejected(c.call(world.dso, MARKET, "override", sid, trades, "line:3 overloaded"),
             "trades may be overridden only in RED (feeder f1 is GREEN)")
    ok(c.call(world.dso, GRID, "set_regime", "f1", "RED", [], "line:3 overloaded", HASH))
    rejected(c.call(world.agg, MARKET, "override", sid, trades, "mine"),
             "only the DSO or the grid oracle key may override trades")
    rejected(c.call(world.dso, MARKET, "override", sid, [[first, 2, 1, 0]], "x"),
             f"no trade of bid 2 and offer 1 in MTU {first}")
    rejected(c.call(world.dso, MARKET, "override", sid, [[first, 1, 3, 1_000]], "x"),
             "an override must lower the trade's quantity (0 voids it)")
    assert ok(c.call(world.dso, MARKET, "override", sid, trades, "line:3 overloaded")) == 2
    expected = [[0, 1, 2, 3_000, 450_000, 450_000], [0, 1, 3, 0, 0, 0], [1, 1, 2, 2_000, 400_000, 400_000]]
    assert c.rows(sid, "results") == expected == apply_override(rows, first, trades)
    assert [(o["reason"], o["by"], len(o["changes"])) for o in c.query(MARKET, "overrides", sid)] == [
        ("line:3 overloaded", world.dso.address, 2)]
    ok(c.call(world.dso, GRID, "set_regime", "f1", "GREEN", [], "restored", ""))
    ok(world.meter([("alice-load", first, 3_000), ("bob-pv", first, -3_000), ("alice-load", first + 1, 2_000),
                    ("bob-pv", first + 1, -2_000)]))
    ok(c.call(world.bob, MARKET, "settle", sid))
    gained = {a: c.balance(a) - before[a] for a in before}
    # the aggregator's whole deposit comes back (no trade, no penalty); alice and bob trade
    # what is left; no imbalance because the devices followed the override
    assert gained == {world.alice.address: -(450_000 + 400_000), world.bob.address: 450_000 + 400_000,
                      world.agg.address: 0, world.dso.address: 0}
    assert all(line[4] == 0 for line in c.rows(sid, "lines"))
    rejected(c.call(world.dso, MARKET, "override", sid, trades, "late"),
             "trades may be overridden only in RED (feeder f1 is GREEN)")
    ok(c.call(world.dso, GRID, "set_regime", "f1", "RED", [], "again", ""))
    rejected(c.call(world.dso, MARKET, "override", sid, [[first + 1, 1, 2, 0]], "late"),
             "the session has no unsettled trades (it is in settled)")
    supply_is_conserved(world)


def test_without_a_genesis_oracle_nobody_attests(tmp_path):
    built = World.build(tmp_path / "node", config=MarketConfig(commit=100, gate=10, reveal=100, settle=1000),
                        allowed=(oracle(),))  # admitted to the chain, but not the market's oracle
    try:
        c = built.chain
        assert c.query(GRID, "oracle") is None
        rejected(c.call(built.dso, MARKET, "open_energy", {"feeder": "f1", "first_mtu": 1, "n_mtus": 1, "max_price": 1,
                                                           "max_qty": 1, "attestor": oracle().address}),
                 "the attestor must be the grid oracle key")
        rejected(c.call(oracle(), GRID, "set_regime", "f1", "RED", [], "x", ""),
                 "only the DSO or the grid oracle key may change a regime")
        ok(c.call(built.dso, GRID, "set_regime", "f1", "RED", [], "x", ""))
    finally:
        built.chain.close()


def test_a_curtailment_reduces_a_two_sided_position_towards_zero(world):
    """The battery sells 2 000 Wh to alice and buys 1 000 Wh from bob in the same MTU: its
    position is -1 000 Wh, so a cut reduces its sale (the earlier row), never its purchase."""
    c = world.chain
    sid = c.open_session(world.dso, "open_energy", max_price=500_000, max_qty=10_000, imbalance_price=300_000,
                         attestor=oracle().address)
    first = c.session(sid)["first_mtu"]
    orders = [(world.alice, Order("buy", "alice-load", 200_000, 2_000, 100, (0,))),
              (world.agg, Order("sell", "bob-battery", 100_000, 2_000, 100, (0,))),
              (world.agg, Order("buy", "bob-battery", 160_000, 1_000, 100, (0,))),
              (world.bob, Order("sell", "bob-pv", 150_000, 3_000, 100, (0,)))]
    c.trade_and_clear(sid, orders, world.bob)
    rows = c.rows(sid, "results")
    assert rows == [[0, 1, 2, 2_000, 300_000, 300_000], [0, 3, 4, 1_000, 150_000, 150_000]]
    devices = {1: "alice-load", 2: "bob-battery", 3: "bob-battery", 4: "bob-pv"}
    assert positions(rows, devices, first)[(first, "bob-battery")] == -1_000
    too_much = build_report(c.session(sid), HASH, [("bus:R11", 1_110_000, 1_100_000, first)],
                            [(first, "bob-battery", 1_001)])
    rejected(c.call(oracle(), MARKET, "attest", sid, too_much.to_value()),
             f"curtailment of bob-battery in MTU {first} exceeds its position of 1000 Wh")
    report = build_report(c.session(sid), HASH, [("bus:R11", 1_110_000, 1_100_000, first)],
                          [(first, "bob-battery", 600)])
    assert ok(c.call(oracle(), MARKET, "attest", sid, report.to_value())) == 1
    expected = [[0, 1, 2, 1_400, 210_000, 210_000], [0, 3, 4, 1_000, 150_000, 150_000]]
    assert c.rows(sid, "results") == expected == apply_curtailment(rows, devices, first, report.curtailment)
    assert positions(expected, devices, first)[(first, "bob-battery")] == -400


def test_a_curtailment_is_capped_as_the_contract_will_apply_it():
    first = 1_000
    rows = [[0, 1, 2, 2_000, 400_000, 400_000], [0, 3, 4, 1_000, 200_000, 200_000]]
    devices = {1: "alice-load", 2: "gen", 3: "bob-ev", 4: "gen"}
    wanted = [Curtailment(first, "alice-load", 500), Curtailment(first, "carol-load", 10),
              Curtailment(first, "gen", 3_000)]
    after, capped = capped_curtailment(rows, devices, first, wanted)
    # alice's 500 Wh come off gen's sales too: gen has 2 500 Wh left to give, carol has no trade
    assert capped == (Curtailment(first, "alice-load", 500), Curtailment(first, "gen", 2_500))
    assert after == [[0, 1, 2, 0, 0, 0], [0, 3, 4, 0, 0, 0]] == apply_curtailment(rows, devices, first, capped)
    with pytest.raises(ReportError, match="exceeds the position of 2500 Wh"):
        apply_curtailment(rows, devices, first, [wanted[0], wanted[2]])
    with pytest.raises(ReportError, match="names no trade"):
        apply_curtailment(rows, devices, first, [wanted[1]])