"""Setting up the home of a consortium node: a new key and config, the identity its operator
hands to the genesis coordinator, and installing the genesis that comes back.

The order is the ceremony's: ``create_home`` makes the key (it never leaves the machine) and
writes ``node_id.json``; ``identity`` is what ``flexledger node show-id`` prints; once the
coordinator has finalized the genesis from every party's identity, ``install_genesis`` copies it
byte for byte (so every party computes the same hash) and lists the other validators' p2p
addresses from it as this node's peers. ``flexledger node init|show-id|install-genesis`` are
thin wrappers; ``testnet/`` calls the same functions.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from node.atomicfile import write_atomic
from node.config import ConfigError, NodeConfig, NodeHome
from node.genesis import Genesis, GenesisError
from node.keys import KeyPair
from node.netaddr import PeerAddress, parse_host_port
from node.signing import GuardedSigner


@dataclass(frozen=True)
class NetworkSettings:
    """Command-line networking settings; None leaves the config's value."""

    p2p_listen: str | None = None
    api_listen: str | None = None
    external_address: str | None = None
    peers: tuple[PeerAddress, ...] = ()
    api_tls_cert: str | None = None  # part B (links): TLS for the API, kept as absolute paths
    api_tls_key: str | None = None

    def apply(self, config: NodeConfig) -> NodeConfig:
        changed = {name: str(parse_host_port(value)) for name, value in
                   (("p2p_listen", self.p2p_listen), ("api_listen", self.api_listen),
                    ("external_address", self.external_address)) if value is not None}
        changed.update({name: str(Path(value).resolve()) for name, value in
                        (("api_tls_cert", self.api_tls_cert), ("api_tls_key", self.api_tls_key)) if value})
        return replace(config, **changed).with_peers(list(self.peers))


@dataclass(frozen=True)
class InstalledGenesis:
    genesis: Genesis
    sha256: str
    validator: str | None  # this node's validator name, None for an observer
    peers: list[dict]      # the config's peers after installing


def create_home(home: NodeHome, password: str, network: NetworkSettings) -> KeyPair:
    """A new node home with a fresh key encrypted with ``password``; ConfigError if one is there."""
    if home.exists() or home.key_file.exists():
        raise ConfigError(f"{home.path} already holds a node; remove it or choose another --node-home")
    key = KeyPair.generate()
    home.save_key(key, password)
    home.save_node_id(key)
    home.data_dir.mkdir(parents=True, exist_ok=True)
    GuardedSigner.create(home.signing_state_file)  # a new key has never signed
    home.save_config(network.apply(NodeConfig()))
    return key


def identity(home: NodeHome) -> dict:
    """{"address", "public_key", "p2p_address", "peer"}: what the genesis coordinator and peers need."""
    p2p_address = home.load_config().p2p_address
    node_id = home.load_node_id()
    return {**node_id, "p2p_address": p2p_address, "peer": f"{node_id['address']}@{p2p_address}"}


def genesis_hash(data: bytes) -> str:
    """The hash every party compares: SHA-256 of the genesis file's bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def install_genesis(home: NodeHome, source: Path) -> InstalledGenesis:
    """Copy the genesis file ``source`` into ``home`` and add the other validators as peers."""
    config = home.load_config()
    if config.dev:
        raise ConfigError(f"{home.path} is a dev home with its own genesis; make a new home with "
                          f"'flexledger node init' for this chain")
    try:
        data = Path(source).read_bytes()
    except OSError as exc:
        raise GenesisError(f"cannot read the genesis file {source}: {exc.strerror}") from None
    genesis = Genesis.load(source)
    digest = genesis_hash(data)
    if home.genesis_file.exists():
        installed = genesis_hash(home.genesis_file.read_bytes())
        if installed != digest:
            raise ConfigError(f"{home.path} already has another genesis (sha256 {installed}); a node cannot "
                              f"change chains: make a new home for chain {genesis.chain_id!r}")
    own_address = home.load_node_id()["address"]
    peers = [PeerAddress(address, parse_host_port(p2p)) for address, p2p in sorted(genesis.p2p.items())
             if address != own_address]
    config = config.with_peers(peers)
    write_atomic(home.genesis_file, data)
    home.save_config(config)
    me = genesis.validators.by_address(own_address)
    return InstalledGenesis(genesis, digest, me.name if me else None, config.peers)
