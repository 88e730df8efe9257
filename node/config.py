"""A node's home directory: config, genesis, validator key and data.

    <home>/config.json     API address, block interval, mempool size, query limits, dev mode
    <home>/genesis.json    see node/genesis.py
    <home>/node_key.json   the validator's ed25519 seed, encrypted with a password like a wallet
                           key (node/keystore.py; mode 0600); the node asks for it once at start
    <home>/admin_token     the token of the admin routes (testnets only; mode 0600, owner only)
    <home>/signing_state.json  last signed height/round/step (validators; see node/signing.py)
    <home>/data/           LevelDB and the consensus WAL

Homes made by older versions: an ``admin_token`` in config.json moves to its own file the
first time the config is loaded; a node key stored in plain text is refused, with the command
that encrypts it (``flexledger node encrypt-key``).
"""
from __future__ import annotations

import json
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path

from node.atomicfile import write_atomic, write_json_atomic
from node.keys import KeyPair
from node.keystore import KeystoreError, decrypt_key, encrypt_key

NODE_KEY_NAME = "node"

DEFAULT_API_PORT = 26657


class ConfigError(Exception):
    """The home directory is missing or damaged; the message says how to fix it."""


@dataclass
class NodeConfig:
    api_host: str = "127.0.0.1"
    api_port: int = DEFAULT_API_PORT
    block_interval: float = 1.0
    mempool_capacity: int = 10_000
    query_gas_limit: int = 5_000_000  # default and maximum gas of one POST /query
    query_timeout: float = 2.0        # seconds before a query is stopped with query_timeout
    query_workers: int = 2            # queries running at once, each on its own thread
    query_queue: int = 32             # queries waiting for a worker; more get busy (503)
    dev: bool = False
    p2p_host: str = "127.0.0.1"
    p2p_port: int = 26656
    peers: list[dict] = field(default_factory=list)  # {"address", "p2p_url", "api_url"}
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
    def admin_token_file(self) -> Path:
        return self.path / "admin_token"

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
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            legacy_token = doc.pop("admin_token", None)
            config = NodeConfig(**doc)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{self.config_file} is damaged: {exc}") from None
        _check_query_limits(config, self.config_file)
        if legacy_token is not None:
            self._move_admin_token(legacy_token, config)
        return config

    def save_config(self, config: NodeConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(json.dumps(asdict(config), indent=2) + "\n")

    # -- the admin token -------------------------------------------------------------------
    def save_admin_token(self, token: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.admin_token_file, token.encode() + b"\n", mode=0o600)

    def load_admin_token(self) -> str:
        """The admin token, or "" if this home has none (its admin routes then refuse everyone)."""
        path = self.admin_token_file
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            token = path.read_text().strip()
        except FileNotFoundError:
            return ""
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the admin token {path}: {exc}") from None
        if mode & 0o077:
            raise ConfigError(f"the admin token {path} can be read by other users (mode {mode:o}): "
                              f"run 'chmod 600 {path}'")
        return token

    def _move_admin_token(self, token: str, config: NodeConfig) -> None:
        """An older home kept the token in config.json, readable by anyone: move it to its own file."""
        if token and not self.admin_token_file.exists():
            self.save_admin_token(token)
        self.save_config(config)

    # -- the node key ------------------------------------------------------------------------
    def _key_doc(self) -> dict:
        try:
            doc = json.loads(self.key_file.read_text())
        except FileNotFoundError:
            raise ConfigError(f"node key {self.key_file} is missing") from None
        except ValueError:
            raise ConfigError(f"node key {self.key_file} is damaged") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"node key {self.key_file} is damaged")
        return doc

    def load_key(self, password: str) -> KeyPair:
        doc = self._key_doc()
        if "seed" in doc:
            raise ConfigError(f"node key {self.key_file} is stored unencrypted (made by an older FlexLedger); "
                              f"encrypt it first: flexledger node encrypt-key --node-home {self.path}")
        try:
            return decrypt_key(doc, password)
        except KeystoreError as exc:
            raise ConfigError(f"cannot unlock the node key {self.key_file}: {exc}") from None

    def save_key(self, key: KeyPair, password: str) -> None:
        if self.key_file.exists():
            raise ConfigError(f"node key {self.key_file} already exists")
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.key_file, encrypt_key(key, NODE_KEY_NAME, password), mode=0o600)

    def encrypt_plain_key(self, password: str) -> KeyPair:
        """Replace a node key stored in plain text (older versions) by its encrypted form."""
        doc = self._key_doc()
        if "seed" not in doc:
            raise ConfigError(f"node key {self.key_file} is already encrypted")
        try:
            key = KeyPair(bytes.fromhex(doc["seed"]))
        except (ValueError, TypeError):
            raise ConfigError(f"node key {self.key_file} is damaged") from None
        write_json_atomic(self.key_file, encrypt_key(key, NODE_KEY_NAME, password), mode=0o600)
        return key


def _check_query_limits(config: NodeConfig, path: Path) -> None:
    for name, least in (("query_gas_limit", 1), ("query_workers", 1), ("query_queue", 0)):
        value = getattr(config, name)
        if type(value) is not int or value < least:
            raise ConfigError(f"{path}: {name} must be a whole number of at least {least}, not {value!r}")
    if type(config.query_timeout) not in (int, float) or not config.query_timeout > 0:
        raise ConfigError(f"{path}: query_timeout must be a number of seconds above zero, "
                          f"not {config.query_timeout!r}")
