"""Forecast of uncontrolled load and generation per bus and MTU of the day.

File format (CSV, UTF-8; lines starting with ``#`` are comments)::

    bus,mtu,load_w,load_var,gen_w
    Bus R1,0,57000,18735,0

- ``bus``: a bus key of the feeder model (the pandapower bus name, see ``feeder.py``);
- ``mtu``: MTU of the day, 0..95 (MTU k covers minutes 15k..15k+15 after midnight);
- ``load_w``: uncontrolled consumption, W, integer >= 0;
- ``load_var``: reactive power of that consumption, var, integer (positive: inductive,
  drawn from the grid); the shipped file derives it from each CIGRE load's power factor;
- ``gen_w``: uncontrolled generation (rooftop PV), W, integer >= 0, at unity power factor.

Every bus that appears must have exactly one row for each of the 96 MTUs; buses that do
not appear have no uncontrolled load or generation. A session MTU ``m`` (an absolute MTU
index) uses the forecast row ``m mod 96``.

The forecast's id is the SHA-256 (hex) of the canonical encoding of
``["flexledger-forecast-v1", rows]`` with rows ``[bus, mtu, load_w, load_var, gen_w]``
sorted by (bus, mtu): it names the content, whatever the file's layout.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gridoracle.feeder import FeederModel
from node.encoding import encode, sha256

MTUS_PER_DAY = 96
COLUMNS = ("bus", "mtu", "load_w", "load_var", "gen_w")
#: The shipped forecast for pandapower's CIGRE LV network.
DEFAULT_FORECAST = Path(__file__).resolve().parent / "data" / "cigre_lv_forecast.csv"


class ForecastError(ValueError):
    """A forecast file that does not follow the format."""


@dataclass(frozen=True)
class Forecast:
    """Per model bus (columns, model order) and MTU of the day (rows, 0..95)."""

    id: str
    load_w: np.ndarray
    load_var: np.ndarray
    gen_w: np.ndarray

    def injections(self, mtus) -> tuple[np.ndarray, np.ndarray]:
        """Net injections (generation positive) in W and var for absolute MTUs."""
        rows = np.asarray(mtus, dtype=np.int64) % MTUS_PER_DAY
        return ((self.gen_w[rows] - self.load_w[rows]).astype(np.float64),
                (-self.load_var[rows]).astype(np.float64))


def _int(text: str, column: str, line: int) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ForecastError(f"line {line}: {column} must be an integer, got {text!r}") from None


def parse_forecast(text: str, model: FeederModel) -> Forecast:
    """Parse forecast CSV text for a feeder model. Raises ForecastError."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise ForecastError("the forecast is empty")
    header = [h.strip() for h in next(csv.reader([lines[0][1]]))]
    if len(set(header)) != len(header):
        raise ForecastError("duplicate column(s) in the header")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ForecastError(f"missing column(s): {', '.join(missing)}")
    extra = [c for c in header if c not in COLUMNS]
    if extra:
        raise ForecastError(f"unexpected column(s): {', '.join(extra)}")
    index = {bus.key: n for n, bus in enumerate(model.buses)}
    shape = (MTUS_PER_DAY, len(model.buses))
    load, var, gen = (np.zeros(shape, dtype=np.int64) for _ in range(3))
    seen: dict[str, set[int]] = {}
    rows = []
    for number, line in lines[1:]:
        fields = next(csv.reader([line]))
        if len(fields) != len(header):
            raise ForecastError(f"line {number}: expected {len(header)} fields, got {len(fields)}")
        record = dict(zip(header, fields))
        bus = record["bus"].strip()
        if bus not in index:
            raise ForecastError(f"line {number}: unknown bus {bus!r}")
        mtu = _int(record["mtu"], "mtu", number)
        if not 0 <= mtu < MTUS_PER_DAY:
            raise ForecastError(f"line {number}: MTU {mtu} out of range 0..{MTUS_PER_DAY - 1}")
        values = {c: _int(record[c], c, number) for c in ("load_w", "load_var", "gen_w")}
        for column in ("load_w", "gen_w"):
            if values[column] < 0:
                raise ForecastError(f"line {number}: negative {column} {values[column]}")
        if mtu in seen.setdefault(bus, set()):
            raise ForecastError(f"line {number}: duplicate row for bus {bus!r} MTU {mtu}")
        seen[bus].add(mtu)
        col = index[bus]
        load[mtu, col], var[mtu, col], gen[mtu, col] = values["load_w"], values["load_var"], values["gen_w"]
        rows.append([bus, mtu, values["load_w"], values["load_var"], values["gen_w"]])
    for bus in sorted(seen, key=index.__getitem__):
        if len(seen[bus]) != MTUS_PER_DAY:
            first = min(set(range(MTUS_PER_DAY)) - seen[bus])
            raise ForecastError(f"bus {bus!r} has no row for MTU {first}")
    rows.sort(key=lambda r: (r[0], r[1]))
    digest = sha256(encode(["flexledger-forecast-v1", rows])).hex()
    return Forecast(id=digest, load_w=load, load_var=var, gen_w=gen)


def load_forecast(model: FeederModel, path: str | Path | None = None) -> Forecast:
    """Load a forecast file (default: the shipped CIGRE LV forecast) for a feeder model."""
    path = Path(path) if path is not None else DEFAULT_FORECAST
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ForecastError(f"{path}: cannot read the forecast: {exc}") from None
    try:
        return parse_forecast(text, model)
    except ForecastError as exc:
        raise ForecastError(f"{path}: {exc}") from None
