"""Reference allocation of feeder capacity per MTU: premium, first come first served, pro rata.

Premium and FCFS hand out capacity one bid at a time in their order; pro rata computes
exact shares as fractions, drops the bids whose rounded-down share is below their minimum
until none is, and gives the W lost to rounding to the largest fractional parts.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import floor


@dataclass(frozen=True)
class CapacityBid:
    seq: int
    price: int
    qty: int
    min_qty: int
    mtus: tuple[int, ...]


@dataclass(frozen=True)
class CapacityResult:
    mtu: int
    capacity: int
    allocated: int
    awards: tuple[tuple[int, int], ...]  # (seq, W) in allocation order


def _one_by_one(bids: list[CapacityBid], capacity: int) -> list[tuple[int, int]]:
    awards, left = [], capacity
    for bid in bids:
        give = min(bid.qty, left)
        if give >= max(bid.min_qty, 1):
            awards.append((bid.seq, give))
            left -= give
    return awards


def _pro_rata(bids: list[CapacityBid], capacity: int) -> list[tuple[int, int]]:
    active = sorted(bids, key=lambda b: b.seq)
    while True:
        requested = sum(b.qty for b in active)
        if requested <= capacity:
            return [(b.seq, b.qty) for b in active]
        exact = {b.seq: Fraction(b.qty * capacity, requested) for b in active}
        survivors = [b for b in active if floor(exact[b.seq]) >= b.min_qty]
        if len(survivors) == len(active):
            break
        active = survivors
    shares = {seq: floor(value) for seq, value in exact.items()}
    spare = capacity - sum(shares.values())
    for seq in sorted(shares, key=lambda s: (-(exact[s] - shares[s]), s))[:spare]:
        shares[seq] += 1
    return [(b.seq, shares[b.seq]) for b in active]


def allocate_capacity(bids: list[CapacityBid], capacity: list[int], rule: str) -> list[CapacityResult]:
    """Results for every MTU offset that has bids, ascending; ``rule``: premium, pro_rata, fcfs."""
    if rule not in ("premium", "pro_rata", "fcfs"):
        raise ValueError(f"unknown capacity rule {rule!r}")
    results = []
    for mtu in sorted({m for b in bids for m in b.mtus}):
        here = [b for b in bids if mtu in b.mtus]
        if rule == "premium":
            awards = _one_by_one(sorted(here, key=lambda b: (-b.price, b.seq)), capacity[mtu])
        elif rule == "fcfs":
            awards = _one_by_one(sorted(here, key=lambda b: b.seq), capacity[mtu])
        else:
            awards = _pro_rata(here, capacity[mtu])
        results.append(CapacityResult(mtu, capacity[mtu], sum(q for _, q in awards), tuple(awards)))
    return results
