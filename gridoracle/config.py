"""The grid oracle's home directory and configuration file.

    <home>/oracle.json        the configuration (below)
    <home>/keys/<name>.json   the oracle key (a keystore file; password: $FLEXLEDGER_PASSWORD)
    <home>/state.json         what the oracle has done (``journal.py``)
    <home>/latest.json        the latest power-flow results, for ``flexledger grid show``
    <home>/oracle.log, oracle.pid   written by ``flexledger oracle start``

``oracle.json`` (every field optional except ``node``)::

    {"node": "http://10.0.0.5:26657",         # the API of the DSO's node (any host;
                                              #   ``oracle start --node URL`` overrides it)
     "key": "oracle",                          # key name in <home>/keys
     "feeder": null,                           # pandapower JSON file; null: CIGRE LV
     "forecast": null,                         # forecast CSV; null: the shipped CIGRE LV one
     "limits": {"line_loading_pct": 100, "trafo_loading_pct": 100,
                "vm_min_pu": 0.90, "vm_max_pu": 1.10,
                "curtail_to_pct": 100},            # a curtailment brings loading to this share
                                                   #   of its limit (the DSO's safety margin)
     "feeders": {"r": "R"},                    # chain feeder id -> model feeder (default: the
                                               #   model feeder's name in lower case)
     "buses": {"bus-r11": "Bus R11"},          # chain bus id -> model bus key (default: the key
                                               #   in lower case, other characters -> "-")
     "flexibility": {"enabled": true, "max_price": 400000, "margin_pct": 10,
                     "commit_secs": 60, "gate_secs": 5, "reveal_secs": 60, "settle_secs": 172800},
     "poll_secs": 1.0}

Relative paths are relative to the home directory.  Prices are micro-units per kWh.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from gridoracle.limits import Limits

CONFIG_FILE = "oracle.json"
_ID_CHARS = re.compile(r"[^a-z0-9._-]")


class ConfigError(ValueError):
    """An oracle configuration that cannot be used; the message says what to fix."""


def chain_id_of(name: str) -> str:
    """The default chain id of a model bus key or feeder name: lower case, any character
    not allowed in chain ids (a-z 0-9 . _ -) replaced by "-" ("Bus R11" -> "bus-r11")."""
    return _ID_CHARS.sub("-", name.lower())[:64]


@dataclass(frozen=True)
class FlexPolicy:
    """How the oracle asks for flexibility when a cleared session violates a limit."""

    enabled: bool = True
    max_price: int = 400_000
    margin_pct: int = 10
    commit_secs: int = 60
    gate_secs: int = 5
    reveal_secs: int = 60
    settle_secs: int = 2 * 86400


@dataclass(frozen=True)
class OracleConfig:
    node: str
    key: str = "oracle"
    feeder: str | None = None
    forecast: str | None = None
    limits: Limits = field(default_factory=Limits)
    feeders: dict[str, str] = field(default_factory=dict)
    buses: dict[str, str] = field(default_factory=dict)
    flexibility: FlexPolicy = field(default_factory=FlexPolicy)
    poll_secs: float = 1.0

    def chain_feeder(self, model_feeder: str) -> str:
        """The chain id of a model feeder: as mapped in ``feeders``, else ``chain_id_of`` its name."""
        for chain_id, name in self.feeders.items():
            if name == model_feeder:
                return chain_id
        return chain_id_of(model_feeder)

    def to_json(self) -> dict:
        limits = self.limits
        return {"node": self.node, "key": self.key, "feeder": self.feeder, "forecast": self.forecast,
                "limits": {"line_loading_pct": limits.line_loading_bp / 100,
                           "trafo_loading_pct": limits.trafo_loading_bp / 100,
                           "vm_min_pu": limits.vm_min_upu / 1e6, "vm_max_pu": limits.vm_max_upu / 1e6,
                           "curtail_to_pct": limits.curtail_to_bp / 100},
                "feeders": self.feeders, "buses": self.buses, "flexibility": asdict(self.flexibility),
                "poll_secs": self.poll_secs}


def _number(doc: dict, name: str, default: float, where: str) -> float:
    value = doc.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{where}.{name} must be a positive number, got {value!r}")
    return value


def curtail_to_bp(value, where: str = "limits.curtail_to_pct") -> int:
    """The safety margin, a percentage of the loading limits from 0.01 to 100, in basis points."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.01 <= value <= 100:
        raise ConfigError(f"{where} must be a number from 0.01 to 100 (percent of the loading limits), "
                          f"got {value!r}")
    return round(value * 100)


