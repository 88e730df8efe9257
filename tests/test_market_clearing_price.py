"""The uniform price of the local energy market: worked examples of the competitive-interval
rule (issue 12), the ``k_pct`` session parameter, minimum quantities that empty the
interval, and every bad input with its exact message.

The library contract runs in the real VM on a real chain (read-only queries), as in
test_market_clearing.py; one session goes through open, commit, reveal and clear.
"""
import pytest

from contracts import VMError
from market import sources
from market.orders import Order
from market.reference.energy import EnergyOrder, MtuResult, Trade, clear_energy
from tests.market_chain import MARKET, World, ok, rejected
from tests.test_market_clearing import energy_entries, on_chain_energy

ENERGY = sources.address(sources.ENERGY_CLEARING)
# issue 12: bids 100 (10 Wh) and 90 (10 Wh), offers 50 (10 Wh) and 95 (10 Wh), in micro-units per kWh
ISSUE_BOOK = [EnergyOrder(1, "buy", 100_000, 10, 1, (0,)), EnergyOrder(2, "buy", 90_000, 10, 1, (0,)),
              EnergyOrder(3, "sell", 50_000, 10, 1, (0,)), EnergyOrder(4, "sell", 95_000, 10, 1, (0,))]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    built = World.build(tmp_path_factory.mktemp("price") / "node")
    yield built
    built.chain.close()


def cleared(world, orders, rule="uniform", k_pct=50):
    on_chain = on_chain_energy(world.chain, orders, rule, k_pct)
    assert on_chain == clear_energy(orders, rule, k_pct)
    return on_chain


def test_issue_example_prices_in_the_competitive_interval(world):
    # Bid 100 buys offer 50's 10 Wh; then bid 90 < ask 95 ends the walk.  Interval:
    # [max(50, 90), min(100, 95)] = [90, 95]; the midpoint 92.5 (the old rule gave 75, below the unfilled bid 90).
    assert cleared(world, ISSUE_BOOK) == [MtuResult(0, 92_500, 100_000, 50_000, 10, (Trade(1, 3, 10, 925, 925),))]
    assert [r.price for r in cleared(world, ISSUE_BOOK, k_pct=0)] == [90_000]
    assert [r.price for r in cleared(world, ISSUE_BOOK, k_pct=100)] == [95_000]
    assert [r.price for r in cleared(world, ISSUE_BOOK, k_pct=33)] == [91_650]   # 90 000 + 33 * 5 000 // 100


def test_midpoint_is_floor_rounded(world):
    book = [EnergyOrder(1, "buy", 100_001, 10, 1, (0,)), EnergyOrder(2, "sell", 100_000, 10, 1, (0,))]
    assert [r.price for r in cleared(world, book)] == [100_000]


def test_partly_filled_marginal_offer_sets_the_price(world):
    # Offers 50 (5 Wh) and 95 (10 Wh) against bid 100 (10 Wh): offer 95 sells 5 of its 10 Wh,
    # so it is also the best rejected ask and the price is its ask (the old rule: 97.5, above it).
    book = [EnergyOrder(1, "buy", 100_000, 10, 1, (0,)), EnergyOrder(2, "sell", 50_000, 5, 1, (0,)),
            EnergyOrder(3, "sell", 95_000, 10, 1, (0,))]
    [result] = cleared(world, book)
    assert (result.price, result.volume) == (95_000, 10)
    assert result.trades == (Trade(1, 2, 5, 475, 475), Trade(1, 3, 5, 475, 475))


def test_minimum_quantity_that_empties_the_interval_falls_back_to_the_accepted_orders(world):
    # Bid 99 wants all of its 10 Wh or nothing; offer 50 has only 5 Wh left after bid 100, so the
    # walk's trade (2, 3, 5) is trimmed.  The interval [max(50, 99), min(100, 50)] is empty: the
    # price is the midpoint of [last accepted ask 50, last accepted bid 100], and the bid at 99
    # stays unfilled although 5 Wh at 50 are left -- the documented exception for minimums.
    book = [EnergyOrder(1, "buy", 100_000, 10, 1, (0,)), EnergyOrder(2, "buy", 99_000, 10, 10, (0,)),
            EnergyOrder(3, "sell", 50_000, 15, 1, (0,))]
    assert cleared(world, book) == [MtuResult(0, 75_000, 100_000, 50_000, 10, (Trade(1, 3, 10, 750, 750),))]
    assert [r.price for r in cleared(world, book, k_pct=0)] == [50_000]


def test_pay_as_bid_is_unchanged(world):
    [result] = cleared(world, ISSUE_BOOK, "pay_as_bid")
    assert result == MtuResult(0, None, 100_000, 50_000, 10, (Trade(1, 3, 10, 1000, 500),))


@pytest.mark.parametrize("k_pct", [-1, 101, True, "50", None])
def test_library_refuses_a_bad_k_pct(world, k_pct):
    with pytest.raises(VMError) as info:
        world.chain.query(ENERGY, "clear", energy_entries(ISSUE_BOOK), "uniform", k_pct)
    assert (info.value.code, info.value.message) == ("require_failed", "k_pct must be an int between 0 and 100")


def test_reference_refuses_a_bad_k_pct():
    with pytest.raises(ValueError, match=r"^k_pct must be between 0 and 100, not 101$"):
        clear_energy(ISSUE_BOOK, "uniform", 101)


@pytest.mark.parametrize("spec, message", [
    ({"k_pct": 101}, "k_pct must be an int between 0 and 100"),
    ({"k_pct": -1}, "k_pct must be an int between 0 and 100"),
    ({"k_pct": "mid"}, "k_pct must be an int between 0 and 100"),
    ({"rule": "pay_as_bid", "k_pct": 50}, "k_pct applies to the uniform rule only"),
])
def test_open_energy_refuses_a_bad_k_pct(world, spec, message):
    c = world.chain
    rejected(c.call(world.dso, MARKET, "open_energy", {"feeder": "f1", "first_mtu": c.now // 900 + 96, "n_mtus": 4,
                                                         "max_price": 500_000, "max_qty": 10_000, **spec}), message)


def test_a_session_clears_at_its_k_pct(world):
    c = world.chain
    sid = c.open_session(world.dso, "open_energy", max_price=500_000, max_qty=10_000, k_pct=0)
    assert c.session(sid)["k_pct"] == 0
    c.trade_and_clear(sid, [(world.alice, Order("buy", "alice-load", 100_000, 10, 1, (0,))),
                            (world.agg, Order("buy", "bob-battery", 90_000, 10, 1, (0,))),
                            (world.alice, Order("sell", "alice-pv", 50_000, 10, 1, (0,))),
                            (world.bob, Order("sell", "bob-pv", 95_000, 10, 1, (0,)))], world.dso)
    assert ok(c.call(world.dso, MARKET, "results", sid)) == [[0, 90_000, 100_000, 50_000, 10, 1]]
    assert c.rows(sid, "results") == [[0, 1, 3, 10, 900, 900]]
    default = c.open_session(world.dso, "open_energy", max_price=500_000, max_qty=10_000)
    assert c.session(default)["k_pct"] == 50
