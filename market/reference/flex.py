"""Reference selection of flexibility offers: the DSO's cheapest set that meets its request.

Brute force where the contract is clever: for a small book every combination of the
non-divisible offers is listed with itertools, and the divisible offers fill the rest one
by one in merit order; the winner is the minimum of (cost, total W, subset number).  Big
books use the documented greedy rule with its pruning pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

EXACT_LIMIT = 12


@dataclass(frozen=True)
class FlexOffer:
    seq: int
    price: int
    qty: int
    min_qty: int

    @property
    def divisible(self) -> bool:
        return self.min_qty < self.qty


@dataclass(frozen=True)
class FlexSelection:
    rule: str  # "all", "exact" or "greedy"
    awards: tuple[tuple[int, int], ...]  # (seq, W) in merit order


def _share(offer: FlexOffer, still_needed: int) -> int:
    return min(offer.qty, max(offer.min_qty, still_needed)) if offer.divisible else offer.qty


def _in_merit_order(merit: list[FlexOffer], taken: dict[int, int]) -> tuple[tuple[int, int], ...]:
    return tuple((o.seq, taken[o.seq]) for o in merit if taken.get(o.seq, 0) > 0)


def _exact(merit: list[FlexOffer], power: int) -> dict[int, int]:
    fixed = [o for o in merit if not o.divisible]
    divisible = [o for o in merit if o.divisible]
    price = {o.seq: o.price for o in merit}
    best = None
    for size in range(len(fixed) + 1):
        for chosen in combinations(range(len(fixed)), size):
            taken = {fixed[i].seq: fixed[i].qty for i in chosen}
            total = sum(taken.values())
            for offer in divisible:
                if total >= power:
                    break
                taken[offer.seq] = _share(offer, power - total)
                total += taken[offer.seq]
            if total < power:
                continue
            key = (sum(price[seq] * qty for seq, qty in taken.items()), total, sum(1 << i for i in chosen))
            if best is None or key < best[0]:
                best = (key, taken)
    return best[1]


def _greedy(merit: list[FlexOffer], power: int) -> dict[int, int]:
    taken: dict[int, int] = {}
    total = 0
    for offer in merit:
        if total >= power:
            break
        taken[offer.seq] = _share(offer, power - total)
        total += taken[offer.seq]
    for offer in reversed(merit):
        if offer.seq in taken and not offer.divisible and total - taken[offer.seq] >= power:
            total -= taken.pop(offer.seq)
    return taken


def select_flex(offers: list[FlexOffer], power: int) -> FlexSelection:
    merit = sorted(offers, key=lambda o: (o.price, o.seq))
    if sum(o.qty for o in merit) <= power:
        return FlexSelection("all", tuple((o.seq, o.qty) for o in merit))
    if sum(1 for o in merit if not o.divisible) <= EXACT_LIMIT:
        return FlexSelection("exact", _in_merit_order(merit, _exact(merit, power)))
    return FlexSelection("greedy", _in_merit_order(merit, _greedy(merit, power)))
