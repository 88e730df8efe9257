"""A node's home directory: config, genesis, validator key and data.

    <home>/config.json     listen addresses, peers, block interval, mempool size, query limits, dev
                           mode (every field: docs/config.md; checked on load by node/configcheck.py)
    <home>/genesis.json    see node/genesis.py
    <home>/node_key.json   the validator's ed25519 seed, encrypted with a password like a wallet
                           key (node/keystore.py; mode 0600); the node asks for it once at start
    <home>/node_id.json    the node key's address and public key in plain text, for
                           ``flexledger node show-id`` without the password; checked against the key
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
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from node.atomicfile import write_atomic, write_json_atomic
from node.blockpolicy import check_config as check_block_policy  # part C (blocks)
from node.configcheck import ConfigFieldError, check_fields, upgrade_layout
from node.keys import KeyPair
from node.keystore import KeystoreError, decrypt_key, encrypt_key
from node.netaddr import PeerAddress

NODE_KEY_NAME = "node"

DEFAULT_API_PORT = 26657
# The API answers wallets and the grid oracle of its own organisation: local unless the
# operator opens it (--api-listen 0.0.0.0:26657, ideally with TLS). Peers must reach the p2p
# port from other machines, so it listens on every interface.
DEFAULT_API_LISTEN = f"127.0.0.1:{DEFAULT_API_PORT}"
DEFAULT_P2P_LISTEN = "0.0.0.0:26656"


class ConfigError(Exception):
    """The home directory is missing or damaged; the message says how to fix it."""


@dataclass
class NodeConfig:
    api_listen: str = DEFAULT_API_LISTEN  # HOST:PORT of the HTTP API
    block_interval: float = 1.0
    mempool_capacity: int = 10_000
    query_gas_limit: int = 5_000_000  # default and maximum gas of one POST /query
    query_timeout: float = 2.0        # seconds before a query is stopped with query_timeout
    query_workers: int = 2            # queries running at once, each on its own thread
    query_queue: int = 32             # queries waiting for a worker; more get busy (503)
    dev: bool = False
    # -- part A (ceremony): networking; peers are {"address", "p2p": "HOST:PORT"} --
    p2p_listen: str = DEFAULT_P2P_LISTEN
    external_address: str = ""  # HOST:PORT that peers dial (NAT); "" means p2p_listen
    peers: list[dict] = field(default_factory=list)
    timeouts: dict = field(default_factory=dict)     # overrides of consensus TimeoutConfig fields
    # -- part C (blocks): when blocks are made (node/blockpolicy.py, docs/block-production.md) --
    block_time: float = 1.0             # target seconds between blocks (validators)
    empty_blocks: bool = False          # true: a block every block_time even without transactions
    empty_block_interval: float = 30.0  # idle chain: a heartbeat block at most this many seconds apart
    # -- part B (links): TLS for the API, both or neither (node/tls.py); "" serves plain HTTP --
    api_tls_cert: str = ""  # PEM certificate file (its chain may follow it)
    api_tls_key: str = ""   # PEM private key file of that certificate, unencrypted

    @property
    def p2p_address(self) -> str:
        """The HOST:PORT this node tells peers to dial."""
        return self.external_address or self.p2p_listen

    def with_peers(self, peers: list[PeerAddress]) -> "NodeConfig":
        """This config with ``peers`` added (a peer already listed keeps its entry)."""
        listed = {p["address"] for p in self.peers}
        added = [{"address": p.address, "p2p": str(p.endpoint)} for p in peers if p.address not in listed]
        return NodeConfig(**{**asdict(self), "peers": [*self.peers, *added]})


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

    @property
    def node_id_file(self) -> Path:
        return self.path / "node_id.json"

    def exists(self) -> bool:
        return self.config_file.exists()

    def load_config(self) -> NodeConfig:
        if not self.config_file.exists():
            raise ConfigError(f"{self.path} is not a node home: run 'flexledger node init --node-home {self.path}' first")
        try:
            doc = json.loads(self.config_file.read_text())
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            legacy_token = doc.pop("admin_token", None)
            upgraded = upgrade_layout(doc)
        except ValueError as exc:
            raise ConfigError(f"{self.config_file} is damaged: {exc}") from None
        try:
            check_fields(upgraded, fields(NodeConfig))
        except ConfigFieldError as exc:
            raise ConfigError(f"{self.config_file}: {exc}") from None
        try:  # part C (blocks): the block production policy's ranges
            check_block_policy(upgraded)
        except ValueError as exc:
            raise ConfigError(f"{self.config_file}: {exc}") from None
        config = NodeConfig(**upgraded)
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
        """The node key; ConfigError if it cannot be unlocked or is not the key of node_id.json."""
        doc = self._key_doc()
        if "seed" in doc:
            raise ConfigError(f"node key {self.key_file} is stored unencrypted (made by an older FlexLedger); "
                              f"encrypt it first: flexledger node encrypt-key --node-home {self.path}")
        try:
            key = decrypt_key(doc, password)
        except KeystoreError as exc:
            raise ConfigError(f"cannot unlock the node key {self.key_file}: {exc}") from None
        if not self.node_id_file.exists():  # a home made by an older version
            self.save_node_id(key)
        elif self.load_node_id()["public_key"] != key.public_key.hex():
            raise ConfigError(f"{self.node_id_file} names another key than {self.key_file}: restore the files "
                              f"of this home from its backup (the node key is the one that counts)")
        return key

    def save_node_id(self, key: KeyPair) -> None:
        write_json_atomic(self.node_id_file, {"address": key.address, "public_key": key.public_key.hex()})

    def load_node_id(self) -> dict:
        """{"address", "public_key"} of this home's node key, readable without its password."""
        try:
            doc = json.loads(self.node_id_file.read_text())
            return {"address": doc["address"], "public_key": doc["public_key"]}
        except FileNotFoundError:
            raise ConfigError(f"{self.node_id_file} is missing (a home made by an older version): start the node "
                              f"once, which writes it") from None
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{self.node_id_file} is damaged") from None

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

