"""A node's home directory: config, genesis, validator key and data.

    <home>/config.json     API address, block interval, mempool size, dev mode
    <home>/genesis.json    see node/genesis.py
    <home>/node_key.json   the validator's ed25519 seed (mode 0600; the node signs unattended)
    <home>/signing_state.json  last signed height/round/step (validators; see node/signing.py)
    <home>/data/           LevelDB and the consensus WAL
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from node.keys import KeyPair

DEFAULT_API_PORT = 26657


class ConfigError(Exception):
    """The home directory is missing or damaged; the message says how to fix it."""


@dataclass
class NodeConfig:
    api_host: str = "127.0.0.1"
    api_port: int = DEFAULT_API_PORT
    block_interval: float = 1.0
    mempool_capacity: int = 10_000
    query_gas_limit: int = 50_000_000
    dev: bool = False
    p2p_host: str = "127.0.0.1"
    p2p_port: int = 26656
    peers: list[dict] = field(default_factory=list)  # {"address", "p2p_url", "api_url"}
    admin_token: str = ""
    timeouts: dict = field(default_factory=dict)     # overrides of consensus TimeoutConfig fields


class NodeHome:
    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def genesis_file(self) -> Path:
        return self.path / "genesis.json"

    @property
    def key_file(self) -> Path:
        return self.path / "node_key.json"

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    @property
    def signing_state_file(self) -> Path:
        return self.path / "signing_state.json"

    @property
    def wal_file(self) -> Path:
        return self.data_dir / "consensus.wal"

    def exists(self) -> bool:
        return self.config_file.exists()

    def load_config(self) -> NodeConfig:
        if not self.config_file.exists():
            raise ConfigError(f"{self.path} is not a node home: run 'flexledger node init --home {self.path}' first")
        try:
            doc = json.loads(self.config_file.read_text())
            return NodeConfig(**doc)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{self.config_file} is damaged: {exc}") from None

    def save_config(self, config: NodeConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(json.dumps(asdict(config), indent=2) + "\n")

    def load_key(self) -> KeyPair:
        try:
            return KeyPair(bytes.fromhex(json.loads(self.key_file.read_text())["seed"]))
        except FileNotFoundError:
            raise ConfigError(f"node key {self.key_file} is missing") from None
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"node key {self.key_file} is damaged") from None

    def save_key(self, key: KeyPair) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"address": key.address, "public_key": key.public_key.hex(), "seed": key.seed.hex()}, fh, indent=2)
