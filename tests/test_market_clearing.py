"""Differential tests of the clearing contracts against the plain-Python reference.

Random order books (hypothesis) are cleared by the genesis library contracts, run by the
real VM on a real chain (read-only queries), and by ``market.reference``; allocations,
prices and trades must be identical, for every market type and price rule.  The same
books check the invariants: nobody pays above its bid or gets below its ask, volume
balances per MTU, fills respect quantities and minimums, capacity is never exceeded.
"""
from collections import Counter

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from market import sources
from market.reference.capacity import CapacityBid, allocate_capacity
from market.reference.energy import EnergyOrder, MtuResult, Trade, clear_energy
from market.reference.flex import EXACT_LIMIT, FlexOffer, select_flex
from tests.chainkit import LocalChain

ENERGY = sources.address(sources.ENERGY_CLEARING)
FLEX = sources.address(sources.FLEX_CLEARING)
CAPACITY = sources.address(sources.CAPACITY_CLEARING)
MTUS = 3
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    local = LocalChain(tmp_path_factory.mktemp("clearing"))
    yield local
    local.close()


@st.composite
def energy_books(draw, max_orders=24, divisible=False):
    """Random books over MTUS MTUs; ``divisible``: every minimum quantity is 1 Wh."""
    count = draw(st.integers(0, max_orders))
    orders = []
    for seq in range(1, count + 1):
        qty = draw(st.integers(1, 60))
        orders.append(EnergyOrder(seq, draw(st.sampled_from(["buy", "sell"])),
                                  draw(st.integers(90, 110)) * 1000 + draw(st.sampled_from([0, 0, 1, 499])),
                                  qty, 1 if divisible else draw(st.integers(1, qty)),
                                  tuple(sorted(draw(st.sets(st.integers(0, MTUS - 1), min_size=1))))))
    return draw(st.permutations(orders))


def energy_entries(orders):
    return [[m, 0 if o.side == "buy" else 1, o.price, o.qty, o.min_qty, o.seq] for o in orders for m in o.mtus]


def on_chain_energy(chain, orders, rule, k_pct=50):
    results = chain.query(ENERGY, "clear", energy_entries(orders), rule, k_pct)
    return [MtuResult(r["mtu"], r["price"], r["bid"], r["ask"], r["volume"], tuple(Trade(*t) for t in r["trades"]))
            for r in results]


def competitive_interval(orders, fills, mtu):
    """[max(last accepted ask, best rejected bid), min(last accepted bid, best rejected ask)]
    from the fills of one MTU, straight from the definition (a partly filled order counts
    as accepted and as rejected); None when it is empty."""
    here = [o for o in orders if mtu in o.mtus]
    lower = max([o.price for o in here if o.side == "sell" and fills[o.seq] > 0] +
                [o.price for o in here if o.side == "buy" and fills[o.seq] < o.qty])
    upper = min([o.price for o in here if o.side == "buy" and fills[o.seq] > 0] +
                [o.price for o in here if o.side == "sell" and fills[o.seq] < o.qty])
    return (lower, upper) if lower <= upper else None


def price_property_violations(orders, fills, mtu, price):
    """Pairs (bid seq, offer seq) both left with volume, the bid priced strictly above the
    clearing price and the offer at or below it (or the offer strictly below, the bid at
    or above): the orders that would still trade at the price."""
    here = [o for o in orders if mtu in o.mtus]
    bids = [o for o in here if o.side == "buy" and fills[o.seq] < o.qty]
    offers = [o for o in here if o.side == "sell" and fills[o.seq] < o.qty]
    return [(b.seq, o.seq) for b in bids for o in offers
            if (b.price > price >= o.price) or (b.price >= price > o.price)]


def check_energy_invariants(orders, results, rule, k_pct=50):
    by_seq = {o.seq: o for o in orders}
    for result in results:
        here = [o for o in orders if result.mtu in o.mtus]
        fills = Counter()
        for t in result.trades:
            bid, offer = by_seq[t.bid_seq], by_seq[t.offer_seq]
            assert bid.side == "buy" and offer.side == "sell" and t.qty > 0
            assert bid.price >= offer.price
            assert t.buyer_pays <= bid.price * t.qty // 1000, "a buyer pays above its bid"
            assert t.seller_gets >= offer.price * t.qty // 1000, "a seller gets below its ask"
            assert t.buyer_pays >= t.seller_gets
            if rule == "uniform":
                assert t.buyer_pays == t.seller_gets == result.price * t.qty // 1000
            fills[t.bid_seq] += t.qty
            fills[t.offer_seq] += t.qty
        bought = sum(fills[o.seq] for o in here if o.side == "buy")
        sold = sum(fills[o.seq] for o in here if o.side == "sell")
        assert bought == sold == result.volume, "traded volume must balance per MTU"
        for o in here:
            assert fills[o.seq] == 0 or o.min_qty <= fills[o.seq] <= o.qty
        if result.trades and rule == "uniform":
            traded = [by_seq[s] for s in fills]
            assert all(result.price <= o.price for o in traded if o.side == "buy")
            assert all(result.price >= o.price for o in traded if o.side == "sell")
            check_uniform_price(orders, fills, result, k_pct)


