"""Feeder model of the grid oracle: buses, lines, transformers, their limits and feeders.

A model is a pandapower network (by default pandapower's CIGRE LV benchmark, or any
pandapower JSON file) reduced to what the oracle needs:

- **element ids** that stay stable across runs: ``bus:<key>``, ``line:<key>``,
  ``trafo:<key>``, where ``<key>`` is the element's name when every element of that table
  has a distinct non-empty name, and otherwise its pandapower index (for every element of
  the table, so a key never silently changes meaning);
- **feeders**: the network is cut at every in-service transformer; each connected piece
  that holds the low-voltage side of a transformer and no external grid is a feeder, named
  after its transformer(s) (``"+"``-joined, sorted, when a piece is fed by several). For
  CIGRE LV the three pieces are named ``R`` (residential), ``I`` (industrial) and ``C``
  (commercial). Buses upstream of the transformers (the MV side) belong to no feeder;
- **limits**: a line's thermal rating ``max_i_ka * df * parallel`` and a transformer's
  ``sn_mva * parallel * df``, as pandapower computes loading.

Only energised elements are part of the model (a bus pandapower drops as out of service
or isolated is unknown to the oracle). Constant-power injections in the file (``load``,
``sgen``, ``storage``, ``motor``, asymmetric loads and generators) are ignored: the forecast and the cleared positions replace them.
Tables the oracle does not model (PV-bus generators, wards, three-winding transformers,
...) are refused with a :class:`FeederError` instead of being silently mis-modelled.

pandapower's CIGRE LV network carries a 1 kA placeholder rating on every conductor, which
would hide every line overload behind voltage collapse; :data:`CIGRE_LV_LINE_RATINGS_KA`
replaces it by typical ratings of the matching conductors (see ``docs/gridoracle.md``).
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pandas as pd

# pandapower warns on every run that numba is missing; the oracle does not use numba.
logging.getLogger("pandapower").setLevel(logging.ERROR)

#: Thermal ratings (kA) that replace the 1 kA placeholder of pandapower's CIGRE LV
#: conductor types, keyed by ``std_type``: the ampacity of the aluminium conductor whose
#: resistance matches (cables laid in ground, overhead conductors in still air, 30 °C).
CIGRE_LV_LINE_RATINGS_KA: dict[str, float] = {
    "UG1": 0.350,  # 0.162 ohm/km: Al 185 mm2, 4-core cable (main residential feeder)
    "UG2": 0.280,  # 0.2647 ohm/km: Al 120 mm2, 4-core cable (industrial connection)
    "UG3": 0.150,  # 0.822 ohm/km: Al 35 mm2, 4-core cable (residential service branches)
    "OH1": 0.210,  # 0.4917 ohm/km: Al 50 mm2 overhead conductor (commercial main)
    "OH2": 0.140,  # 1.3207 ohm/km: Al 25 mm2 overhead conductor
    "OH3": 0.105,  # 2.0167 ohm/km: Al 16 mm2 overhead conductor
}

#: Feeder names of the CIGRE LV network, keyed by transformer name.
CIGRE_LV_FEEDER_NAMES: dict[str, str] = {"Trafo R0-R1": "R", "Trafo I0-I1": "I", "Trafo C0-C1": "C"}

#: Element tables whose contents the oracle replaces (forecast and positions).
_REPLACED_TABLES = ("load", "sgen", "storage", "motor", "asymmetric_load", "asymmetric_sgen")
#: Element tables the oracle models.
_MODELLED_TABLES = ("bus", "line", "trafo", "ext_grid", "switch", "shunt")
#: Element tables that play no part in a power flow.
_IGNORED_TABLES = ("controller",)


class FeederError(ValueError):
    """A feeder model that cannot be loaded or used by the oracle."""


@dataclass(frozen=True)
class Bus:
    id: str
    key: str
    index: int
    vn_kv: float
    feeder: str | None


@dataclass(frozen=True)
class Line:
    id: str
    key: str
    index: int
    from_bus: str
    to_bus: str
    rating_ka: float
    feeder: str | None


@dataclass(frozen=True)
class Transformer:
    id: str
    key: str
    index: int
    hv_bus: str
    lv_bus: str
    rating_mva: float
    feeder: str | None


@dataclass(frozen=True)
class FeederModel:
    """A loaded feeder model. ``net`` is private to the oracle: never mutate it."""

    name: str
    net: pp.pandapowerNet
    buses: tuple[Bus, ...]
    lines: tuple[Line, ...]
    trafos: tuple[Transformer, ...]
    feeders: dict[str, tuple[str, ...]]

    def bus(self, key: str) -> Bus:
        """The bus with this key (its name, as used by forecasts and positions)."""
        for bus in self.buses:
            if bus.key == key:
                return bus
        raise FeederError(f"unknown bus {key!r}")

    def bus_keys(self) -> tuple[str, ...]:
        return tuple(bus.key for bus in self.buses)

    def pandapower_net(self) -> pp.pandapowerNet:
        """A copy of the network as the oracle models it: its ratings, no injections.

        Add loads and static generators to it and run ``pandapower.runpp`` for an
        independent check of the oracle's power flow.
        """
        return copy.deepcopy(self.net)


def _keys(table) -> dict[int, str]:
    """Stable keys for a pandapower table: names when usable, else indices."""
    names = table["name"].tolist() if "name" in table else []
    usable = (len(names) == len(table)
              and all(isinstance(n, str) and n.strip() for n in names)
              and len(set(names)) == len(names))
    if usable:
        return {int(i): str(n) for i, n in zip(table.index, names)}
    return {int(i): str(int(i)) for i in table.index}


def _check_tables(net: pp.pandapowerNet) -> None:
    for table, value in net.items():
        if (table.startswith(("_", "res_")) or table in _MODELLED_TABLES + _REPLACED_TABLES + _IGNORED_TABLES
                or not isinstance(value, pd.DataFrame) or "in_service" not in value.columns):
            continue
        count = int(value["in_service"].astype(bool).sum())
        if count:
            raise FeederError(f"unsupported element table {table!r} ({count} in service)")
    if not net.ext_grid["in_service"].astype(bool).any():
        raise FeederError("the network has no in-service external grid (slack)")


def _feeders(net, trafo_keys: dict[int, str],
             names: Mapping[str, str]) -> dict[int, str | None]:
    """Feeder of every bus: connected pieces after cutting the transformers."""
    parent = {b: b for b in net.bus.index}

    def find(b):
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        return b

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    open_lines = set(net.switch[(net.switch.et == "l") & ~net.switch.closed.astype(bool)].element)
    for idx, line in net.line[net.line.in_service].iterrows():
        if idx not in open_lines:
            union(int(line.from_bus), int(line.to_bus))
    bus_switches = net.switch[(net.switch.et == "b") & net.switch.closed]
    for _, sw in bus_switches.iterrows():
        union(int(sw.bus), int(sw.element))
    slack_roots = {find(int(b)) for b in net.ext_grid[net.ext_grid.in_service].bus}
    fed: dict[int, list[str]] = {}
    for idx, trafo in net.trafo[net.trafo.in_service].iterrows():
        root = find(int(trafo.lv_bus))
        if root not in slack_roots:
            fed.setdefault(root, []).append(names.get(trafo_keys[int(idx)], trafo_keys[int(idx)]))
    feeder_of_root = {root: "+".join(sorted(n)) for root, n in fed.items()}
    return {int(b): feeder_of_root.get(find(int(b))) for b in net.bus.index}


def load_feeder(path: str | Path | None = None, *,
                line_ratings_ka: Mapping[str, float] | None = None,
                feeder_names: Mapping[str, str] | None = None) -> FeederModel:
    """Load a feeder model.

    ``path``: a pandapower JSON file, or None for pandapower's CIGRE LV network.
    ``line_ratings_ka``: thermal ratings by line ``std_type`` replacing the file's
    ``max_i_ka`` (default: :data:`CIGRE_LV_LINE_RATINGS_KA` for CIGRE LV, none for a file;
    pass ``{}`` to keep the network's own ratings).
    ``feeder_names``: feeder name by transformer key (default: R/I/C for CIGRE LV, the
    transformer key otherwise).
    """
    if path is None:
        net = pn.create_cigre_network_lv()
        name = "cigre-lv"
        ratings = CIGRE_LV_LINE_RATINGS_KA if line_ratings_ka is None else line_ratings_ka
        names = CIGRE_LV_FEEDER_NAMES if feeder_names is None else feeder_names
    else:
        if not Path(path).is_file():
            raise FeederError(f"cannot load pandapower network {str(path)!r}: no such file")
        try:
            net = pp.from_json(str(path))
        except (OSError, ValueError, KeyError, UserWarning) as exc:
            raise FeederError(f"cannot load pandapower network {str(path)!r}: {exc}") from None
        name = Path(path).stem
        ratings = line_ratings_ka or {}
        names = feeder_names or {}
    _check_tables(net)
    for std_type, rating in ratings.items():
        chosen = net.line["std_type"] == std_type
        if not chosen.any():
            raise FeederError(f"no line has std_type {std_type!r}")
        net.line.loc[chosen, "max_i_ka"] = float(rating)
    for table in _REPLACED_TABLES:
        if len(net[table]):
            net[table] = net[table].iloc[0:0]
    try:
        pp.runpp(net, numba=False)
    except pp.LoadflowNotConverged:
        raise FeederError("the network has no power-flow solution without load") from None
    bus_keys = _keys(net.bus)
    line_keys = _keys(net.line)
    trafo_keys = _keys(net.trafo)
    feeder_of = _feeders(net, trafo_keys, names)
    energised = {b for b in net.bus.index if not np.isnan(net.res_bus.at[b, "vm_pu"])}
    buses = tuple(Bus(id=f"bus:{bus_keys[b]}", key=bus_keys[b], index=int(b),
                      vn_kv=float(net.bus.at[b, "vn_kv"]), feeder=feeder_of[b])
                  for b in net.bus.index if b in energised)
    branch_is = net._ppc["internal"]["branch_is"]
    line_start, _ = net._pd2ppc_lookups["branch"].get("line", (0, 0))
    trafo_start, _ = net._pd2ppc_lookups["branch"].get("trafo", (0, 0))
    lines = tuple(
        Line(id=f"line:{line_keys[i]}", key=line_keys[i], index=int(i),
             from_bus=bus_keys[int(row.from_bus)], to_bus=bus_keys[int(row.to_bus)],
             rating_ka=float(row.max_i_ka * row.df * row.parallel),
             feeder=feeder_of[int(row.from_bus)])
        for pos, (i, row) in enumerate(net.line.iterrows())
        if row.in_service and branch_is[line_start + pos])
    trafos = tuple(
        Transformer(id=f"trafo:{trafo_keys[i]}", key=trafo_keys[i], index=int(i),
                    hv_bus=bus_keys[int(row.hv_bus)], lv_bus=bus_keys[int(row.lv_bus)],
                    rating_mva=float(row.sn_mva * row.parallel * row.df),
                    feeder=feeder_of[int(row.lv_bus)])
        for pos, (i, row) in enumerate(net.trafo.iterrows())
        if row.in_service and branch_is[trafo_start + pos])
    for element in lines + trafos:
        rating = element.rating_ka if isinstance(element, Line) else element.rating_mva
        if not rating > 0:
            raise FeederError(f"{element.id} has no positive rating")
    feeders: dict[str, list[str]] = {}
    for bus in buses:
        if bus.feeder is not None:
            feeders.setdefault(bus.feeder, []).append(bus.key)
    return FeederModel(name=name, net=net, buses=buses, lines=lines, trafos=trafos,
                       feeders={f: tuple(b) for f, b in sorted(feeders.items())})
