"""Reference settlement: payouts per address and lines per assessed item, from the rules.

Each function takes the escrow per address (``deposits``, the operator's own escrow
included) and returns ``(payouts, lines)`` in the same shapes as the settlement contract,
so tests compare them directly.  ``readings`` map (device, absolute MTU) to Wh imported.
"""
from __future__ import annotations

from collections import Counter

MTUS_PER_DAY = 96


def settle_energy(trades: list[list], deposits: dict[str, int], readings: dict[tuple[str, int], int],
                  imbalance_price: int, operator: str) -> tuple[dict[str, int], list[list]]:
    """trades: [mtu, buyer, buyer_device, seller, seller_device, qty, buyer_pays, seller_gets]."""
    money = Counter(deposits)
    money[operator] += 0
    position: Counter = Counter()
    trader: dict[tuple[str, int], str] = {}
    for mtu, buyer, buyer_device, seller, seller_device, qty, pays, gets in trades:
        money[buyer] -= pays
        money[seller] += gets
        money[operator] += pays - gets
        position[(buyer_device, mtu)] += qty
        position[(seller_device, mtu)] -= qty
        trader.setdefault((buyer_device, mtu), buyer)
        trader.setdefault((seller_device, mtu), seller)
    lines, pool = [], 0
    for key in sorted(position):
        who, metered = trader[key], readings.get(key)
        gap = None if metered is None else metered - position[key]
        charge = gap * imbalance_price // 1000 if gap is not None and gap > 0 else 0
        credit = -gap * imbalance_price // 1000 if gap is not None and gap <= 0 else 0
        collected = min(charge, money[who])
        money[who] -= collected
        pool += collected
        lines.append([key[0], key[1], position[key], metered, charge, collected, credit, 0])
    owed = sum(line[6] for line in lines)
    for line in lines:
        line[7] = line[6] if pool >= owed else line[6] * pool // owed
        money[trader[(line[0], line[1])]] += line[7]
    money[operator] += pool - sum(line[7] for line in lines)
    return dict(money), lines


def baseline(declared: int | None, history: dict[tuple[str, int], int], device: str, mtu: int,
             days: int) -> int | None:
    if declared is not None:
        return declared
    past = [history[(device, mtu - d * MTUS_PER_DAY)] for d in range(1, days + 1)
            if (device, mtu - d * MTUS_PER_DAY) in history]
    return sum(past) // len(past) if past else None


def settle_flex(awards: list[list], deposits: dict[str, int], readings: dict, history: dict, spec: dict,
                operator: str) -> tuple[dict[str, int], list[list]]:
    """awards: [seq, trader, device, qty W, price, declared baseline or None]."""
    money = Counter(deposits)
    lines, owner = [], {}
    for seq, who, device, qty, price, declared in awards:
        owner[seq] = who
        awarded = qty // 4
        slack = awarded * spec["tolerance_pct"] // 100
        for mtu in range(spec["first_mtu"], spec["first_mtu"] + spec["n_mtus"]):
            base = baseline(declared, history, device, mtu, spec["baseline_days"])
            metered = readings.get((device, mtu))
            if base is None or metered is None:
                lines.append([seq, mtu, base, metered, None, 0, 0, 0])
                continue
            delivered = base - metered if spec["direction"] == "up" else metered - base
            pay = price * max(0, min(delivered, awarded)) // 1000
            outside = max(0, (awarded - slack) - delivered, delivered - (awarded + slack))
            money[operator] -= pay
            money[who] += pay
            lines.append([seq, mtu, base, metered, delivered, pay, spec["penalty_price"] * outside // 1000, 0])
    if money[operator] < 0:
        raise ValueError("flexibility payments exceed the DSO's escrow")
    for line in lines:
        line[7] = min(line[6], money[owner[line[0]]])
        money[owner[line[0]]] -= line[7]
        money[operator] += line[7]
    return dict(money), lines


def settle_capacity(awards: list[list], deposits: dict[str, int], rule: str,
                    operator: str) -> tuple[dict[str, int], list[list]]:
    """awards: [mtu, seq, trader, device, qty W, price]."""
    money = Counter(deposits)
    lines = []
    for mtu, seq, who, device, qty, price in awards:
        pay = price * qty // 4000 if rule == "premium" else 0
        money[who] -= pay
        money[operator] += pay
        lines.append([mtu, seq, qty, pay])
    return dict(money), lines
