"""Market sessions on a real chain: phases, sealed orders, every rejection with its exact
message, forfeits, grid validation, meter data, settlement, and replay on a validator."""
import pytest

from contracts import VMError
from market import meterdata
from market.attestation import build_report
from market.genesis import MarketConfig
from market.orders import Order, commitment, new_salt
from tests.chainkit import DAVE, TOKEN
from tests.market_chain import MARKET, METER, REGISTRY, World, assert_replays_identically, key_of, ok, rejected


@pytest.fixture
def world(tmp_path):
    built = World.build(tmp_path / "node")
    yield built
    built.chain.close()


def energy_session(world, **changes):
    spec = dict(min_price=10_000, max_price=500_000, min_qty=100, max_qty=10_000, imbalance_price=300_000,
                min_deposit=1_000)
    return world.chain.open_session(world.dso, "open_energy", **{**spec, **changes})


def test_commitments_match_the_python_helper(world):
    sid = energy_session(world)
    order = Order("buy", "alice-load", 200_000, 5_000, 1_000, (0, 3))
    salt = new_salt()
    on_chain = world.chain.query(MARKET, "commitment_of", sid, world.alice.address, order.to_value(), salt)
    assert on_chain == commitment(MARKET, sid, world.alice.address, order, salt)
    rejected(world.chain.call(world.alice, MARKET, "commitment_of", sid, world.alice.address,
                              Order("offer", "bob-battery", 1, 2, 1).to_value(), salt),
             "side must be buy or sell in this energy session")
    sid = world.chain.open_session(world.dso, "request_flex", direction="up", power=1_000, max_price=1)
    flex = Order("offer", "bob-battery", 1, 2, 1, (), baseline=-40)
    assert world.chain.query(MARKET, "commitment_of", sid, world.agg.address, flex.to_value(), salt) == \
        commitment(MARKET, sid, world.agg.address, flex, salt)


