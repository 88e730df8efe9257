"""Local energy market clearing (contract language): a double auction per MTU.

A stateless library contract, deployed at genesis and called by the market contract
(``call(energy_clearing, "clear", entries, rule, k_pct)``); it reads and writes no storage.

Each entry is ``[mtu, side, price, qty, min_qty, seq]``: side 0 is a bid (buy) and 1 an
offer (sell), price in micro-units per kWh, quantities in Wh (qty >= min_qty >= 1), seq
the order's commit number in its session (unique per order).

Per MTU (see docs/market.md, "Local energy market"):

1. Merit order: bids by price descending, offers by price ascending; ties by seq ascending.
2. Walk: the best remaining bid and the best remaining offer trade min(their remaining
   quantities) as long as the bid price >= the offer price.
3. Minimum quantities: while the bid or the offer of the last trade of the walk is filled
   below its minimum, that last trade is removed.  Only the orders of the last trade can be
   filled partly, so afterwards every order is filled 0 or at least its minimum.
4. Price: ``uniform`` -- one price for every trade, in the competitive interval
   [max(last accepted ask, best rejected bid), min(last accepted bid, best rejected ask)],
   where a partly filled order also counts as rejected for its remainder:
   ``lower + k_pct * (upper - lower) // 100`` (k_pct 50, the default, is the midpoint
   rounded down).  When minimum quantities leave that interval empty, the interval of the
   accepted orders alone, [last accepted ask, last accepted bid], is used instead.
   ``pay_as_bid`` -- buyers pay their bid, sellers receive their ask, and the spread goes
   to the session operator (the market contract books it).  Payments are
   price * qty // 1000 per trade (round down).

Returns one record per MTU that has orders, by MTU ascending:
``{"mtu", "price", "bid", "ask", "volume", "trades"}`` with ``bid``/``ask`` the marginal
prices (None without trades), ``price`` the uniform price (None under pay-as-bid or without
trades) and trades ``[bid_seq, offer_seq, qty, buyer_pays, seller_gets]`` in walk order.
"""

BUY = 0
MTU = 0
SIDE = 1
PRICE = 2
QTY = 3
MIN_QTY = 4
SEQ = 5
RULES = ("uniform", "pay_as_bid")


def _merit_key(entry):
    if entry[SIDE] == BUY:
        return (entry[MTU], 0, -entry[PRICE], entry[SEQ])
    return (entry[MTU], 1, entry[PRICE], entry[SEQ])


def _walk(bids, offers):
    """Pairs [bid index, offer index, qty] of the merit-order walk, trimmed for minimums,
    and the quantity filled of the last pair's bid and offer (pairs empty: 0 and 0)."""
    pairs = []
    bid_fill = [0] * len(bids)
    offer_fill = [0] * len(offers)
    i = 0
    j = 0
    while i < len(bids) and j < len(offers) and bids[i][PRICE] >= offers[j][PRICE]:
        qty = min(bids[i][QTY] - bid_fill[i], offers[j][QTY] - offer_fill[j])
        pairs.append([i, j, qty])
        bid_fill[i] += qty
        offer_fill[j] += qty
        if bid_fill[i] == bids[i][QTY]:
            i += 1
        if offer_fill[j] == offers[j][QTY]:
            j += 1
    while pairs:
        b, o, qty = pairs[-1]
        if bid_fill[b] >= bids[b][MIN_QTY] and offer_fill[o] >= offers[o][MIN_QTY]:
            break
        pairs.pop()
        bid_fill[b] -= qty
        offer_fill[o] -= qty
    if not pairs:
        return [pairs, 0, 0]
    return [pairs, bid_fill[pairs[-1][0]], offer_fill[pairs[-1][1]]]


def _uniform_price(bids, offers, last_pair, bid_filled, offer_filled, k_pct):
    """The price at k_pct of the competitive interval.  Fills form a prefix of the merit
    order, so the best rejected bid is the last accepted one when partly filled, else the
    next one (likewise for offers)."""
    b = last_pair[0]
    o = last_pair[1]
    accepted_ask = offers[o][PRICE]
    accepted_bid = bids[b][PRICE]
    lower = accepted_ask
    upper = accepted_bid
    if bid_filled == bids[b][QTY]:
        b += 1
    if b < len(bids):
        lower = max(lower, bids[b][PRICE])
    if offer_filled == offers[o][QTY]:
        o += 1
    if o < len(offers):
        upper = min(upper, offers[o][PRICE])
    if lower > upper:
        lower = accepted_ask
        upper = accepted_bid
    return lower + k_pct * (upper - lower) // 100


def _clear_mtu(mtu, bids, offers, rule, k_pct):
    pairs, bid_filled, offer_filled = _walk(bids, offers)
    if not pairs:
        return {"mtu": mtu, "price": None, "bid": None, "ask": None, "volume": 0, "trades": []}
    marginal_bid = bids[pairs[-1][0]][PRICE]
    marginal_ask = offers[pairs[-1][1]][PRICE]
    price = None
    if rule == "uniform":
        price = _uniform_price(bids, offers, pairs[-1], bid_filled, offer_filled, k_pct)
    trades = []
    volume = 0
    for b, o, qty in pairs:
        volume += qty
        if rule == "uniform":
            pay = price * qty // 1000
            trades.append([bids[b][SEQ], offers[o][SEQ], qty, pay, pay])
        else:
            trades.append([bids[b][SEQ], offers[o][SEQ], qty, bids[b][PRICE] * qty // 1000,
                           offers[o][PRICE] * qty // 1000])
    return {"mtu": mtu, "price": price, "bid": marginal_bid,
            "ask": marginal_ask, "volume": volume, "trades": trades}


def clear(entries, rule, k_pct):
    """Clear every MTU of ``entries`` under price ``rule`` ("uniform" or "pay_as_bid"), a
    uniform price at ``k_pct`` (0..100) of each MTU's competitive interval."""
    require(rule in RULES, "unknown price rule")
    require(isinstance(k_pct, int) and not isinstance(k_pct, bool) and 0 <= k_pct <= 100,
            "k_pct must be an int between 0 and 100")
    book = sorted(entries, key=_merit_key)
    results = []
    start = 0
    while start < len(book):
        mtu = book[start][MTU]
        split = start
        while split < len(book) and book[split][MTU] == mtu and book[split][SIDE] == BUY:
            split += 1
        end = split
        while end < len(book) and book[end][MTU] == mtu:
            end += 1
        results.append(_clear_mtu(mtu, book[start:split], book[split:end], rule, k_pct))
        start = end
    return results
