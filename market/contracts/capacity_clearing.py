"""Capacity market allocation (contract language): feeder capacity shared per MTU.

A stateless library contract, deployed at genesis and called by the market contract
(``call(capacity_clearing, "allocate", bids, capacity, rule)``); no storage.

Each bid entry is ``[mtu, seq, price, qty, min_qty]`` (one per bid and MTU): qty and
min_qty in W (qty >= min_qty >= 1), price in micro-units per kWh, seq the commit number
(unique per bid).  ``capacity`` lists the W available per MTU offset.

Rules (see docs/market.md, "Capacity market"):

- ``premium`` (premium capacity): bids by price descending, ties by seq ascending; each
  bid gets min(qty, what is left) if that is at least its minimum, otherwise nothing and
  the next bid is tried.  Winners pay their own price (the market contract books it).
- ``fcfs`` (social equity, first come first served): the same walk in commit order (seq
  ascending); no charge.
- ``pro_rata`` (social equity, pro rata): if all requests fit, everyone gets its request.
  Otherwise each bid's share is qty * capacity // total requested (round down); all bids
  whose share is below their minimum are dropped at once and the shares are computed again
  among the rest, until none is dropped.  The W left by rounding go one each to the bids with the
  largest remainders (qty * capacity % total, ties by seq ascending).  No charge.

Returns one record per MTU that has bids, by MTU ascending:
``{"mtu", "capacity", "allocated", "awards"}`` with awards ``[seq, qty]`` (only bids that
got something, in allocation order).
"""

MTU = 0
SEQ = 1
PRICE = 2
QTY = 3
MIN_QTY = 4
RULES = ("premium", "pro_rata", "fcfs")


def _in_order(group, capacity):
    awards = []
    left = capacity
    for bid in group:
        take = min(bid[QTY], left)
        if take > 0 and take >= bid[MIN_QTY]:
            awards.append([bid[SEQ], take])
            left -= take
    return awards


def _pro_rata(group, capacity):
    """Pro-rata shares.  Dropping bids only makes the other shares bigger, so the second
    round never drops anything: the loop runs at most twice."""
    active = group
    while True:
        total = sum([bid[QTY] for bid in active])
        if total <= capacity:
            return [[bid[SEQ], bid[QTY]] for bid in active]
        shares = [bid[QTY] * capacity // total for bid in active]
        kept = [bid for k, bid in enumerate(active) if shares[k] >= bid[MIN_QTY]]
        if len(kept) == len(active):
            break
        active = kept
    left = capacity - sum(shares)
    ranking = sorted(range(len(active)), key=lambda k: (-(active[k][QTY] * capacity % total), active[k][SEQ]))
    for k in ranking[:left]:
        shares[k] += 1
    return [[active[k][SEQ], shares[k]] for k in range(len(active))]


def allocate(bids, capacity, rule):
    """Allocate ``capacity`` (W per MTU offset) among ``bids`` under ``rule``."""
    require(rule in RULES, "unknown capacity rule")
    if rule == "premium":
        book = sorted(bids, key=lambda bid: (bid[MTU], -bid[PRICE], bid[SEQ]))
    else:
        book = sorted(bids, key=lambda bid: (bid[MTU], bid[SEQ]))
    results = []
    start = 0
    while start < len(book):
        mtu = book[start][MTU]
        end = start
        while end < len(book) and book[end][MTU] == mtu:
            end += 1
        if rule == "pro_rata":
            awards = _pro_rata(book[start:end], capacity[mtu])
        else:
            awards = _in_order(book[start:end], capacity[mtu])
        results.append({"mtu": mtu, "capacity": capacity[mtu], "allocated": sum([a[1] for a in awards]),
                        "awards": awards})
        start = end
    return results
