"""An independent check of the energy clearing: each MTU of a random divisible book as the
welfare-maximising linear programme, solved by scipy's linprog (HiGHS).

Per MTU, the primal has one variable per order, its accepted quantity q in [0, qty], and
maximises the welfare  sum(bid price * q_bid) - sum(ask price * q_ask)  subject to the
balance  sum(q_bid) = sum(q_ask).  The contract (the genesis library, run by the VM on a
real chain) must reach:

- **the optimal welfare** W*, computed exactly (integers) from its trades;
- **the optimal volume**.  The optimum is not unique when the marginal bid and ask have the
  same price (zero-surplus trades): any volume between two bounds is then optimal.  The
  merit-order walk trades as long as bid >= ask, so it must give the *largest* optimal
  volume: a second LP maximises sum(q_bid) subject to the balance and welfare >= W* - 1e-3.
  Prices are integers, so every Wh beyond the largest optimal volume loses at least 1 of
  welfare: the tolerance can add at most 1e-3 Wh;
- **a price in the dual range**.  The dual of the primal, with lam the balance
  constraint's multiplier and u_i >= 0 one per bound q_i <= qty_i, is
      minimise sum(qty_i * u_i)  s.t.  u_b >= p_b - lam,  u_a >= lam - p_a,
  and its optimum equals W*.  The balance constraint's dual values are the lam of the
  optimal dual solutions, an interval: two more LPs minimise and maximise lam subject to
  the dual constraints and sum(qty_i * u_i) <= W* + 1e-6 (quantities are at least 1 Wh, so
  the slack moves lam by at most 1e-6; compared within 1e-4).  HiGHS's own balance marginal
  must lie in it, the clearing price too, and (complementary slackness) its ends are the
  competitive interval [max(last accepted ask, best rejected bid), min(last accepted bid,
  best rejected ask)] of docs/market.md.  Exactly, in integers: at the clearing price the
  dual objective (u at its least) equals W* (strong duality).

The same books check individual rationality, balance and the price property
(check_energy_invariants of test_market_clearing.py).
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from scipy.optimize import linprog

from tests.chainkit import LocalChain
from tests.test_market_clearing import check_energy_invariants, energy_books, on_chain_energy
from tests.test_market_clearing_price import ISSUE_BOOK

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WELFARE_SLACK = 1e-3   # Wh of volume it may add: at most WELFARE_SLACK / 1
DUAL_SLACK = 1e-6
PRICE_TOLERANCE = 1e-4   # DUAL_SLACK plus HiGHS's own feasibility tolerance


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    local = LocalChain(tmp_path_factory.mktemp("lp"))
    yield local
    local.close()


def _solved(result):
    assert result.status == 0, result.message
    return result


def primal(orders):
    """(W*, largest optimal volume, HiGHS's balance dual) of one MTU's welfare LP."""
    welfare = np.array([o.price if o.side == "buy" else -o.price for o in orders], dtype=float)
    is_bid = np.array([1.0 if o.side == "buy" else 0.0 for o in orders])
    balance = np.array([[1.0 if o.side == "buy" else -1.0 for o in orders]])
    bounds = [(0, o.qty) for o in orders]
    best = _solved(linprog(-welfare, A_eq=balance, b_eq=[0], bounds=bounds, method="highs"))
    optimum = -best.fun
    widest = _solved(linprog(-is_bid, A_ub=[-welfare], b_ub=[-(optimum - WELFARE_SLACK)], A_eq=balance, b_eq=[0],
                             bounds=bounds, method="highs"))
    return optimum, -widest.fun, -best.eqlin.marginals[0]


def dual_range(orders, optimum):
    """[least, greatest] lam over the optimal solutions of the dual LP."""
    n = len(orders)
    rows, limits = [], []
    for i, o in enumerate(orders):
        row = np.zeros(n + 1)
        row[1 + i] = -1.0
        if o.side == "buy":      # -u_b - lam <= -p_b
            row[0] = -1.0
            limits.append(-o.price)
        else:                    # lam - u_a <= p_a
            row[0] = 1.0
            limits.append(o.price)
        rows.append(row)
    rows.append(np.concatenate([[0.0], [o.qty for o in orders]]))
    limits.append(optimum + DUAL_SLACK)
    bounds = [(None, None)] + [(0, None)] * n
    objective = np.zeros(n + 1)
    objective[0] = 1.0
    low = _solved(linprog(objective, A_ub=rows, b_ub=limits, bounds=bounds, method="highs"))
    high = _solved(linprog(-objective, A_ub=rows, b_ub=limits, bounds=bounds, method="highs"))
    return low.x[0], high.x[0]


def least_dual_objective(orders, lam):
    """The dual objective at balance price ``lam`` with each u_i at its least (exact integers)."""
    return sum(o.qty * max(o.price - lam, 0) if o.side == "buy" else o.qty * max(lam - o.price, 0) for o in orders)


def check_against_lp(chain, orders, k_pct):
    results = on_chain_energy(chain, orders, "uniform", k_pct)
    check_energy_invariants(orders, results, "uniform", k_pct)
    by_seq = {o.seq: o for o in orders}
    for result in results:
        here = [o for o in orders if result.mtu in o.mtus]
        welfare = sum((by_seq[t.bid_seq].price - by_seq[t.offer_seq].price) * t.qty for t in result.trades)
        optimum, widest, highs_dual = primal(here)
        assert welfare == pytest.approx(optimum, abs=1e-6, rel=1e-9)
        assert result.volume == pytest.approx(widest, abs=2 * WELFARE_SLACK)
        if not result.trades:
            continue
        low, high = dual_range(here, welfare)
        assert low - PRICE_TOLERANCE <= highs_dual <= high + PRICE_TOLERANCE
        assert low - PRICE_TOLERANCE <= result.price <= high + PRICE_TOLERANCE
        assert least_dual_objective(here, result.price) == welfare
        yield result, (low, high)


@SETTINGS
@given(orders=energy_books(divisible=True), k_pct=st.one_of(st.just(50), st.integers(0, 100)))
def test_divisible_books_clear_at_the_lp_optimum_and_a_dual_price(chain, orders, k_pct):
    for result, (low, high) in check_against_lp(chain, orders, k_pct):
        lower, upper = round(low), round(high)
        assert (low, high) == (pytest.approx(lower, abs=PRICE_TOLERANCE), pytest.approx(upper, abs=PRICE_TOLERANCE))
        assert result.price == lower + k_pct * (upper - lower) // 100


def test_issue_example_against_the_lp(chain):
    [(result, dual)] = list(check_against_lp(chain, ISSUE_BOOK, 50))
    assert (result.price, result.volume) == (92_500, 10)
    assert dual == (pytest.approx(90_000, abs=PRICE_TOLERANCE), pytest.approx(95_000, abs=PRICE_TOLERANCE))
