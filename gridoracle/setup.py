"""Setting up the grid oracle of a new chain: its home directory, its key, and its genesis entries.

Tools that create chains (``flexledger node init --dev``, ``flexledger testnet up``) call
``create_oracle_home`` and put ``oracle_genesis`` into the market genesis: the chain's
``MarketConfig.oracle`` is the oracle key, which is admitted with the ``dso`` role (it opens
flexibility requests) and funded (it escrows what those requests may cost).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gridoracle.config import ConfigError, FlexPolicy, OracleConfig, OracleHome
from gridoracle.limits import Limits
from market.genesis import Admission, MarketConfig
from node.keys import KeyPair
from node.keystore import Keystore

ORACLE_NAME = "dso grid oracle"
ORACLE_FUNDS = 10**6 * 10**6  # one million tokens for flexibility escrows


def create_oracle_home(path: Path, node_url: str, password: str, flexibility: FlexPolicy | None = None,
                       key: KeyPair | None = None, feeder: str | None = None, forecast: str | None = None,
                       limits: Limits | None = None) -> KeyPair:
    """Write ``<path>/oracle.json`` and the oracle key; ConfigError if the home already exists.
    ``feeder`` and ``forecast``: absolute paths, or None for CIGRE LV and its shipped forecast;
    ``limits``: None for the defaults."""
    home = OracleHome(path)
    if home.config_file.exists():
        raise ConfigError(f"{home.path} already holds a grid oracle; remove it or choose another directory")
    if feeder is not None and forecast is None:
        raise ConfigError("a feeder file needs its forecast file")
    config = OracleConfig(node=node_url, feeder=feeder, forecast=forecast, limits=limits or Limits(),
                          flexibility=flexibility or FlexPolicy())
    key = Keystore(home.keys).create(config.key, password, key)
    home.save_config(config)
    return key


def oracle_genesis(key: KeyPair, config: MarketConfig, allocations: dict[str, int]
                   ) -> tuple[MarketConfig, dict[str, int], tuple[Admission, ...]]:
    """The market config, allocations and admissions of a chain whose grid oracle is ``key``."""
    return (replace(config, oracle=key.address), {**allocations, key.address: ORACLE_FUNDS},
            (Admission(key.address, ORACLE_NAME, ("dso",), key.public_key.hex()),))
