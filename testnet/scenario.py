"""Demo scenarios: a feeder, participants and their devices, daily profiles and market sessions.

A scenario is a TOML file (``flexledger demo --scenario FILE``; the built-in one is
``testnet/scenarios/cigre_lv_day.toml``, which documents every field in its comments).
Times of day are "HH:MM" on the market day (``day`` days after today, UTC); prices are
tokens per kWh; powers in W, energies in Wh.

    name, day, feeder (pandapower JSON, "" = CIGRE LV), forecast (CSV, "" = the shipped one),
    block_hours (orders cover blocks of this many hours), seed (prices and meter noise)
    [chain]        validators, restart (validator killed and restarted mid-run, "" = none)
    [profiles]     name = 24 hourly values, each a fraction (0..1) of a device's max power
    [[aggregators]] name, flex_price (tokens/kWh asked for flexibility)
    [[groups]]     a group of prosumers: name, count, feeder, buses (cycled), aggregator
                   (runs their storage), devices = [{type, max_power, capacity, profile,
                   price}] (energy devices traded by the prosumer; storage offered as
                   flexibility by the aggregator)
    [[sessions]]   kind = "energy", name, feeder, start "HH:MM", mtus, max_price, groups
                   (whose devices trade in it; default all on the feeder), flexibility
                   (how much of a flexibility request the aggregators offer: 0..1)
    [meter]        noise_pct (metered = traded +- noise)

``load_scenario`` checks everything and raises ScenarioError naming the field.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gridoracle.config import FlexPolicy
from testnet.layout import node_names

BUILT_IN = Path(__file__).parent / "scenarios" / "cigre_lv_day.toml"
PRICE_JITTER = 0.10  # orders are priced at the device's price +- this share
FLEX_PRICE_CAP = FlexPolicy().max_price / 1_000_000  # the oracle's cap on flexibility prices, tokens/kWh
DEVICE_TYPES = ("load", "generation", "storage", "ev_charger", "heat_pump")
_ID = re.compile(r"[a-z0-9._-]{1,40}")
_HHMM = re.compile(r"([01]\d|2[0-3]):(00|15|30|45)")


class ScenarioError(ValueError):
    """A scenario that cannot be run; the message names the field."""


@dataclass(frozen=True)
class DeviceSpec:
    type: str
    max_power: int
    capacity: int
    profile: str
    price: float


@dataclass(frozen=True)
class Group:
    name: str
    count: int
    feeder: str
    buses: tuple[str, ...]
    aggregator: str | None
    devices: tuple[DeviceSpec, ...]


@dataclass(frozen=True)
class SessionSpec:
    name: str
    feeder: str
    start_mtu: int  # MTU of the day, 0..95
    mtus: int
    max_price: float
    groups: tuple[str, ...]
    flexibility: float


@dataclass(frozen=True)
class Scenario:
    name: str
    day: int
    feeder: str | None
    forecast: str | None
    block_hours: int
    seed: int
    validators: int
    restart: str | None
    profiles: dict[str, tuple[float, ...]]
    aggregators: dict[str, float]  # name -> flexibility price
    groups: tuple[Group, ...]
    sessions: tuple[SessionSpec, ...]
    noise_pct: int


def _get(doc: dict, key: str, kind, where: str, default=...):
    if key not in doc:
        if default is ...:
            raise ScenarioError(f"{where}: missing {key}")
        return default
    value = doc[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        raise ScenarioError(f"{where}.{key}: expected {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
    return value


def _id(value: str, where: str) -> str:
    if not _ID.fullmatch(value):
        raise ScenarioError(f"{where}: {value!r} is not an id (1 to 40 characters from a-z 0-9 . _ -)")
    return value


def _mtu_of_day(text: str, where: str) -> int:
    match = _HHMM.fullmatch(text)
    if not match:
        raise ScenarioError(f"{where}: {text!r} is not a quarter-hour time HH:MM")
    return int(match.group(1)) * 4 + int(match.group(2)) // 15


def _profiles(doc: dict) -> dict[str, tuple[float, ...]]:
    profiles = {}
    for name, values in _get(doc, "profiles", dict, "scenario").items():
        if (not isinstance(values, list) or len(values) != 24
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in values)):
            raise ScenarioError(f"profiles.{name}: expected 24 hourly fractions between 0 and 1")
        profiles[name] = tuple(float(v) for v in values)
    return profiles


def _device(doc, where: str, profiles) -> DeviceSpec:
    if not isinstance(doc, dict):
        raise ScenarioError(f"{where}: expected a table")
    kind = _get(doc, "type", str, where)
    if kind not in DEVICE_TYPES:
        raise ScenarioError(f"{where}.type: {kind!r} is not one of {', '.join(DEVICE_TYPES)}")
    profile = _get(doc, "profile", str, where, "")
    if kind != "storage" and profile not in profiles:
        raise ScenarioError(f"{where}.profile: no profile {profile!r}")
    max_power = _get(doc, "max_power", int, where)
    capacity = _get(doc, "capacity", int, where, 0)
    if max_power < 4 or capacity < 0 or (kind in ("storage", "ev_charger") and capacity == 0):
        raise ScenarioError(f"{where}: max_power must be at least 4 W, and storage and EV chargers need a capacity")
    return DeviceSpec(kind, max_power, capacity, profile, float(_get(doc, "price", (int, float), where, 0.0)))


def _group(doc, n: int, profiles, aggregators) -> Group:
    where = f"groups[{n}]"
    name = _id(_get(doc, "name", str, where), where + ".name")
    aggregator = _get(doc, "aggregator", str, where, "") or None
    if aggregator is not None and aggregator not in aggregators:
        raise ScenarioError(f"{where}.aggregator: no aggregator {aggregator!r}")
    buses = tuple(_id(b, where + ".buses") for b in _get(doc, "buses", list, where))
    count = _get(doc, "count", int, where)
    if not buses or not 1 <= count <= 500:
        raise ScenarioError(f"{where}: needs at least one bus and a count of 1 to 500")
    devices = tuple(_device(d, f"{where}.devices[{k}]", profiles) for k, d in enumerate(_get(doc, "devices", list, where)))
    if len({d.type for d in devices}) != len(devices):
        raise ScenarioError(f"{where}.devices: at most one device of each type per prosumer")
    if any(d.type == "storage" for d in devices) and aggregator is None:
        raise ScenarioError(f"{where}: storage needs an aggregator to offer its flexibility")
    return Group(name, count, _id(_get(doc, "feeder", str, where), where + ".feeder"), buses, aggregator, devices)


def _session(doc, n: int, groups: dict[str, Group]) -> SessionSpec:
    where = f"sessions[{n}]"
    if _get(doc, "kind", str, where, "energy") != "energy":
        raise ScenarioError(f"{where}.kind: only energy sessions are scripted (flexibility follows the oracle)")
    feeder = _id(_get(doc, "feeder", str, where), where + ".feeder")
    start = _mtu_of_day(_get(doc, "start", str, where), where + ".start")
    mtus = _get(doc, "mtus", int, where)
    if not 1 <= mtus <= 96 - start:
        raise ScenarioError(f"{where}.mtus: 1 to {96 - start} (the session stays within the day)")
    chosen = tuple(_get(doc, "groups", list, where, [g.name for g in groups.values() if g.feeder == feeder]))
    for name in chosen:
        if name not in groups or groups[name].feeder != feeder:
            raise ScenarioError(f"{where}.groups: no group {name!r} on feeder {feeder!r}")
    max_price = float(_get(doc, "max_price", (int, float), where))
    for name in chosen:
        for device in groups[name].devices:
            if device.type != "storage" and device.price * (1 + PRICE_JITTER) > max_price:
                raise ScenarioError(f"{where}.max_price: group {name}'s {device.type} asks up to "
                                    f"{device.price * (1 + PRICE_JITTER):.4f} tokens/kWh (price + 10 %)")
    flexibility = float(_get(doc, "flexibility", (int, float), where, 1.0))
    if not 0 <= flexibility <= 1:
        raise ScenarioError(f"{where}.flexibility: a fraction between 0 and 1")
    return SessionSpec(_get(doc, "name", str, where), feeder, start, mtus, max_price, chosen, flexibility)


def _block_hours(doc: dict) -> int:
    hours = _get(doc, "block_hours", int, "scenario", 2)
    if hours < 1 or 24 % hours:
        raise ScenarioError("block_hours: a divisor of 24 (1, 2, 3, 4, 6, 8, 12 or 24)")
    return hours


def parse_scenario(doc: dict, base: Path) -> Scenario:
    profiles = _profiles(doc)
    aggregators = {}
    for n, agg in enumerate(_get(doc, "aggregators", list, "scenario")):
        price = float(_get(agg, "flex_price", (int, float), f"aggregators[{n}]"))
        if not 0 <= price <= FLEX_PRICE_CAP:
            raise ScenarioError(f"aggregators[{n}].flex_price: 0 to {FLEX_PRICE_CAP:g} (the grid oracle's price cap)")
        aggregators[_id(_get(agg, "name", str, f"aggregators[{n}]"), f"aggregators[{n}].name")] = price
    groups = {}
    for n, g in enumerate(_get(doc, "groups", list, "scenario")):
        group = _group(g, n, profiles, aggregators)
        if group.name in groups:
            raise ScenarioError(f"groups[{n}].name: {group.name!r} is used twice")
        groups[group.name] = group
    sessions = tuple(_session(s, n, groups) for n, s in enumerate(_get(doc, "sessions", list, "scenario")))
    chain = _get(doc, "chain", dict, "scenario", {})
    validators = _get(chain, "validators", int, "chain", 4)
    if validators != len(aggregators) + 1:
        raise ScenarioError(f"chain.validators: the DSO and each aggregator run one ({len(aggregators) + 1})")
    restart = _get(chain, "restart", str, "chain", "") or None
    if restart is not None and (restart not in node_names(validators)[1:] or validators < 4):
        raise ScenarioError(f"chain.restart: an aggregator's validator ({', '.join(node_names(validators)[1:])}), "
                            "with at least 4 validators so that the others keep finalizing")
    feeder = _get(doc, "feeder", str, "scenario", "") or None
    forecast = _get(doc, "forecast", str, "scenario", "") or None
    if feeder is not None and forecast is None:
        raise ScenarioError("forecast: a feeder file needs its forecast file")
    for path in (feeder, forecast):
        if path is not None and not (base / path).is_file():
            raise ScenarioError(f"no such file: {base / path}")
    meter = _get(doc, "meter", dict, "scenario", {})
    return Scenario(name=_get(doc, "name", str, "scenario"), day=_get(doc, "day", int, "scenario", 1),
                    feeder=feeder and str((base / feeder).resolve()),
                    forecast=forecast and str((base / forecast).resolve()),
                    block_hours=_block_hours(doc), seed=_get(doc, "seed", int, "scenario", 7),
                    validators=validators, restart=restart, profiles=profiles, aggregators=aggregators,
                    groups=tuple(groups.values()), sessions=sessions,
                    noise_pct=_get(meter, "noise_pct", int, "meter", 5))


def load_scenario(path: Path | None = None) -> Scenario:
    path = Path(path) if path is not None else BUILT_IN
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    try:
        return parse_scenario(doc, path.parent)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
