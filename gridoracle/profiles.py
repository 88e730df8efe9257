"""Daily profiles that build the shipped CIGRE LV forecast (``data/cigre_lv_forecast.csv``).

A typical spring weekday, one value per MTU:

- **load**: each CIGRE LV load follows the profile of its feeder (residential, industrial,
  commercial), scaled so that its daily maximum is the load's CIGRE peak (``p_mw``); its
  reactive power keeps the CIGRE load's power factor (0.95, 0.85 and 0.90). The hourly
  anchor values below are shaped after the German standard load profiles (BDEW H0 for
  households, G0 for trade, a two-shift 06:00-22:00 plant for industry) and interpolated
  linearly at each MTU's midpoint;
- **generation**: illustrative rooftop PV (not part of the CIGRE benchmark) at the load
  buses, :data:`PV_KWP` kWp each, on a clear spring day (sunrise 06:45, sunset 20:15,
  local time), with a 0.75 performance ratio at solar noon.

``python -m gridoracle.profiles`` rewrites the shipped file; a test checks that the file
equals this module's output.
"""
from __future__ import annotations

import numpy as np
import pandapower.networks as pn

from gridoracle.feeder import load_feeder
from gridoracle.forecast import COLUMNS, DEFAULT_FORECAST, MTUS_PER_DAY

#: Hourly anchors 00:00..24:00 (normalised load).
HOURLY = {
    "R": [0.42, 0.35, 0.31, 0.29, 0.29, 0.31, 0.40, 0.56, 0.62, 0.58, 0.55, 0.57, 0.63,
          0.60, 0.53, 0.50, 0.53, 0.63, 0.80, 0.95, 1.00, 0.93, 0.75, 0.56, 0.42],
    "I": [0.45, 0.44, 0.44, 0.44, 0.45, 0.55, 0.85, 0.95, 1.00, 1.00, 0.99, 0.97, 0.88,
          0.95, 0.98, 0.97, 0.95, 0.92, 0.90, 0.88, 0.85, 0.80, 0.58, 0.48, 0.45],
    "C": [0.28, 0.27, 0.26, 0.26, 0.26, 0.28, 0.35, 0.55, 0.80, 0.92, 0.97, 1.00, 0.98,
          0.96, 0.97, 0.95, 0.90, 0.80, 0.62, 0.48, 0.40, 0.35, 0.31, 0.29, 0.28],
}

#: Rooftop PV per bus key, kWp.
PV_KWP = {
    "Bus R11": 10, "Bus R15": 30, "Bus R16": 30, "Bus R17": 20, "Bus R18": 25,
    "Bus I2": 40,
    "Bus C1": 20, "Bus C12": 10, "Bus C13": 10, "Bus C14": 10, "Bus C17": 10,
    "Bus C18": 5, "Bus C19": 5, "Bus C20": 5,
}

SUNRISE_H, SUNSET_H, PERFORMANCE_RATIO = 6.75, 20.25, 0.75


def mtu_midpoints_h() -> np.ndarray:
    return (np.arange(MTUS_PER_DAY) + 0.5) / 4.0


def load_profile(feeder: str) -> np.ndarray:
    """Normalised load (daily maximum 1) per MTU for a CIGRE LV feeder (R, I or C)."""
    values = np.interp(mtu_midpoints_h(), np.arange(25), HOURLY[feeder])
    return values / values.max()


def pv_profile() -> np.ndarray:
    """PV output per kWp per MTU."""
    daylight = np.sin(np.pi * (mtu_midpoints_h() - SUNRISE_H) / (SUNSET_H - SUNRISE_H))
    return daylight.clip(min=0) ** 1.2 * PERFORMANCE_RATIO


def render_csv() -> str:
    """The shipped forecast file's text."""
    model = load_feeder()
    cigre = pn.create_cigre_network_lv()
    feeder_of = {bus.key: bus.feeder for bus in model.buses}
    rows: dict[str, list[tuple[int, int, int]]] = {}
    pv = pv_profile()
    for _, load in cigre.load.iterrows():
        bus = str(cigre.bus.at[int(load.bus), "name"])
        shape = load_profile(feeder_of[bus])
        p_w = np.rint(shape * load.p_mw * 1e6).astype(np.int64)
        q_var = np.rint(p_w * (load.q_mvar / load.p_mw)).astype(np.int64)
        gen_w = np.rint(pv * PV_KWP.get(bus, 0) * 1000).astype(np.int64)
        rows[bus] = list(zip(p_w.tolist(), q_var.tolist(), gen_w.tolist()))
    out = ["# FlexLedger grid oracle: forecast for pandapower's CIGRE LV network "
           "(a spring weekday; see gridoracle/profiles.py)",
           ",".join(COLUMNS)]
    order = model.bus_keys()
    for bus in sorted(rows, key=order.index):
        for mtu, (p, q, g) in enumerate(rows[bus]):
            out.append(f"{bus},{mtu},{p},{q},{g}")
    return "\n".join(out) + "\n"

if __name__ == "__main__":
    DEFAULT_FORECAST.write_text(render_csv(), encoding="utf-8")
    print(f"wrote {DEFAULT_FORECAST}")