def test_energy_session_rejects_each_bad_step_with_its_own_error(world):
    c = world.chain
    sid = energy_session(world)
    buy = Order("buy", "alice-load", 200_000, 5_000, 1_000, (0, 1))
    rejected(c.seal(DAVE, sid, buy, deposit=1_000)[0], "not a registered participant")  # admitted, no role
    rejected(c.seal(world.dso, sid, buy, deposit=1_000)[0], "only prosumers and aggregators may trade")
    rejected(c.call(world.alice, MARKET, "commit", sid, "ab" * 31, 1_000), "commitment must be 64 hex digits (sha256)")
    rejected(c.seal(world.alice, sid, buy, deposit=999)[0], "deposit too small: the session requires at least 1000")
    rejected(c.call(world.alice, MARKET, "commit", 99, "ab" * 32, 1_000), "no such session")
    _, sealed = c.seal(world.alice, sid, buy)
    assert sealed.seq == 1
    rejected(c.reveal(world.alice, sealed), "not in the reveal phase (the session is in commit)")

    # Sealed orders that can never be revealed: the contract sees their content only at reveal.
    # A wallet that asks check_order first gets the same message before it commits.
    bad = [
        ("device not in the trader's portfolio", world.alice, Order("sell", "bob-pv", 100_000, 1_000, 100, (0,))),
        ("device not in the trader's portfolio", world.bob, Order("sell", "bob-battery", 100_000, 1_000, 100, (0,))),
        ("price outside the session limits", world.bob, Order("sell", "bob-pv", 5_000, 1_000, 100, (0,))),
        ("quantity outside the session limits", world.bob, Order("sell", "bob-pv", 50_000, 50, 10, (0,))),
        ("a generation device cannot buy energy", world.bob, Order("buy", "bob-pv", 50_000, 500, 10, (0,))),
        ("quantity exceeds what the device can do in one MTU (5000 Wh)", world.alice,
         Order("sell", "alice-pv", 50_000, 6_000, 10, (0,))),
        ("mtus must be distinct offsets in ascending order within the session window", world.bob,
         Order("sell", "bob-pv", 50_000, 500, 10, (1, 1))),
        ("minimum quantity must be between 1 and the quantity", world.bob,
         Order("sell", "bob-pv", 50_000, 500, 501, (0,))),
        ("device is not on the session's feeder", world.agg, Order("buy", "bob-hp", 50_000, 500, 10, (0,))),
    ]
    sealed_bad = []
    for message, key, order in bad:
        with pytest.raises(VMError) as info:
            c.query(MARKET, "check_order", sid, key.address, order.to_value())
        assert (info.value.code, info.value.message) == ("require_failed", message)
        sealed_bad.append((message, key, c.seal(key, sid, order, deposit=1_000_000)[1]))
    _, short = c.seal(world.bob, sid, Order("sell", "bob-pv", 100_000, 1_000, 100, (0,)), deposit=1_000)
    _, late = c.seal(world.bob, sid, Order("sell", "bob-pv", 90_000, 4_000, 100, (0,)), deposit=2_000_000)
    _, copied = c.seal(world.bob, sid, Order("sell", "bob-pv", 150_000, 3_000, 100, (1,)), deposit=2_000_000)

    c.goto(sid, "gate")
    rejected(c.seal(world.alice, sid, buy)[0], "not in the commit phase (the session is in gate_closure)")
    rejected(c.reveal(world.alice, sealed), "not in the reveal phase (the session is in gate_closure)")

    c.goto(sid, "reveal")
    rejected(c.reveal(world.alice, sealed, order=Order("buy", "alice-load", 200_001, 5_000, 1_000, (0, 1))),
             "reveal does not match the commitment")
    rejected(c.reveal(world.alice, sealed, salt=new_salt()), "reveal does not match the commitment")
    rejected(c.reveal(world.bob, sealed), "not your commitment")
    rejected(c.call(world.bob, MARKET, "reveal", sid, 999, buy.to_value(), sealed.salt), "no such commitment")
    ok(c.reveal(world.alice, sealed))
    rejected(c.reveal(world.alice, sealed), "order already revealed")
    for message, key, pending in sealed_bad:
        rejected(c.reveal(key, pending), message)
    rejected(c.reveal(world.bob, short), "deposit too small for this order: 300000 required")
    ok(c.reveal(world.bob, copied))
    rejected(c.call(world.dso, MARKET, "clear", sid), "not in the clearing phase (the session is in reveal)")

    c.goto(sid, "reveal_end")
    rejected(c.reveal(world.bob, late), "reveal too late: the reveal phase is over")
    assert ok(c.call(world.dso, MARKET, "clear", sid)) == "delivery"
    rejected(c.reveal(world.bob, late), "reveal too late: the reveal phase is over")
    rejected(c.call(world.dso, MARKET, "clear", sid), "not in the clearing phase (the session is in delivery)")


