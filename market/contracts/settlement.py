"""Settlement formulas (contract language): from trades or awards and meter data to payouts.

A stateless library contract, deployed at genesis and called by the market contract when
it settles a session; no storage, no token moves (the market contract pays the result out
of its escrow).  Every function starts from ``deposits`` (escrow per address, including
the operator's own escrow, if any) and returns ``{"payouts", "lines"}``: payouts per
address (all >= 0, and they add up to the deposits: nothing is created or lost) and one
line per assessed item.  Money is micro-units, energy Wh, power W, prices micro-units per
kWh; every product is rounded down once, where it is computed.  An MTU here is absolute
(unix time // 900); ``readings`` maps (device, mtu) to the Wh the device imported (negative:
exported), as recorded by the meter contract; a missing reading means "not assessed".

See docs/market.md, "Settlement".
"""

MTUS_PER_DAY = 96


def _credit(balance, address, amount):
    balance[address] = balance.get(address, 0) + amount


def energy(trades, deposits, readings, imbalance_price, operator):
    """Local energy market.

    trades: [mtu, buyer, buyer_device, seller, seller_device, qty, buyer_pays, seller_gets].
    1. Each trade: the buyer pays buyer_pays, the seller gets seller_gets, the operator the
       difference (the pay-as-bid spread; 0 under a uniform price).
    2. Imbalance, per device and MTU with a traded position (bought - sold Wh):
       gap = metered - position.  A gap > 0 (short: drew more than bought, or delivered less
       than sold) is charged gap * imbalance_price // 1000, at most what the trader has
       left (the rest is reported as not collected); charges are applied in (device, mtu)
       order and go to a pool.  A gap < 0 (long) earns -gap * imbalance_price // 1000 from
       the pool; if the pool is short, each credit is scaled to credit * pool // credits.
       What the pool keeps goes to the operator.
    lines: [device, mtu, position, metered, charge, collected, credit, credited] (the trader
    is the one of the device's orders).
    """
    balance = dict(deposits)
    _credit(balance, operator, 0)
    positions = {}
    for mtu, buyer, buyer_device, seller, seller_device, qty, pays, gets in trades:
        _credit(balance, buyer, -pays)
        _credit(balance, seller, gets)
        _credit(balance, operator, pays - gets)
        for device, trader, delta in ((buyer_device, buyer, qty), (seller_device, seller, -qty)):
            key = (device, mtu)
            if key in positions:
                positions[key][1] += delta
            else:
                positions[key] = [trader, delta]
    lines = []
    owners = []
    pool = 0
    credits = 0
    for key in sorted(positions.keys()):
        trader, position = positions[key]
        metered = readings.get(key)
        charge = 0
        collected = 0
        credit = 0
        if metered is not None:
            gap = metered - position
            if gap > 0:
                charge = gap * imbalance_price // 1000
                collected = min(charge, balance[trader])
                balance[trader] -= collected
                pool += collected
            else:
                credit = -gap * imbalance_price // 1000
                credits += credit
        lines.append([key[0], key[1], position, metered, charge, collected, credit, 0])
        owners.append(trader)
    paid = 0
    for line, trader in zip(lines, owners):
        if line[6] > 0:
            line[7] = line[6] if pool >= credits else line[6] * pool // credits
            _credit(balance, trader, line[7])
            paid += line[7]
    _credit(balance, operator, pool - paid)
    return {"payouts": balance, "lines": lines}


def _baseline(declared, history, device, mtu, days):
    """The declared baseline, else the average (round down) of the readings of the same MTU
    on the previous ``days`` days that exist; None when there are none."""
    if declared is not None:
        return declared
    values = []
    for day in range(1, days + 1):
        value = history.get((device, mtu - day * MTUS_PER_DAY))
        if value is not None:
            values.append(value)
    if not values:
        return None
    return sum(values) // len(values)


def flex(awards, deposits, readings, history, spec, operator):
    """Local flexibility market, per award and MTU of the request window.

    awards: [seq, trader, device, qty (W), price, declared baseline (Wh per MTU) or None];
    spec: {first_mtu, n_mtus, direction ("up"/"down"), tolerance_pct, penalty_price,
    baseline_days}.  awarded = qty // 4 Wh per MTU; delivered = baseline - metered ("up")
    or metered - baseline ("down").  The DSO (the operator) pays
    price * min(max(delivered, 0), awarded) // 1000.  With tol = awarded * tolerance_pct
    // 100, the penalty is penalty_price * (max(0, awarded - tol - delivered) +
    max(0, delivered - awarded - tol)) // 1000, collected after all payments and at most
    what the aggregator has left, and goes to the DSO.  No baseline or no reading: the MTU
    is not assessed (no pay, no penalty).
    lines: [seq, mtu, baseline, metered, delivered, pay, penalty, collected].
    """
    balance = dict(deposits)
    lines = []
    owners = []
    for seq, trader, device, qty, price, declared in awards:
        awarded = qty // 4
        tolerance = awarded * spec["tolerance_pct"] // 100
        for mtu in range(spec["first_mtu"], spec["first_mtu"] + spec["n_mtus"]):
            baseline = _baseline(declared, history, device, mtu, spec["baseline_days"])
            metered = readings.get((device, mtu))
            owners.append(trader)
            if baseline is None or metered is None:
                lines.append([seq, mtu, baseline, metered, None, 0, 0, 0])
                continue
            delivered = baseline - metered if spec["direction"] == "up" else metered - baseline
            pay = price * min(max(delivered, 0), awarded) // 1000
            beyond = max(0, awarded - tolerance - delivered) + max(0, delivered - awarded - tolerance)
            _credit(balance, operator, -pay)
            _credit(balance, trader, pay)
            lines.append([seq, mtu, baseline, metered, delivered, pay, spec["penalty_price"] * beyond // 1000, 0])
    require(balance[operator] >= 0, "flexibility payments exceed the DSO's escrow")
    for line, trader in zip(lines, owners):
        line[7] = min(line[6], balance[trader])
        _credit(balance, trader, -line[7])
        _credit(balance, operator, line[7])
    return {"payouts": balance, "lines": lines}


def capacity(awards, deposits, rule, operator):
    """Capacity market: awards [mtu, seq, trader, device, qty (W), price].  Under
    ``premium`` each award pays price * qty // 4000 (its price per kWh for the MTU's
    quarter hour) to the operator; the social-equity rules charge nothing.
    lines: [mtu, seq, qty, pay]."""
    balance = dict(deposits)
    lines = []
    for mtu, seq, trader, device, qty, price in awards:
        pay = price * qty // 4000 if rule == "premium" else 0
        _credit(balance, trader, -pay)
        _credit(balance, operator, pay)
        lines.append([mtu, seq, qty, pay])
    return {"payouts": balance, "lines": lines}
