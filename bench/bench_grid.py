"""Benchmark for the grid oracle: validating a day-ahead session (96 MTUs) on CIGRE LV.

The yardstick, timed in the same run, is plain ``pandapower.runpp`` called once per MTU
on the same injections (``gridoracle.crosscheck``); the bench prints both, their ratio,
and the largest deviation between the two (voltage in p.u., loading in percentage points).

- ``validate``: ``GridValidator.validate`` on a fresh validator (cold cache) for a session
  of random but plausible positions (EV charging at night, heat pumps, rooftop PV),
  within limits: injections, vectorised power flow, limit checks, input hash;
- ``validate + curtail``: the same session with charging hubs added that overload lines
  and depress voltages in many MTUs, so that the verdict carries a curtailment proposal;
- ``power flow only``: ``PowerFlow.solve`` for the 96 MTUs, cold.

    .venv/bin/python bench/bench_grid.py [--repeat 5] [--seed 1]
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

from gridoracle.crosscheck import runpp_flows
from gridoracle.feeder import load_feeder
from gridoracle.forecast import load_forecast
from gridoracle.powerflow import PowerFlow
from gridoracle.profiles import pv_profile
from gridoracle.validate import GridValidator, Position

MTUS = list(range(96))


def session(model, rng: np.random.Generator) -> list[Position]:
    lv_buses = [bus.key for bus in model.buses if bus.feeder is not None]

    def pick() -> str:
        return lv_buses[int(rng.integers(len(lv_buses)))]

    positions = []
    pv = pv_profile()
    for n in range(20):  # EVs: 7-11 kW for 2-4 h of cheap night energy, 22:00-06:00
        bus, power = pick(), int(rng.integers(7_000, 11_000))
        start = int(rng.integers(88, 96 + 8))
        hours = range(start, start + int(rng.integers(8, 17)))
        positions += [Position(m % 96, bus, f"ev-{n}", -power) for m in hours]
    for n in range(10):  # heat pumps: 1-3 kW all day
        bus = pick()
        positions += [Position(m, bus, f"hp-{n}", -int(rng.integers(1_000, 3_000))) for m in MTUS]
    for n in range(10):  # rooftop PV: 5-15 kWp sold on the market
        bus, kwp = pick(), int(rng.integers(5, 15))
        positions += [Position(m, bus, f"pv-{n}", int(pv[m] * kwp * 1000)) for m in MTUS if pv[m] > 0]
    return positions


def stressed(positions: list[Position], rng: np.random.Generator) -> list[Position]:
    hubs = [Position(m, "Bus R11", "hub-r11", -int(rng.integers(100_000, 140_000))) for m in range(0, 28)]
    hubs += [Position(m, "Bus R15", "hub-r15", -int(rng.integers(20_000, 35_000))) for m in range(70, 90)]
    hubs += [Position(m, "Bus C20", "hub-c20", -int(rng.integers(40_000, 70_000))) for m in range(30, 60)]
    return positions + hubs


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of each timed oracle run (median)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    model = load_feeder()
    forecast = load_forecast(model)
    positions = session(model, rng)
    heavy = stressed(positions, rng)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; CIGRE LV: {len(model.buses)} buses, "
          f"{len(model.lines)} lines, {len(model.trafos)} transformers; {len(positions):,} positions in 96 MTUs")

    t_validate, verdict = timed(lambda: GridValidator(model, forecast).validate(positions, MTUS), args.repeat)
    t_heavy, heavy_verdict = timed(lambda: GridValidator(model, forecast).validate(heavy, MTUS), args.repeat)
    p, q = GridValidator(model, forecast).injections(sorted(positions), MTUS)
    t_pf, flows = timed(lambda: PowerFlow(model).solve(p, q), args.repeat)

    start = time.perf_counter()
    ref = runpp_flows(model, p, q)
    t_runpp = time.perf_counter() - start

    assert flows.converged.all() and ref.converged.all()
    dv = np.max(np.abs(flows.vm_pu - ref.vm_pu))
    dl = max(np.max(np.abs(flows.line_loading_pct - ref.line_loading_pct)),
             np.max(np.abs(flows.trafo_loading_pct - ref.trafo_loading_pct)))
    print(f"{'96 x pandapower.runpp (yardstick)':<40} {t_runpp:8.3f} s")
    print(f"{'validate (approved: ' + str(verdict.approved) + ')':<40} {t_validate:8.3f} s"
          f"   {t_runpp / t_validate:6.1f}x faster than runpp")
    print(f"{'validate + curtail':<40} {t_heavy:8.3f} s   {t_runpp / t_heavy:6.1f}x faster than runpp"
          f"   ({len(heavy_verdict.violations)} violations in {len({v.mtu for v in heavy_verdict.violations})} MTUs,"
          f" {len(heavy_verdict.curtailment)} curtailments, resolves: {heavy_verdict.resolves})")
    print(f"{'power flow only':<40} {t_pf:8.3f} s   {t_runpp / t_pf:6.1f}x faster than runpp")
    print(f"max deviation from runpp: voltage {dv:.2e} p.u., loading {dl:.2e} percentage points")
    print("reproduce: .venv/bin/python bench/bench_grid.py "
          f"--repeat {args.repeat} --seed {args.seed}")


if __name__ == "__main__":
    main()
