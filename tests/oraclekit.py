"""A small market on CIGRE LV feeder R for the grid oracle's tests, driven over a node's API.

People: the DSO, three prosumers and an aggregator. Devices: EV chargers at R11 and R15, a
generator at R1 (the seller), a battery at R11 run by the aggregator (flexibility), and a
load on a bus the feeder model does not know. At 20:00 the forecast alone loads line
R1-R2 to 89.8 %; two EVs drawing 15 kW each push it past 100 %, which 7.7 kW less at R11
cures (see the oracle's flexibility need).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from market import sources
from market.client import MarketClient
from market.orders import Order
from node.keys import KeyPair
from testnet import actors

FEEDER = "r"
EVENING = 76  # MTU of the day of the session's first MTU (19:00); the session covers 8 MTUs
PHASES = {"commit": 3, "gate": 0, "reveal": 3, "settle": 3600}
TOKENS = 10**6


@dataclass
class People:
    dso: KeyPair
    ev1: KeyPair
    ev2: KeyPair
    seller: KeyPair
    agg: KeyPair
    stray: KeyPair


def set_up(market: MarketClient, issuer: KeyPair) -> People:
    people = People(*(KeyPair.generate() for _ in range(6)))
    roles = {"dso": ["dso"], "agg": ["aggregator"]}
    for name, key in vars(people).items():
        actors.fund(market, issuer, key.address, 10_000 * TOKENS)
        actors.admit(market, issuer, key, name, roles.get(name, ["prosumer"]))
    actors.register_device(market, people.ev1, "ev1", "ev_charger", "bus-r11", FEEDER, 40_000, 80_000)
    actors.register_device(market, people.ev2, "ev2", "ev_charger", "bus-r15", FEEDER, 40_000, 80_000)
    actors.register_device(market, people.seller, "gen1", "generation", "bus-r1", FEEDER, 200_000)
    actors.register_device(market, people.ev1, "bat1", "storage", "bus-r11", FEEDER, 30_000, 60_000,
                           aggregator=people.agg.address)
    actors.register_device(market, people.stray, "stray-load", "load", "bus-x9", FEEDER, 40_000)
    return people


def open_session(market: MarketClient, people: People, day: int, oracle: str) -> dict:
    spec = {"feeder": FEEDER, "first_mtu": day * 96 + EVENING, "n_mtus": 8, "max_price": 500_000,
            "max_qty": 20_000, "phases": PHASES, "attestor": oracle}
    sid = market.send(people.dso, sources.MARKET, "open_energy", spec)["result"]
    return market.session(sid)


def trade(market: MarketClient, sid: int, orders: list[tuple[KeyPair, Order]]) -> dict:
    """Commit, reveal and clear ``orders``; the session as it is after clearing."""
    sealed = [(key, actors.commit(market, key, sid, order)) for key, order in orders]
    market.wait_for_phase(sid, ("reveal",), timeout=30, poll=0.1)
    for key, s in sealed:
        actors.reveal(market, key, s)
    market.wait_for_phase(sid, ("clearing",), timeout=30, poll=0.1)
    market.send(people_key(orders), sources.MARKET, "clear", sid)
    return market.session(sid)


def people_key(orders: list[tuple[KeyPair, Order]]) -> KeyPair:
    return orders[0][0]


def evening_peak(people: People, ev_wh: int) -> list[tuple[KeyPair, Order]]:
    """Both EVs buy ``ev_wh`` Wh at 20:00 and 20:15 from the generator at R1."""
    return [(people.ev1, Order("buy", "ev1", 300_000, ev_wh, 1, (4, 5))),
            (people.ev2, Order("buy", "ev2", 300_000, ev_wh, 1, (4, 5))),
            (people.seller, Order("sell", "gen1", 100_000, 2 * ev_wh, 1, (4, 5)))]


def wait_for(predicate, timeout: float, what: str, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