def check_uniform_price(orders, fills, result, k_pct):
    """The price is at k_pct of the competitive interval, and then no order that would
    still trade at it is left; only minimum quantities can empty the interval, and then
    the price is at k_pct of [last accepted ask, last accepted bid]."""
    interval = competitive_interval(orders, fills, result.mtu)
    if interval is None:
        assert any(o.min_qty > 1 for o in orders if result.mtu in o.mtus), "empty interval in a divisible book"
        traded = [o for o in orders if result.mtu in o.mtus and fills[o.seq] > 0]
        interval = (max(o.price for o in traded if o.side == "sell"), min(o.price for o in traded if o.side == "buy"))
    else:
        assert price_property_violations(orders, fills, result.mtu, result.price) == []
    lower, upper = interval
    assert result.price == lower + k_pct * (upper - lower) // 100


@SETTINGS
@example(orders=[EnergyOrder(1, "buy", 100_000, 10, 1, (0,)), EnergyOrder(2, "sell", 90_000, 4, 1, (0,)),
                 EnergyOrder(3, "sell", 95_000, 10, 8, (0,)), EnergyOrder(4, "buy", 99_000, 10, 10, (0,))],
         rule="uniform", k_pct=50)
@given(orders=energy_books(), rule=st.sampled_from(["uniform", "pay_as_bid"]),
       k_pct=st.one_of(st.just(50), st.integers(0, 100)))
def test_energy_clearing_matches_reference(chain, orders, rule, k_pct):
    results = on_chain_energy(chain, orders, rule, k_pct)
    assert results == clear_energy(orders, rule, k_pct)
    check_energy_invariants(orders, results, rule, k_pct)


def test_energy_minimum_quantity_trims_the_last_trade(chain):
    # The walk gives bid 1 its 10 Wh from offers 2 (4) and 3 (6); offer 3 wants at least 8, so
    # the trade (1, 3, 6) goes, and then bid 1 holds 4 < its minimum 5: (1, 2, 4) goes too.
    orders = [EnergyOrder(1, "buy", 100_000, 10, 5, (0,)), EnergyOrder(2, "sell", 90_000, 4, 1, (0,)),
              EnergyOrder(3, "sell", 95_000, 10, 8, (0,))]
    assert on_chain_energy(chain, orders, "uniform") == [MtuResult(0, None, None, None, 0, ())]
    # Offer 3 sells 8 of its 10 Wh, so its ask is also the best rejected ask: the interval
    # is [95, min(100, 95)] and the price its only point.
    orders[0] = EnergyOrder(1, "buy", 100_000, 12, 4, (0,))
    [result] = on_chain_energy(chain, orders, "uniform")
    assert (result.price, result.volume) == (95_000, 12)
    assert result.trades == (Trade(1, 2, 4, 380, 380), Trade(1, 3, 8, 760, 760))


def test_energy_pay_as_bid_and_ties_by_commit_order(chain):
    orders = [EnergyOrder(5, "sell", 80_000, 10, 1, (1,)), EnergyOrder(2, "sell", 80_000, 10, 1, (1,)),
              EnergyOrder(7, "buy", 120_000, 15, 1, (1,))]
    [result] = on_chain_energy(chain, orders, "pay_as_bid")
    assert result.price is None and (result.bid, result.ask, result.volume) == (120_000, 80_000, 15)
    assert result.trades == (Trade(7, 2, 10, 1200, 800), Trade(7, 5, 5, 600, 400))


# -- flexibility -------------------------------------------------------------------------

@st.composite
def flex_books(draw):
    offers = []
    for seq in range(1, draw(st.integers(0, 16)) + 1):
        qty = draw(st.integers(1, 40)) * 250
        divisible = draw(st.booleans())
        offers.append(FlexOffer(seq, draw(st.integers(1, 12)) * 5_000, qty,
                                draw(st.integers(1, qty)) if divisible else qty))
    return draw(st.permutations(offers)), draw(st.integers(1, 120)) * 250


@SETTINGS
@given(book=flex_books())
def test_flex_selection_matches_reference(chain, book):
    offers, power = book
    result = chain.query(FLEX, "select", [[o.seq, o.price, o.qty, o.min_qty] for o in offers], power)
    expected = select_flex(offers, power)
    assert (result["rule"], [tuple(a) for a in result["awards"]]) == (expected.rule, list(expected.awards))
    by_seq = {o.seq: o for o in offers}
    total = sum(qty for _, qty in expected.awards)
    assert total >= power or expected.rule == "all"
    for seq, qty in expected.awards:
        offer = by_seq[seq]
        assert offer.min_qty <= qty <= offer.qty


