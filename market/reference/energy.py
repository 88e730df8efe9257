"""Reference clearing of the local energy market: a double auction per MTU.

Formulated on merit-order curves rather than as the contract's pairwise walk: in each MTU
the bids (price descending, then seq) and the offers (price ascending, then seq) are laid
end to end as intervals of cumulative quantity.  Every point of quantity where both curves
exist belongs to one bid and one offer; the traded volume V is the first point where the
bid there is priced below the offer there (or where a curve ends).  While the bid or offer
just below V is filled (V minus where it starts) below its minimum, V falls back to the
previous breakpoint of either curve.  Trades are the pieces between consecutive
breakpoints below V.

The uniform price lies in the competitive interval: above the ask of the offer holding
V - 1 (the last accepted) and the bid holding V (the best rejected, the remainder of a
partly filled bid included), below the bid holding V - 1 and the offer holding V.  It is
``lower + k_pct * (upper - lower) // 100``; when minimum quantities make the interval
empty, the interval between the asks and bids holding V - 1 is used.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True)
class EnergyOrder:
    seq: int
    side: str  # "buy" or "sell"
    price: int
    qty: int
    min_qty: int
    mtus: tuple[int, ...]


@dataclass(frozen=True)
class Trade:
    bid_seq: int
    offer_seq: int
    qty: int
    buyer_pays: int
    seller_gets: int


@dataclass(frozen=True)
class MtuResult:
    mtu: int
    price: int | None
    bid: int | None
    ask: int | None
    volume: int
    trades: tuple[Trade, ...]


def _holder(starts: list[int], point: int) -> int:
    """Index of the interval [starts[i], starts[i + 1]) that holds ``point`` (< starts[-1])."""
    return bisect_right(starts, point) - 1


def _competitive_interval(bids: list[EnergyOrder], bid_starts: list[int], offers: list[EnergyOrder],
                          offer_starts: list[int], volume: int, accepted: tuple[int, int]) -> tuple[int, int]:
    """[lower, upper] for a uniform price at traded ``volume`` > 0, given ``accepted`` =
    (last accepted ask, last accepted bid); see the module docstring."""
    rejected_bid = bids[_holder(bid_starts, volume)].price if volume < bid_starts[-1] else None
    rejected_ask = offers[_holder(offer_starts, volume)].price if volume < offer_starts[-1] else None
    lower = max(p for p in (accepted[0], rejected_bid) if p is not None)
    upper = min(p for p in (accepted[1], rejected_ask) if p is not None)
    return (lower, upper) if lower <= upper else accepted


def _clear_mtu(mtu: int, bids: list[EnergyOrder], offers: list[EnergyOrder], rule: str, k_pct: int) -> MtuResult:
    bid_starts = [0, *accumulate(o.qty for o in bids)]
    offer_starts = [0, *accumulate(o.qty for o in offers)]
    end = min(bid_starts[-1], offer_starts[-1])
    points = sorted({p for p in bid_starts + offer_starts if p <= end})
    volume = 0
    for low, high in zip(points, points[1:]):
        if bids[_holder(bid_starts, low)].price < offers[_holder(offer_starts, low)].price:
            break
        volume = high
    while volume > 0:
        b, o = _holder(bid_starts, volume - 1), _holder(offer_starts, volume - 1)
        if volume - bid_starts[b] >= bids[b].min_qty and volume - offer_starts[o] >= offers[o].min_qty:
            break
        volume = points[bisect_left(points, volume) - 1]
    pieces = [(low, high) for low, high in zip(points, points[1:]) if high <= volume]
    if not pieces:
        return MtuResult(mtu, None, None, None, 0, ())
    last_bid = bids[_holder(bid_starts, volume - 1)].price
    last_ask = offers[_holder(offer_starts, volume - 1)].price
    lower, upper = _competitive_interval(bids, bid_starts, offers, offer_starts, volume, (last_ask, last_bid))
    price = lower + k_pct * (upper - lower) // 100
    trades = []
    for low, high in pieces:
        bid, offer = bids[_holder(bid_starts, low)], offers[_holder(offer_starts, low)]
        qty = high - low
        if rule == "uniform":
            trades.append(Trade(bid.seq, offer.seq, qty, price * qty // 1000, price * qty // 1000))
        else:
            trades.append(Trade(bid.seq, offer.seq, qty, bid.price * qty // 1000, offer.price * qty // 1000))
    return MtuResult(mtu, price if rule == "uniform" else None, last_bid, last_ask, volume, tuple(trades))


def clear_energy(orders: list[EnergyOrder], rule: str, k_pct: int = 50) -> list[MtuResult]:
    """Results for every MTU offset that has orders, ascending; ``rule`` is uniform or pay_as_bid,
    ``k_pct`` (0..100) where in the competitive interval the uniform price lies."""
    if rule not in ("uniform", "pay_as_bid"):
        raise ValueError(f"unknown price rule {rule!r}")
    if not 0 <= k_pct <= 100:
        raise ValueError(f"k_pct must be between 0 and 100, not {k_pct}")
    results = []
    for mtu in sorted({m for o in orders for m in o.mtus}):
        here = [o for o in orders if mtu in o.mtus]
        bids = sorted((o for o in here if o.side == "buy"), key=lambda o: (-o.price, o.seq))
        offers = sorted((o for o in here if o.side == "sell"), key=lambda o: (o.price, o.seq))
        results.append(_clear_mtu(mtu, bids, offers, rule, k_pct))
    return results
