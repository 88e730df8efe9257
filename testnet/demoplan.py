"""The demo's cast and orders, derived from a scenario: who owns which device where, and what they bid.

Prosumers of a group are ``<group>-01``, ``<group>-02``, ...; their devices are
``<prosumer>-<type>`` at the group's buses in turn.  An energy device's orders follow its
profile: one order per block of ``block_hours`` hours inside the session window, for the
block's mean power as Wh per MTU (``profile * max_power / 4``), buying for consumers and
selling for generation, at the device's price with a seeded jitter of +-10 %.  Storage is
not traded in energy sessions: its aggregator offers it as flexibility.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from market.orders import Order
from testnet.scenario import PRICE_JITTER, DeviceSpec, Group, Scenario, SessionSpec

MICRO = 1_000_000


@dataclass(frozen=True)
class Device:
    id: str
    spec: DeviceSpec
    bus: str
    feeder: str
    aggregator: str | None  # who trades it (storage only)


@dataclass(frozen=True)
class Prosumer:
    name: str
    group: str
    devices: tuple[Device, ...]


def cast(scenario: Scenario) -> list[Prosumer]:
    people = []
    for group in scenario.groups:
        for n in range(group.count):
            name = f"{group.name}-{n + 1:02d}"
            bus = group.buses[n % len(group.buses)]
            devices = tuple(Device(f"{name}-{spec.type.replace('_', '-')}", spec, bus, group.feeder,
                                   group.aggregator if spec.type == "storage" else None)
                            for spec in group.devices)
            people.append(Prosumer(name, group.name, devices))
    return people


def _blocks(session: SessionSpec, block_hours: int) -> list[tuple[int, tuple[int, ...]]]:
    """(first hour, MTU offsets in the session) of every block that overlaps the window."""
    window = range(session.start_mtu, session.start_mtu + session.mtus)
    found = []
    for hour in range(0, 24, block_hours):
        offsets = tuple(m - session.start_mtu for m in range(hour * 4, (hour + block_hours) * 4) if m in window)
        if offsets:
            found.append((hour, offsets))
    return found


def device_orders(scenario: Scenario, device: Device, session: SessionSpec, rng: random.Random) -> list[Order]:
    spec = device.spec
    if spec.type == "storage":
        return []
    profile = scenario.profiles[spec.profile]
    orders = []
    for hour, offsets in _blocks(session, scenario.block_hours):
        share = sum(profile[hour:hour + scenario.block_hours]) / scenario.block_hours
        qty = int(share * spec.max_power / 4)
        if qty >= 1:
            price = int(spec.price * (1 + rng.uniform(-PRICE_JITTER, PRICE_JITTER)) * MICRO)
            orders.append(Order("sell" if spec.type == "generation" else "buy", device.id, price, qty, 1, offsets))
    return orders


def session_orders(scenario: Scenario, people: list[Prosumer], session: SessionSpec) -> dict[str, list[Order]]:
    """Every prosumer's orders in ``session`` (only its groups), by prosumer name; seeded."""
    rng = random.Random(f"{scenario.seed}:{session.name}")
    groups: dict[str, Group] = {g.name: g for g in scenario.groups}
    out = {}
    for person in people:
        if person.group in session.groups and groups[person.group].feeder == session.feeder:
            orders = [o for d in person.devices for o in device_orders(scenario, d, session, rng)]
            if orders:
                out[person.name] = orders
    return out