def test_flex_exact_beats_greedy_and_breaks_ties(chain):
    # Greedy would take the cheapest 60 W at 10, then 50 W at 11: cost 1150 for 110 W.
    # The exact rule finds the two 50 W offers at 11: cost 1100 for exactly 100 W.
    offers = [FlexOffer(1, 10, 60, 60), FlexOffer(2, 11, 50, 50), FlexOffer(3, 11, 50, 50)]
    result = chain.query(FLEX, "select", [[o.seq, o.price, o.qty, o.min_qty] for o in offers], 100)
    assert result == {"rule": "exact", "awards": [[2, 50], [3, 50]]}
    # equal cost and W: the smaller subset number wins (bit i = i-th non-divisible offer in merit order)
    offers = [FlexOffer(1, 10, 50, 50), FlexOffer(2, 10, 50, 50), FlexOffer(3, 10, 50, 50)]
    result = chain.query(FLEX, "select", [[o.seq, o.price, o.qty, o.min_qty] for o in offers], 100)
    assert result["awards"] == [[1, 50], [2, 50]]


def test_flex_big_books_use_the_greedy_rule_with_pruning(chain):
    offers = [FlexOffer(seq, 100 + seq, 10, 10) for seq in range(1, EXACT_LIMIT + 2)]
    offers.append(FlexOffer(99, 200, 95, 95))
    result = chain.query(FLEX, "select", [[o.seq, o.price, o.qty, o.min_qty] for o in offers], 100)
    expected = select_flex(offers, 100)
    assert expected.rule == "greedy"
    # the 13 small offers give 130 W and never need the big one; pruning drops the 3 dearest
    assert result == {"rule": "greedy", "awards": [[seq, 10] for seq in range(1, 11)]}
    assert [list(a) for a in expected.awards] == result["awards"]


# -- capacity ----------------------------------------------------------------------------

@st.composite
def capacity_books(draw):
    bids = []
    for seq in range(1, draw(st.integers(0, 20)) + 1):
        qty = draw(st.integers(1, 50)) * 100
        bids.append(CapacityBid(seq, draw(st.integers(0, 9)) * 1000, qty, draw(st.integers(1, qty)),
                                tuple(sorted(draw(st.sets(st.integers(0, MTUS - 1), min_size=1))))))
    capacity = draw(st.lists(st.integers(0, 300) .map(lambda x: x * 37), min_size=MTUS, max_size=MTUS))
    return draw(st.permutations(bids)), capacity


@SETTINGS
@given(book=capacity_books(), rule=st.sampled_from(["premium", "pro_rata", "fcfs"]))
def test_capacity_allocation_matches_reference(chain, book, rule):
    bids, capacity = book
    entries = [[m, b.seq, b.price, b.qty, b.min_qty] for b in bids for m in b.mtus]
    results = chain.query(CAPACITY, "allocate", entries, capacity, rule)
    expected = allocate_capacity(bids, capacity, rule)
    assert [(r["mtu"], r["capacity"], r["allocated"], [tuple(a) for a in r["awards"]]) for r in results] == \
        [(e.mtu, e.capacity, e.allocated, list(e.awards)) for e in expected]
    by_seq = {b.seq: b for b in bids}
    for e in expected:
        assert e.allocated <= e.capacity
        assert all(by_seq[s].min_qty <= q <= by_seq[s].qty for s, q in e.awards)
        if rule == "pro_rata" and e.awards and e.allocated < sum(by_seq[s].qty for s, _ in e.awards):
            assert e.allocated == e.capacity  # rounding leftovers are handed out, not kept


def test_capacity_pro_rata_remainders_and_minimums(chain):
    bids = [CapacityBid(1, 0, 100, 1, (0,)), CapacityBid(2, 0, 100, 1, (0,)), CapacityBid(3, 0, 100, 1, (0,)),
            CapacityBid(4, 0, 300, 200, (0,))]
    entries = [[0, b.seq, b.price, b.qty, b.min_qty] for b in bids]
    # 600 W asked of 200: shares 33, 33, 33, 100 -> bid 4 is below its 200 W minimum and drops out;
    # then 300 W asked of 200: 66 each, and the 2 W left go to the first two by seq.
    [result] = chain.query(CAPACITY, "allocate", entries, [200], "pro_rata")
    assert result["awards"] == [[1, 67], [2, 67], [3, 66]]
    [result] = chain.query(CAPACITY, "allocate", entries, [200], "fcfs")
    assert result["awards"] == [[1, 100], [2, 100]]
