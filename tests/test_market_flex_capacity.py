"""Flexibility and capacity sessions on a real chain: DSO escrow, offer rejections (price
cap, location, role), the selection, delivery against baselines, penalties, capacity
allocation by premium and social equity, payouts and conservation of the token supply."""
import pytest

from market.orders import Order
from tests.chainkit import TOKEN
from tests.market_chain import MARKET, World, ok, rejected


@pytest.fixture
def world(tmp_path):
    built = World.build(tmp_path / "node")
    c = built.chain
    c.device(built.bob, "bob-ev", "ev_charger", max_power=11_000, bus="bus2", aggregator=built.agg, capacity=50_000)
    c.device(built.alice, "alice-ev", "ev_charger", max_power=11_000, bus="bus1", aggregator=built.agg,
             capacity=50_000)
    yield built
    c.close()


def supply_is_conserved(world):
    c = world.chain
    holders = [c.issuer, world.dso, world.mdm, world.agg, world.alice, world.bob]
    assert c.query(TOKEN, "total_supply") == sum(c.balance(k.address) for k in holders) + c.balance(MARKET)


def run_session(world, sid, sealed):
    c = world.chain
    c.goto(sid, "reveal")
    for key, s in sealed:
        ok(c.reveal(key, s))
    c.goto(sid, "reveal_end")
    return ok(c.call(world.dso, MARKET, "clear", sid))


