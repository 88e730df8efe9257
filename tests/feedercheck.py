"""An independent check of what a chain settled against the feeder: plain ``pandapower.runpp`` per MTU.

Nothing of the grid oracle is used (no power flow, snapshots or position code): the schedule
is read from the chain's API and turned into pandapower loads and static generators here.

- energy sessions: every trade row ``[mtu, bid_seq, offer_seq, qty, ...]`` as stored, after
  any curtailment: the buyer draws ``4 * qty`` W, the seller feeds in ``4 * qty`` W;
- flexibility requests: each award ``[seq, qty]`` is ``+qty`` W (``up``) or ``-qty`` W
  (``down``) in every MTU of the request window;
- at each device's registered bus (chain id ``bus-r11`` is pandapower's ``Bus R11``), on
  top of the forecast CSV (load and reactive load as loads, rooftop PV as sgens);
- on pandapower's CIGRE LV network with the conductor ratings documented in
  docs/gridoracle.md ("Line ratings of CIGRE LV") and its own loads left out.
"""
from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn

from market import sources
from market.client import MarketClient

FORECAST = Path(__file__).resolve().parent.parent / "gridoracle" / "data" / "cigre_lv_forecast.csv"
#: docs/gridoracle.md, "Line ratings of CIGRE LV": kA by conductor type.
DOCUMENTED_RATINGS_KA = {"UG1": 0.350, "UG2": 0.280, "UG3": 0.150, "OH1": 0.210, "OH2": 0.140, "OH3": 0.105}
MTUS_PER_DAY = 96


@dataclass(frozen=True)
class Loading:
    """The worst of one MTU: each element's loading (%) and the bus voltage band (p.u.)."""
    mtu: int
    lines: dict[str, float]
    trafos: dict[str, float]
    vm_min_pu: float
    vm_max_pu: float


def settled_injections(market: MarketClient) -> dict[int, dict[str, int]]:
    """W into the grid per absolute MTU and chain bus id, of every session as stored on chain."""
    buses: dict[str, str] = {}

    def bus_of(device: str) -> str:
        if device not in buses:
            buses[device] = market.query(sources.REGISTRY, "device", device)["bus"]
        return buses[device]

    injections: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for session in market.sessions():
        sid, first, kind = session["id"], session["first_mtu"], session["kind"]
        devices = market.devices_by_seq(sid)
        rows = market.rows(sid, "results")
        if kind == "energy":
            for mtu, bid, offer, qty, _pays, _gets in rows:
                injections[first + mtu][bus_of(devices[bid])] -= 4 * qty
                injections[first + mtu][bus_of(devices[offer])] += 4 * qty
        elif kind == "flex":
            sign = 1 if session["direction"] == "up" else -1
            for seq, qty in rows:
                for mtu in range(first, first + session["n_mtus"]):
                    injections[mtu][bus_of(devices[seq])] += sign * qty
        else:
            raise AssertionError(f"session {sid}: the check reads no {kind} sessions")
    return injections


def _forecast() -> dict[int, list[tuple[str, int, int, int]]]:
    """Rows (bus, load W, load var, PV W) of the shipped forecast, by MTU of the day."""
    by_mtu: dict[int, list] = defaultdict(list)
    with FORECAST.open() as handle:
        for row in csv.DictReader(line for line in handle if not line.startswith("#")):
            by_mtu[int(row["mtu"])].append((row["bus"], int(row["load_w"]), int(row["load_var"]), int(row["gen_w"])))
    return by_mtu


def _network():
    net = pn.create_cigre_network_lv()
    net.load.drop(net.load.index, inplace=True)
    net.line["max_i_ka"] = net.line["std_type"].map(DOCUMENTED_RATINGS_KA)
    return net


def _chain_id(name: str) -> str:
    return name.lower().replace(" ", "-")


def feeder_loading(injections: dict[int, dict[str, int]]) -> list[Loading]:
    """``runpp`` of every MTU of ``injections`` on the forecast; ValueError for an unknown bus.

    Each bus has one load (the forecast's load and every draw) and one sgen (the forecast's PV
    and every feed-in)."""
    net, forecast = _network(), _forecast()
    position = {_chain_id(name): n for n, name in enumerate(net.bus["name"])}
    unknown = sorted({bus for by_bus in injections.values() for bus in by_bus} - set(position))
    if unknown:
        raise ValueError(f"bus {unknown[0]!r} is not in CIGRE LV")
    for bus in net.bus.index:
        pp.create_load(net, bus, p_mw=0.0)
        pp.create_sgen(net, bus, p_mw=0.0)
    results = []
    for mtu in sorted(injections):
        load_w, load_var, feed_in_w = (np.zeros(len(position)) for _ in range(3))
        for bus, load, var, pv in forecast[mtu % MTUS_PER_DAY]:
            n = position[_chain_id(bus)]
            load_w[n], load_var[n], feed_in_w[n] = load, var, pv
        for bus, watts in injections[mtu].items():
            if watts > 0:
                feed_in_w[position[bus]] += watts
            else:
                load_w[position[bus]] -= watts
        net.load["p_mw"], net.load["q_mvar"], net.sgen["p_mw"] = load_w / 1e6, load_var / 1e6, feed_in_w / 1e6
        pp.runpp(net, numba=False)
        results.append(Loading(mtu, dict(zip(net.line["name"], net.res_line["loading_percent"])),
                               dict(zip(net.trafo["name"], net.res_trafo["loading_percent"])),
                               float(net.res_bus["vm_pu"].min()), float(net.res_bus["vm_pu"].max())))
    return results
