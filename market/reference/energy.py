"""Reference clearing of the local energy market: a double auction per MTU.

Formulated on merit-order curves rather than as the contract's pairwise walk: in each MTU
the bids (price descending, then seq) and the offers (price ascending, then seq) are laid
end to end as intervals of cumulative quantity.  Every point of quantity where both curves
exist belongs to one bid and one offer; the traded volume V is the first point where the
bid there is priced below the offer there (or where a curve ends).  While the bid or offer
just below V is filled (V minus where it starts) below its minimum, V falls back to the
previous breakpoint of either curve.  Trades are the pieces between consecutive
breakpoints below V.
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


def _clear_mtu(mtu: int, bids: list[EnergyOrder], offers: list[EnergyOrder], rule: str) -> MtuResult:
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
    price = (last_bid + last_ask) // 2
    trades = []
    for low, high in pieces:
        bid, offer = bids[_holder(bid_starts, low)], offers[_holder(offer_starts, low)]
        qty = high - low
        if rule == "uniform":
            trades.append(Trade(bid.seq, offer.seq, qty, price * qty // 1000, price * qty // 1000))
        else:
            trades.append(Trade(bid.seq, offer.seq, qty, bid.price * qty // 1000, offer.price * qty // 1000))
    return MtuResult(mtu, price if rule == "uniform" else None, last_bid, last_ask, volume, tuple(trades))


def clear_energy(orders: list[EnergyOrder], rule: str) -> list[MtuResult]:
    """Results for every MTU offset that has orders, ascending; ``rule`` is uniform or pay_as_bid."""
    if rule not in ("uniform", "pay_as_bid"):
        raise ValueError(f"unknown price rule {rule!r}")
    results = []
    for mtu in sorted({m for o in orders for m in o.mtus}):
        here = [o for o in orders if mtu in o.mtus]
        bids = sorted((o for o in here if o.side == "buy"), key=lambda o: (-o.price, o.seq))
        offers = sorted((o for o in here if o.side == "sell"), key=lambda o: (o.price, o.seq))
        results.append(_clear_mtu(mtu, bids, offers, rule))
    return results
