"""Independent check of the oracle's power flow: plain ``pandapower.runpp``, one MTU at a time.

The model's network gets one load per bus carrying the MTU's net injection (a negative
load where the bus exports), and ``runpp`` runs with its defaults. Used by the tests and
by ``bench/bench_grid.py``; the oracle itself never calls it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandapower as pp

from gridoracle.feeder import FeederModel


@dataclass(frozen=True)
class RunppResult:
    vm_pu: np.ndarray  # (T, buses), model order
    line_loading_pct: np.ndarray  # (T, lines)
    trafo_loading_pct: np.ndarray  # (T, trafos)
    converged: np.ndarray  # (T,)


def runpp_flows(model: FeederModel, p_w: np.ndarray, q_var: np.ndarray) -> RunppResult:
    """``pandapower.runpp`` per MTU (rows) on net injections per model bus (W, var)."""
    net = model.pandapower_net()
    loads = [pp.create_load(net, bus.index, p_mw=0.0, q_mvar=0.0) for bus in model.buses]
    bus_idx = [bus.index for bus in model.buses]
    line_idx = [line.index for line in model.lines]
    trafo_idx = [trafo.index for trafo in model.trafos]
    t = len(p_w)
    vm = np.full((t, len(bus_idx)), np.nan)
    line = np.full((t, len(line_idx)), np.nan)
    trafo = np.full((t, len(trafo_idx)), np.nan)
    converged = np.zeros(t, dtype=bool)
    for row in range(t):
        net.load.loc[loads, "p_mw"] = -np.asarray(p_w[row], dtype=np.float64) * 1e-6
        net.load.loc[loads, "q_mvar"] = -np.asarray(q_var[row], dtype=np.float64) * 1e-6
        try:
            pp.runpp(net, numba=False)
        except pp.LoadflowNotConverged:
            continue
        converged[row] = True
        vm[row] = net.res_bus.loc[bus_idx, "vm_pu"].to_numpy()
        line[row] = net.res_line.loc[line_idx, "loading_percent"].to_numpy()
        trafo[row] = net.res_trafo.loc[trafo_idx, "loading_percent"].to_numpy()
    return RunppResult(vm_pu=vm, line_loading_pct=line, trafo_loading_pct=trafo, converged=converged)
