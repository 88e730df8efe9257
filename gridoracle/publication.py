"""The grid the DSO publishes on chain, derived from the oracle's feeder model.

Every bus of a feeder is published under each chain id the oracle accepts for it (the
default ``chain_id_of`` its key, and any alias in oracle.json ``buses``), on the chain id
of its feeder, with a **connection limit**: the most power the feeder can carry to the bus
on its own, i.e. the widest path from the feeder's transformer(s): the largest, over the
paths of lines and closed bus-bus switches, of the smallest rating on the path, the
transformer's ``sn_mva`` included.  A line's rating ``rating_ka`` at its nominal voltage
is ``sqrt(3) * vn_kv * rating_ka`` MVA.  Limits are floored to whole W.  A bus that no
path reaches gets no limit (None).

``grid_rows`` is what ``flexledger dso grid publish`` sends, page by page
(``publication_pages``) to the grid contract's ``publish_buses``.
"""
from __future__ import annotations

import heapq
import math
from collections import defaultdict

from gridoracle.config import OracleConfig, chain_id_of
from gridoracle.feeder import FeederModel

#: The most bus rows the grid contract takes per transaction (grid.MAX_PUBLISH).
PAGE_SIZE = 64


def chain_buses(model: FeederModel, config: OracleConfig) -> dict[str, str]:
    """{chain bus id: model bus key} for every bus the oracle knows, aliases included."""
    buses = {chain_id_of(key): key for key in model.bus_keys()}
    buses.update(config.buses)
    return buses


def connection_limits_w(model: FeederModel) -> dict[str, int]:
    """{model bus key: W} for every bus a feeder transformer reaches (the widest path)."""
    edges: dict[str, list[tuple[str, float]]] = defaultdict(list)
    vn_kv = {bus.key: bus.vn_kv for bus in model.buses}
    for line in model.lines:
        watts = math.sqrt(3) * vn_kv[line.from_bus] * line.rating_ka * 1e6
        edges[line.from_bus].append((line.to_bus, watts))
        edges[line.to_bus].append((line.from_bus, watts))
    net = model.net
    known = {bus.index: bus.key for bus in model.buses}
    for _, switch in net.switch[(net.switch.et == "b") & net.switch.closed.astype(bool)].iterrows():
        a, b = known.get(int(switch.bus)), known.get(int(switch.element))
        if a is not None and b is not None:
            edges[a].append((b, math.inf))
            edges[b].append((a, math.inf))
    best: dict[str, float] = {}
    heap = [(-trafo.rating_mva * 1e6, trafo.lv_bus) for trafo in model.trafos if trafo.feeder is not None]
    heapq.heapify(heap)
    while heap:
        negative, bus = heapq.heappop(heap)
        if bus in best:
            continue
        best[bus] = -negative
        for other, watts in edges[bus]:
            if other not in best:
                heapq.heappush(heap, (-min(-negative, watts), other))
    return {bus: int(watts) for bus, watts in best.items()}


def grid_rows(model: FeederModel, config: OracleConfig) -> dict[str, list[list]]:
    """{chain feeder id: [[chain bus id, limit_w or None], ...] in bus id order}."""
    limits = connection_limits_w(model)
    feeder_of = {bus.key: bus.feeder for bus in model.buses}
    rows: dict[str, list[list]] = defaultdict(list)
    for chain_bus, key in sorted(chain_buses(model, config).items()):
        if feeder_of.get(key) is not None:
            rows[config.chain_feeder(feeder_of[key])].append([chain_bus, limits.get(key)])
    return dict(sorted(rows.items()))


def publication_pages(rows: dict[str, list[list]], size: int = PAGE_SIZE) -> list[tuple[str, list[list]]]:
    """(feeder, at most ``size`` rows) for each publish_buses transaction, in order."""
    return [(feeder, buses[start:start + size]) for feeder, buses in rows.items()
            for start in range(0, len(buses), size)]
