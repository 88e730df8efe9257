"""Local flexibility market selection (contract language): the DSO's cheapest set of offers.

A stateless library contract, deployed at genesis and called by the market contract
(``call(flex_clearing, "select", offers, power)``); no storage.

Each offer is ``[seq, price, qty, min_qty]``: qty and min_qty in W (qty >= min_qty >= 1),
price in micro-units per kWh (already checked against the price cap), seq the commit
number.  An offer with min_qty == qty is *non-divisible* (all or nothing); any other is
*divisible*: it may be taken partly, but not below its minimum.  The cost of taking q W
of an offer is price * q; the request is met when the W taken add up to at least
``power``.  Merit order: price ascending, ties by seq ascending.

Rules (see docs/market.md, "Local flexibility market"):

- ``all``: when all offers together do not exceed the request, every offer is taken in
  full (the DSO buys what there is).
- ``exact`` (at most EXACT_LIMIT non-divisible offers): every subset of the non-divisible
  offers is tried; the rest of the request, if any, is filled with divisible offers in merit
  order, each taking min(qty, max(min_qty, still needed)).  The cheapest feasible choice
  wins; ties go to the smaller total W, then to the smallest subset number (bit i set =
  the i-th non-divisible offer in merit order is taken).
- ``greedy`` (more non-divisible offers): offers are taken in merit order while the
  request is not met (non-divisible in full, divisible as above); then taken non-divisible
  offers are dropped, the most expensive first (reverse merit order), whenever the rest
  still meets the request.

Returns ``{"rule", "awards"}`` with awards ``[seq, qty]`` in merit order.  Pay-as-bid.
"""

SEQ = 0
PRICE = 1
QTY = 2
MIN_QTY = 3
EXACT_LIMIT = 12


def _fill_index(cumulative, need):
    """Smallest k with cumulative[k + 1] >= need (need <= cumulative[-1])."""
    low = 0
    high = len(cumulative) - 2
    while low < high:
        middle = (low + high) // 2
        if cumulative[middle + 1] >= need:
            high = middle
        else:
            low = middle + 1
    return low


def _exact(merit, power):
    fixed = [offer for offer in merit if offer[MIN_QTY] == offer[QTY]]
    divisible = [offer for offer in merit if offer[MIN_QTY] < offer[QTY]]
    cum_qty = [0]
    cum_cost = [0]
    for offer in divisible:
        cum_qty.append(cum_qty[-1] + offer[QTY])
        cum_cost.append(cum_cost[-1] + offer[PRICE] * offer[QTY])
    sub_qty = [0]
    sub_cost = [0]
    for offer in fixed:
        sub_qty = sub_qty + [q + offer[QTY] for q in sub_qty]
        sub_cost = sub_cost + [c + offer[PRICE] * offer[QTY] for c in sub_cost]
    best = None
    for mask in range(len(sub_qty)):
        need = power - sub_qty[mask]
        if need <= 0:
            choice = [sub_cost[mask], sub_qty[mask], mask, 0, 0]
        elif need <= cum_qty[-1]:
            k = _fill_index(cum_qty, need)
            take = max(divisible[k][MIN_QTY], need - cum_qty[k])
            choice = [sub_cost[mask] + cum_cost[k] + divisible[k][PRICE] * take,
                      sub_qty[mask] + cum_qty[k] + take, mask, k, take]
        else:
            continue
        if best is None or choice[:3] < best[:3]:
            best = choice
    mask, k, take = best[2], best[3], best[4]
    taken = {}
    for i in range(len(fixed)):
        if (mask >> i) & 1:
            taken[fixed[i][SEQ]] = fixed[i][QTY]
    if power > sub_qty[mask]:
        for i in range(k):
            taken[divisible[i][SEQ]] = divisible[i][QTY]
        taken[divisible[k][SEQ]] = take
    return [[offer[SEQ], taken[offer[SEQ]]] for offer in merit if offer[SEQ] in taken]


def _take(offer, need):
    if offer[MIN_QTY] == offer[QTY]:
        return offer[QTY]
    return min(offer[QTY], max(offer[MIN_QTY], need))


def _greedy(merit, power):
    chosen = []
    total = 0
    for offer in merit:
        if total >= power:
            break
        take = _take(offer, power - total)
        chosen.append([offer, take])
        total += take
    for k in reversed(range(len(chosen))):
        offer, take = chosen[k]
        if offer[MIN_QTY] == offer[QTY] and total - take >= power:
            total -= take
            chosen[k][1] = 0
    return [[offer[SEQ], take] for offer, take in chosen if take > 0]


def select(offers, power):
    """Choose the offers that meet ``power`` W at the least cost (see the module text)."""
    require(isinstance(power, int) and power > 0, "power must be a positive int")
    merit = sorted(offers, key=lambda offer: (offer[PRICE], offer[SEQ]))
    if sum([offer[QTY] for offer in merit]) <= power:
        return {"rule": "all", "awards": [[offer[SEQ], offer[QTY]] for offer in merit]}
    if len([offer for offer in merit if offer[MIN_QTY] == offer[QTY]]) <= EXACT_LIMIT:
        return {"rule": "exact", "awards": _exact(merit, power)}
    return {"rule": "greedy", "awards": _greedy(merit, power)}
