"""What the grid oracle reads from the chain: sessions' cleared positions at the model's buses.

Devices map to buses through the on-chain registry (``registry.device``: its ``bus`` and
``feeder`` ids).  A chain bus id names a bus of the feeder model by the configured map
(``OracleConfig.buses``) or, by default, by the model bus key in lower case with other
characters replaced by "-" (``Bus R11`` -> ``bus-r11``); chain feeder ids map to the
model's feeders the same way (``R`` -> ``r``).

Positions (``gridoracle.validate.Position``, W into the grid per device and MTU):

- energy: the cleared ``results`` rows, ``-4 * (Wh bought - sold)`` (a quarter hour);
- flexibility: each award ``[seq, qty]`` for every MTU of the request window, ``+qty``
  for ``up`` (less consumption, more generation) and ``-qty`` for ``down``;
- capacity: each award ``[mtu, seq, qty]`` as ``-qty`` (the right to draw ``qty`` W).

A session is validated on top of the **background**: the positions of the feeder's other
sessions already past grid validation in the same MTUs.
"""
from __future__ import annotations

from collections.abc import Iterable

from gridoracle.applied import Trades
from gridoracle.config import OracleConfig, chain_id_of
from gridoracle.feeder import FeederModel
from gridoracle.validate import Position, PositionError, energy_positions
from market import sources
from market.attestation import positions as traded_wh
from market.client import MarketClient


def merge(positions: Iterable[Position], mtus: Iterable[int] | None = None) -> list[Position]:
    """One position per (device, MTU), the sum of the given ones; only ``mtus`` when given;
    zero positions dropped."""
    keep = None if mtus is None else set(mtus)
    totals: dict[tuple[int, str], list] = {}
    for p in positions:
        if keep is None or p.mtu in keep:
            entry = totals.setdefault((p.mtu, p.device), [p.bus, 0])
            entry[1] += p.injection_w
    return sorted(Position(mtu, bus, device, w) for (mtu, device), (bus, w) in totals.items() if w != 0)


class ChainView:
    def __init__(self, market: MarketClient, model: FeederModel, config: OracleConfig):
        self.market = market
        self.model = model
        self.buses = {chain_id_of(key): key for key in model.bus_keys()}
        self.buses.update(config.buses)
        self._devices: dict[str, dict] = {}

    def chain_bus(self, model_bus: str) -> str:
        for chain_id, key in self.buses.items():
            if key == model_bus:
                return chain_id
        return chain_id_of(model_bus)

    def device(self, device_id: str) -> dict:
        """The registry record of a device (cached: a device's bus never changes)."""
        if device_id not in self._devices:
            record = self.market.query(sources.REGISTRY, "device", device_id)
            if record is None:
                raise PositionError(f"device {device_id!r} is not in the registry")
            self._devices[device_id] = record
        return self._devices[device_id]

    def model_bus(self, device_id: str) -> str:
        bus = self.device(device_id)["bus"]
        if bus not in self.buses:
            raise PositionError(f"device {device_id!r} is on bus {bus!r}, which is not in the feeder model "
                                f"(map it in oracle.json \"buses\")")
        return self.buses[bus]

    def buses_of(self, devices: Iterable[str]) -> dict[str, str]:
        """{device: model bus key}; PositionError for a device the model has no bus for."""
        return {device: self.model_bus(device) for device in devices}

    def positions(self, session: dict) -> list[Position]:
        """The session's cleared positions (see the module docstring)."""
        sid, first, kind = session["id"], session["first_mtu"], session["kind"]
        rows = self.market.rows(sid, "results")
        devices = self.market.devices_by_seq(sid)
        found = []
        if kind == "energy":
            traded = self.traded(session, rows, devices)
            found = energy_positions(traded, self.buses_of(device for _mtu, device in traded))
        elif kind == "flex":
            sign = 1 if session["direction"] == "up" else -1
            for seq, qty in rows:
                device = devices[seq]
                found += [Position(first + k, self.model_bus(device), device, sign * qty)
                          for k in range(session["n_mtus"])]
        else:
            for mtu, seq, qty in rows:
                found.append(Position(first + mtu, self.model_bus(devices[seq]), devices[seq], -qty))
        return merge(found)

    def traded(self, session: dict, rows: list | None = None,
               devices: dict[int, str] | None = None) -> dict[tuple[int, str], int]:
        """An energy session's positions {(mtu, device): Wh bought - sold}."""
        rows = self.market.rows(session["id"], "results") if rows is None else rows
        devices = self.market.devices_by_seq(session["id"]) if devices is None else devices
        return traded_wh(rows, devices, session["first_mtu"])

    def trades(self, session: dict) -> Trades:
        """An energy session's trades as stored, with its devices' buses."""
        rows, devices = self.market.rows(session["id"], "results"), self.market.devices_by_seq(session["id"])
        return Trades(session["first_mtu"], rows, devices, self.buses_of({devices[seq] for row in rows for seq in row[1:3]}))

    def background(self, session: dict, exclude: set[int]) -> list[Position]:
        """The accepted positions (sessions past grid validation: delivery or settled) of the
        feeder's other sessions in ``session``'s MTUs, except the sessions ``exclude``."""
        window = self.mtus(session)
        found = []
        for other in self.market.sessions():
            if (other["id"] in exclude or other["feeder"] != session["feeder"]
                    or other["phase"] not in ("delivery", "settled")
                    or other["first_mtu"] > window[-1] or other["first_mtu"] + other["n_mtus"] <= window[0]):
                continue
            found += self.positions(other)
        return merge(found, window)

    def mtus(self, session: dict) -> list[int]:
        return list(range(session["first_mtu"], session["first_mtu"] + session["n_mtus"]))