def _limits(doc) -> Limits:
    if not isinstance(doc, dict):
        raise ConfigError("limits must be an object")
    unknown = set(doc) - {"line_loading_pct", "trafo_loading_pct", "vm_min_pu", "vm_max_pu", "curtail_to_pct"}
    if unknown:
        raise ConfigError(f"unknown limit(s): {', '.join(sorted(unknown))}")
    margin_bp = curtail_to_bp(doc.get("curtail_to_pct", 100))
    try:
        return Limits(line_loading_bp=round(_number(doc, "line_loading_pct", 100, "limits") * 100),
                      trafo_loading_bp=round(_number(doc, "trafo_loading_pct", 100, "limits") * 100),
                      vm_min_upu=round(_number(doc, "vm_min_pu", 0.90, "limits") * 1e6),
                      vm_max_upu=round(_number(doc, "vm_max_pu", 1.10, "limits") * 1e6),
                      curtail_to_bp=margin_bp)
    except ValueError as exc:
        raise ConfigError(f"limits: {exc}") from None


def _flexibility(doc) -> FlexPolicy:
    if not isinstance(doc, dict):
        raise ConfigError("flexibility must be an object")
    known = FlexPolicy.__dataclass_fields__
    unknown = set(doc) - set(known)
    if unknown:
        raise ConfigError(f"unknown flexibility setting(s): {', '.join(sorted(unknown))}")
    values = {}
    for name, value in doc.items():
        if name == "enabled":
            if not isinstance(value, bool):
                raise ConfigError("flexibility.enabled must be true or false")
        elif isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "margin_pct" else 1):
            raise ConfigError(f"flexibility.{name} must be a positive integer, got {value!r}")
        values[name] = value
    return FlexPolicy(**values)


def _string_map(doc, name: str) -> dict[str, str]:
    if not isinstance(doc, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
        raise ConfigError(f"{name} must map chain ids to model names (strings)")
    bad = [k for k in doc if chain_id_of(k) != k]
    if bad:
        raise ConfigError(f"{name}: {bad[0]!r} is not a chain id (1 to 64 characters from a-z 0-9 . _ -)")
    return dict(doc)


def check_node_url(url, where: str = "node") -> str:
    """``url`` if it is a node API URL, http(s)://HOST[:PORT] with no path; ConfigError naming ``where``."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        port_ok = parts is not None and (parts.port is None or parts.port > 0)
    except ValueError:  # a port that is not a number from 0 to 65535
        parts, port_ok = None, False
    if not (port_ok and parts.scheme in ("http", "https") and parts.hostname and parts.path in ("", "/")
            and not parts.query and not parts.fragment):
        raise ConfigError(f"{where} must be the URL of a node's API, http(s)://HOST:PORT "
                          f"(e.g. http://10.0.0.5:26657), got {url!r}")
    return url


def parse_config(doc) -> OracleConfig:
    if not isinstance(doc, dict):
        raise ConfigError("the configuration must be a JSON object")
    unknown = set(doc) - set(OracleConfig.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    node = check_node_url(doc.get("node"))
    for name in ("feeder", "forecast"):
        if doc.get(name) is not None and not isinstance(doc[name], str):
            raise ConfigError(f"{name} must be a file path or null")
    if doc.get("feeder") is not None and doc.get("forecast") is None:
        raise ConfigError("a feeder file needs its forecast file (forecast)")
    key = doc.get("key", "oracle")
    if not isinstance(key, str) or not key:
        raise ConfigError("key must be the oracle key's name")
    return OracleConfig(node=node, key=key, feeder=doc.get("feeder"), forecast=doc.get("forecast"),
                        limits=_limits(doc.get("limits", {})),
                        feeders=_string_map(doc.get("feeders", {}), "feeders"),
                        buses=_string_map(doc.get("buses", {}), "buses"),
                        flexibility=_flexibility(doc.get("flexibility", {})),
                        poll_secs=_number(doc, "poll_secs", 1.0, "config"))


class OracleHome:
    """Paths inside an oracle home directory; ``node``, if given, replaces the configured node URL."""

    def __init__(self, path: Path, node: str | None = None):
        self.path = Path(path)
        self.node = node and check_node_url(node, "--node")

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def keys(self) -> Path:
        return self.path / "keys"

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @property
    def latest_file(self) -> Path:
        return self.path / "latest.json"

    @property
    def log_file(self) -> Path:
        return self.path / "oracle.log"

    @property
    def pid_file(self) -> Path:
        return self.path / "oracle.pid"

    def resolve(self, path: str | None) -> str | None:
        """A configured path, relative to the home directory."""
        return None if path is None else str(self.path / Path(path).expanduser())

    def load_config(self) -> OracleConfig:
        if not self.config_file.exists():
            raise ConfigError(f"no oracle configuration in {self.path}: run 'flexledger oracle init' first")
        try:
            doc = json.loads(self.config_file.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.config_file}: not valid JSON ({exc})") from None
        try:
            config = parse_config(doc)
        except ConfigError as exc:
            raise ConfigError(f"{self.config_file}: {exc}") from None
        return replace(config, node=self.node) if self.node else config

    def save_config(self, config: OracleConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(json.dumps(config.to_json(), indent=2) + "\n")