def test_check_order_returns_the_deposit_an_order_needs(world):
    sid = energy_session(world)
    needed = world.chain.query(MARKET, "check_order", sid, world.alice.address,
                               Order("buy", "alice-load", 200_000, 5_000, 1_000, (0, 1)).to_value())
    assert needed == 2 * (200_000 * 5_000 // 1000)   # what the order may pay in its two MTUs
    needed = world.chain.query(MARKET, "check_order", sid, world.bob.address,
                               Order("sell", "bob-pv", 100_000, 1_000, 100, (0, 1, 2)).to_value())
    assert needed == 3 * (300_000 * 1_000 // 1000)   # collateral at the imbalance price


def test_unrevealed_commitments_forfeit_to_the_operator_and_supply_is_conserved(world):
    c = world.chain
    sid = energy_session(world)
    before = {k.address: c.balance(k.address) for k in (world.dso, world.alice, world.bob)}
    _, revealed = c.seal(world.alice, sid, Order("buy", "alice-load", 200_000, 5_000, 1_000, (0,)))
    _, forgotten = c.seal(world.bob, sid, Order("sell", "bob-pv", 100_000, 1_000, 100, (0,)), deposit=400_000)
    assert c.balance(MARKET) == 1_000_000 + 400_000
    c.goto(sid, "reveal")
    ok(c.reveal(world.alice, revealed))
    c.goto(sid, "reveal_end")
    ok(c.call(world.bob, MARKET, "clear", sid))
    assert ok(c.call(world.bob, MARKET, "settle", sid)) == 2
    assert c.balance(MARKET) == 0
    assert c.balance(world.alice.address) == before[world.alice.address]
    assert c.balance(world.bob.address) == before[world.bob.address] - 400_000
    assert c.balance(world.dso.address) == before[world.dso.address] + 400_000
    session = c.session(sid)
    assert (session["phase"], session["forfeited"], session["revealed"], session["commits"]) == ("settled", 400_000, 1, 2)
    rejected(c.call(world.bob, MARKET, "settle", sid), "not ready to settle (the session is in settled)")
    rejected(c.call(world.bob, MARKET, "release", sid), "all payouts already released")
    assert c.query(TOKEN, "total_supply") == sum(c.balance(k.address) for k in
                                                 (c.issuer, world.dso, world.mdm, world.agg, world.alice, world.bob))


def test_energy_session_end_to_end_with_imbalance_and_replay(world, tmp_path):
    c = world.chain
    sid = energy_session(world, rule="uniform")
    first = c.session(sid)["first_mtu"]
    orders = [(world.alice, Order("buy", "alice-load", 200_000, 6_000, 1_000, (0, 1))),
              (world.bob, Order("sell", "bob-pv", 120_000, 4_000, 1_000, (0, 1))),
              (world.agg, Order("sell", "bob-battery", 150_000, 2_500, 2_500, (0,)))]
    c.trade_and_clear(sid, orders, world.mdm)
    # MTU 0: 6000 Wh bid at 200 000; offers bob 4000 @ 120 000, battery 2500 @ 150 000 (all or nothing):
    # the walk gives the battery 2000 < 2500, so that trade is trimmed: 4000 Wh.  The competitive
    # interval [max(120, 200), min(200, 150)] is empty (the battery's minimum), so the price is the
    # midpoint of the accepted [120, 200]: 160 000.  MTU 1: nobody else sells, the bid keeps 2000 Wh:
    # [max(120, 200), 200], so 200 000 (docs/market.md, "Local energy market").
    assert c.query(MARKET, "results", sid) == [[0, 160_000, 200_000, 120_000, 4_000, 1], [1, 200_000, 200_000, 120_000, 4_000, 1]]
    assert c.rows(sid, "results") == [[0, 1, 2, 4_000, 640_000, 640_000], [1, 1, 2, 4_000, 800_000, 800_000]]
    rejected(c.call(world.mdm, MARKET, "settle", sid),
             f"meter data missing for 4 device MTUs: settlement waits for it until time {c.session(sid)['times']['settle_by']}")
    ok(world.meter([("alice-load", first, 4_000), ("bob-pv", first, -4_000), ("alice-load", first + 1, 4_500),
                    ("bob-pv", first + 1, -3_000)]))
    before = {k.address: c.balance(k.address) for k in (world.dso, world.alice, world.bob, world.agg)}
    ok(c.call(world.mdm, MARKET, "settle", sid))
    # MTU 1: alice short 500 Wh (-150 000), bob short 1000 Wh (-300 000): the pool of 450 000
    # has no long position to pay, so it goes to the operator.
    assert c.rows(sid, "lines") == [["alice-load", first, 4_000, 4_000, 0, 0, 0, 0],
                                    ["alice-load", first + 1, 4_000, 4_500, 150_000, 150_000, 0, 0],
                                    ["bob-pv", first, -4_000, -4_000, 0, 0, 0, 0],
                                    ["bob-pv", first + 1, -4_000, -3_000, 300_000, 300_000, 0, 0]]
    deposits = {world.alice.address: 2 * 1_200_000, world.bob.address: 2 * 1_200_000, world.agg.address: 750_000}
    gained = {a: c.balance(a) - before[a] for a in before}
    assert gained == {world.dso.address: 450_000,
                      world.alice.address: deposits[world.alice.address] - 1_440_000 - 150_000,
                      world.bob.address: deposits[world.bob.address] + 1_440_000 - 300_000,
                      world.agg.address: deposits[world.agg.address]}
    assert c.balance(MARKET) == 0

    assert_replays_identically(c, tmp_path / "replica")


def test_grid_validation_pending_until_the_attestor_attests(world):
    c = world.chain
    oracle = key_of("grid-oracle")
    sid = energy_session(world, attestor=oracle.address)
    _, sealed = c.seal(world.alice, sid, Order("buy", "alice-load", 200_000, 5_000, 1_000, (0,)))
    c.goto(sid, "reveal")
    ok(c.reveal(world.alice, sealed))
    c.goto(sid, "reveal_end")
    assert ok(c.call(world.bob, MARKET, "clear", sid)) == "grid_validation_pending"
    rejected(c.call(world.bob, MARKET, "settle", sid), "not ready to settle (the session is in grid_validation_pending)")
    report = build_report(c.session(sid), "ab" * 32).to_value()
    rejected(c.call(world.bob, MARKET, "attest", sid, report), "only the grid oracle key may attest")
    ok(c.call(oracle, MARKET, "attest", sid, report))
    rejected(c.call(oracle, MARKET, "attest", sid, report), "the session is already attested")
    assert c.session(sid)["phase"] == "delivery"
    ok(c.call(world.bob, MARKET, "settle", sid))


def test_settlement_after_the_deadline_does_not_assess_missing_readings(world):
    c = world.chain
    sid = energy_session(world, min_deposit=0)
    first = c.session(sid)["first_mtu"]
    sealed = [(world.alice, c.seal(world.alice, sid, Order("buy", "alice-load", 200_000, 1_000, 1_000, (2,)))[1]),
              (world.bob, c.seal(world.bob, sid, Order("sell", "bob-pv", 200_000, 1_000, 1_000, (2,)))[1])]
    c.goto(sid, "reveal")
    for key, s in sealed:
        ok(c.reveal(key, s))
    c.goto(sid, "reveal_end")
    ok(c.call(world.bob, MARKET, "clear", sid))
    ok(world.meter([("bob-pv", first + 2, -500)]))
    rejected(c.call(world.bob, MARKET, "settle", sid),
             f"meter data missing for 1 device MTUs: settlement waits for it until time {c.session(sid)['times']['settle_by']}")
    c.goto(sid, "settle_by")
    ok(c.call(world.bob, MARKET, "settle", sid))
    assert c.rows(sid, "lines") == [["alice-load", first + 2, 1_000, None, 0, 0, 0, 0],
                                    ["bob-pv", first + 2, -1_000, -500, 150_000, 150_000, 0, 0]]


def test_meter_data_must_be_signed_by_the_meter_data_manager(world):
    c = world.chain
    readings = [["alice-load", 5_000, 1_200], ["bob-pv", 5_000, -300]]
    good = meterdata.sign(world.mdm, METER, [tuple(r) for r in readings])
    forged = meterdata.sign(world.bob, METER, [tuple(r) for r in readings])
    rejected(c.call(world.bob, METER, "submit", world.mdm.address, readings, forged),
             "meter data not signed by the meter data manager")
    rejected(c.call(world.bob, METER, "submit", world.mdm.address, readings[:1], good),
             "meter data not signed by the meter data manager")
    rejected(c.call(world.bob, METER, "submit", world.bob.address, readings, forged), "signer is not a meter data manager")
    rejected(c.call(world.bob, METER, "submit", world.mdm.address, [["Alice", 1, 1]], good), "invalid device id in meter data")
    assert ok(c.call(world.bob, METER, "submit", world.mdm.address, readings, good)) == 2
    rejected(c.call(world.bob, METER, "submit", world.mdm.address, readings, good),
             "meter reading already recorded for alice-load MTU 5000")
    assert c.query(METER, "readings", [["alice-load", 5_000], ["bob-pv", 5_000], ["bob-pv", 5_001]]) == [1_200, -300, None]


def test_opening_sessions_is_for_dsos_with_valid_specs(world):
    c = world.chain
    rejected(c.call(world.alice, MARKET, "open_energy", {"feeder": "f1", "first_mtu": 1, "n_mtus": 4,
                                                         "max_price": 1, "max_qty": 1}),
             "only a DSO may open a market session")
    for changes, message in (({"n_mtus": 97}, "n_mtus must be an int between 1 and 96"),
                             ({"max_price": -1}, "max_price must be an int >= 0"),
                             ({"rule": "vickrey"}, "rule must be uniform or pay_as_bid"),
                             ({"phases": {"commit": 0}}, "phases.commit must be an int >= 1"),
                             ({"feeder": "F 1"}, "feeder must be 1 to 64 characters from a-z 0-9 . _ -"),
                             ({"attestor": "me"}, "attestor must be an address or None")):
        spec = {"feeder": "f1", "first_mtu": c.now // 900 + 96, "n_mtus": 4, "max_price": 1, "max_qty": 1, **changes}
        rejected(c.call(world.dso, MARKET, "open_energy", spec), message)
    sid = c.open_session(world.dso, "open_energy", max_price=1, max_qty=1, phases={"commit": 5, "gate": 0, "reveal": 7})
    times = c.session(sid)["times"]
    assert (times["gate"] - times["opened"], times["reveal"] - times["gate"], times["reveal_end"] - times["reveal"],
            times["settle_by"] - times["reveal_end"]) == (5, 0, 7, 1000)


def test_big_sessions_pay_out_in_chunks(world):
    c = world.chain
    traders = [key_of(f"trader-{i}") for i in range(251)]   # one more than a chunk of payouts
    calls = [(c.issuer, REGISTRY, "admit", [k.address, f"t{i}", ["prosumer"], k.public_key.hex()])
             for i, k in enumerate(traders)]
    calls += [(c.issuer, TOKEN, "transfer", [k.address, 10_000]) for k in traders]
    assert all(r.ok for r in c.run_all(calls))
    devices = [{"id": f"load-{i}", "type": "load", "max_power": 4_000, "min_power": 0, "capacity": 0, "bus": "bus1",
                "feeder": "f1"} for i in range(len(traders))]
    assert all(r.ok for r in c.run_all([(k, TOKEN, "approve", [MARKET, 10_000]) for k in traders]
                                       + [(k, REGISTRY, "register_device", [d]) for k, d in zip(traders, devices)]))
    sid = energy_session(world, min_deposit=0)
    orders = [Order("buy", f"load-{i}", 10_000, 100, 100, (0,)) for i in range(len(traders))]  # 1 000 each
    salts = [new_salt() for _ in traders]
    receipts = c.run_all([(k, MARKET, "commit", [sid, commitment(MARKET, sid, k.address, o, s), 1_000])
                          for k, o, s in zip(traders, orders, salts)])
    c.goto(sid, "reveal")
    assert all(r.ok for r in c.run_all([(k, MARKET, "reveal", [sid, r.result, o.to_value(), s])
                                        for k, o, s, r in zip(traders, orders, salts, receipts)]))
    c.goto(sid, "reveal_end")
    ok(c.call(world.dso, MARKET, "clear", sid))
    assert ok(c.call(world.dso, MARKET, "settle", sid)) == 251   # no trades: every deposit goes back
    assert c.balance(MARKET) == 1_000 and (c.session(sid)["released"], c.session(sid)["chunks"]["payouts"]) == (1, 2)
    assert ok(c.call(world.alice, MARKET, "release", sid)) == 0
    assert c.balance(MARKET) == 0 and all(c.balance(k.address) == 10_000 for k in traders)
    rejected(c.call(world.alice, MARKET, "release", sid), "all payouts already released")


def test_sessions_bound_their_commitments_and_order_mtus(tmp_path):
    world = World.build(tmp_path / "node", config=MarketConfig(commit=100, gate=10, reveal=100, max_orders=3,
                                                               max_entries=3))
    c = world.chain
    try:
        sid = energy_session(world)
        sealed = [c.seal(world.alice, sid, Order("buy", "alice-load", 200_000, 1_000, 1_000, (0, 1)))[1],
                  c.seal(world.alice, sid, Order("buy", "alice-load", 200_000, 1_000, 1_000, (2,)))[1],
                  c.seal(world.alice, sid, Order("buy", "alice-load", 200_000, 1_000, 1_000, (3,)))[1]]
        rejected(c.seal(world.alice, sid, Order("buy", "alice-load", 200_000, 1_000, 1_000, (3,)))[0],
                 "the session is full")
        c.goto(sid, "reveal")
        ok(c.reveal(world.alice, sealed[0]))
        ok(c.reveal(world.alice, sealed[1]))
        rejected(c.reveal(world.alice, sealed[2]), "the session's order book is full (3 order MTUs)")
    finally:
        c.close()