def test_flexibility_request_offers_selection_and_delivery(world):
    c = world.chain
    dso_before = c.balance(world.dso.address)
    sid = c.open_session(world.dso, "request_flex", buses=["bus2"], direction="up", power=8_000, n_mtus=2,
                         max_price=300_000, penalty_price=100_000, tolerance_pct=10, baseline_days=2)
    assert c.session(sid)["escrow"] == 2 * (300_000 * 2 * 8_000 // 4000)
    assert c.balance(world.dso.address) == dso_before - 2_400_000
    first = c.session(sid)["first_mtu"]

    rejected(c.seal(world.alice, sid, Order("offer", "alice-load", 1, 1_000, 1), deposit=0)[0],
             "only aggregators may offer flexibility")
    bad = []
    for order, message in (
            (Order("offer", "bob-battery", 300_001, 6_000, 2_000), "offer price above the price cap"),
            (Order("offer", "alice-ev", 100_000, 4_000, 4_000), "device is outside the requested buses"),
            (Order("offer", "bob-hp", 100_000, 4_000, 4_000), "device is not on the session's feeder"),
            (Order("offer", "bob-ev", 100_000, 9_000, 4_000), "quantity outside the session limits"),
            (Order("offer", "bob-ev", 100_000, 4_000, 4_000, (0,)),
             "a flexibility offer covers the whole request window: mtus must be empty")):
        bad.append((c.seal(world.agg, sid, order, deposit=1_000_000)[1], message))
    battery = Order("offer", "bob-battery", 200_000, 6_000, 2_000)
    ev = Order("offer", "bob-ev", 150_000, 4_000, 4_000, baseline=3_000)
    sealed = [(world.agg, c.seal(world.agg, sid, battery)[1]), (world.agg, c.seal(world.agg, sid, ev)[1])]
    # collateral: 2 MTUs * penalty 100 000 * (W // 4) // 1000
    assert c.balance(MARKET) == 2_400_000 + 5 * 1_000_000 + 300_000 + 200_000
    c.goto(sid, "reveal")
    for pending, message in bad:
        rejected(c.reveal(world.agg, pending), message)
    run_session(world, sid, sealed)
    # exact rule: the EV (4000 W, all or nothing, cheapest) plus 4000 W of the divisible battery
    assert c.query(MARKET, "results", sid) == {"rule": "exact", "requested": 8_000, "offers": 2, "awarded": 8_000}
    battery_seq, ev_seq = sealed[0][1].seq, sealed[1][1].seq
    assert c.rows(sid, "results") == [[ev_seq, 4_000], [battery_seq, 4_000]]

    ok(world.meter([("bob-battery", first - 96, 0), ("bob-battery", first - 192, 0),
                    ("bob-battery", first - 95, 100), ("bob-battery", first - 191, -100),
                    ("bob-battery", first, -1_000), ("bob-battery", first + 1, -500),
                    ("bob-ev", first, 2_000), ("bob-ev", first + 1, 3_000)]))
    agg_before, dso_before = c.balance(world.agg.address), c.balance(world.dso.address)
    ok(c.call(world.mdm, MARKET, "settle", sid))
    # awarded 1000 Wh per MTU each.  Battery: baseline 0 from history, delivered 1000 then 500
    # (pay 200 000 + 100 000; the 500 Wh gap minus the 100 Wh tolerance costs 40 000).  EV: declared
    # baseline 3000, delivered 1000 then 0 (pay 150 000; penalty 900 Wh -> 90 000).
    assert c.rows(sid, "lines") == [[ev_seq, first, 3_000, 2_000, 1_000, 150_000, 0, 0],
                                    [ev_seq, first + 1, 3_000, 3_000, 0, 0, 90_000, 90_000],
                                    [battery_seq, first, 0, -1_000, 1_000, 200_000, 0, 0],
                                    [battery_seq, first + 1, 0, -500, 500, 100_000, 40_000, 40_000]]
    forfeited = 5 * 1_000_000   # the five offers that failed to reveal
    assert c.balance(world.dso.address) - dso_before == 2_400_000 - 450_000 + 130_000 + forfeited
    assert c.balance(world.agg.address) - agg_before == 500_000 + 450_000 - 130_000
    assert c.balance(MARKET) == 0
    supply_is_conserved(world)


def capacity_bids(world, price):
    return [(world.alice, Order("bid", "alice-load", 3 * price, 6_000, 1_000, (0, 1))),
            (world.agg, Order("bid", "bob-battery", 4 * price, 5_000, 5_000, (0, 1))),
            (world.bob, Order("bid", "bob-pv", price, 3_000, 500, (1,)))]


def test_premium_capacity_goes_to_the_highest_prices_pay_as_bid(world):
    c = world.chain
    sid = c.open_session(world.dso, "publish_capacity", n_mtus=2, capacity=[10_000, 4_000], rule="premium",
                         max_price=500_000, min_qty=500, max_qty=10_000)
    sealed = [(key, c.seal(key, sid, order)[1]) for key, order in capacity_bids(world, 100_000)]
    run_session(world, sid, sealed)
    alice, agg, bob = (s.seq for _, s in sealed)
    # MTU 0: agg 5000 @ 400 000, alice 5000 of 6000 @ 300 000.  MTU 1 (4000 W): agg's 5000 W
    # minimum does not fit, alice takes 4000, nothing is left for bob.
    assert c.query(MARKET, "results", sid) == [[0, 10_000, 10_000, 2], [1, 4_000, 4_000, 1]]
    assert c.rows(sid, "results") == [[0, agg, 5_000], [0, alice, 5_000], [1, alice, 4_000]]
    before = {k.address: c.balance(k.address) for k in (world.dso, world.alice, world.agg, world.bob)}
    ok(c.call(world.bob, MARKET, "settle", sid))
    gained = {a: c.balance(a) - before[a] for a in before}
    assert gained == {world.dso.address: 500_000 + 375_000 + 300_000, world.alice.address: 900_000 - 675_000,
                      world.agg.address: 1_000_000 - 500_000, world.bob.address: 75_000}
    supply_is_conserved(world)


@pytest.mark.parametrize("rule, awards", [
    # MTU 0: 11 000 W asked of 10 000: agg's pro-rata share 4545 is below its 5000 W minimum and
    # drops out; alice alone fits.  MTU 1: agg drops out again; 9000 W asked of 4000: 2666 and
    # 1333, and the 1 W left goes to the larger remainder (alice).
    ("pro_rata", lambda a, g, b: [[0, a, 6_000], [1, a, 2_667], [1, b, 1_333]]),
    # in commit order: alice, agg, bob
    ("fcfs", lambda a, g, b: [[0, a, 6_000], [1, a, 4_000]]),
])
def test_social_equity_capacity_is_free(world, rule, awards):
    c = world.chain
    sid = c.open_session(world.dso, "publish_capacity", n_mtus=2, capacity=[10_000, 4_000], rule=rule,
                         min_qty=500, max_qty=10_000)
    rejected(c.call(world.alice, MARKET, "check_order", sid, world.alice.address,
                    Order("bid", "alice-load", 1, 6_000, 1_000, (0,)).to_value()), "price outside the session limits")
    sealed = [(key, c.seal(key, sid, order)[1]) for key, order in capacity_bids(world, 0)]
    assert c.balance(MARKET) == 0   # nothing to pay, so nothing escrowed
    run_session(world, sid, sealed)
    assert c.rows(sid, "results") == awards(*(s.seq for _, s in sealed))
    assert ok(c.call(world.bob, MARKET, "settle", sid)) == 0
    assert all(line[3] == 0 for line in c.rows(sid, "lines"))
