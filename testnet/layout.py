"""Generating a local testnet: keys, one genesis, and a node home per validator.

    <dir>/testnet.json        the nodes: name, address, ports, home, and the Python interpreter of each
                              (absent: the one running the manager)
    <dir>/password            the password of every key below ($FLEXLEDGER_PASSWORD or "testnet"; mode
                              0600), read by the node and oracle processes so they start unattended
    <dir>/wallet/keys/        the token issuer's key
    <dir>/nodes/<name>/       node homes (node/config.py) with their encrypted node keys and admin
                              tokens, node.log and node.pid
    <dir>/oracle/             the DSO grid oracle's home (gridoracle/config.py), following the DSO's node

    <dir>/genesis.json        the genesis every node installed

It is made the way a consortium makes its chain (docs/genesis.md), with the same functions
as ``flexledger node init``, ``genesis ...`` and ``node install-genesis``: the testnet is the
consortium walk, automated, on 127.0.0.1 ports picked free at generation time. The first
validator is the DSO, the others aggregators, each with voting power 10. The token issuer
(also the registry authority, which admits participants) is on the genesis allow list and
deployer list (node/admission.py). Every node lists every other as a peer (from the
genesis). The grid oracle key is the genesis ``MarketConfig.oracle``, admitted with the
``dso`` role and funded; its flexibility requests use the short phases of
:data:`TESTNET_FLEXIBILITY`.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from gridoracle.config import FlexPolicy
from gridoracle.setup import ORACLE_FUNDS, ORACLE_NAME, create_oracle_home
from market.ceremony import finalize
from node.atomicfile import write_atomic
from node.config import NodeHome
from node.genesisdraft import add_validator, new_draft, set_issuer, set_market, set_oracle
from node.homesetup import NetworkSettings, create_home, identity, install_genesis
from node.keys import KeyPair
from node.keystore import Keystore, read_password
from testnet.devnode import free_port

DEFAULT_PASSWORD = "testnet"
PASSWORD_FILE = "password"
ISSUER_SUPPLY = 10**9 * 10**6
TESTNET_FLEXIBILITY = FlexPolicy(commit_secs=20, gate_secs=1, reveal_secs=15, settle_secs=3600)
TESTNET_TIMEOUTS = {"propose": 1.0, "propose_delta": 0.5, "prevote": 0.5, "prevote_delta": 0.25,
                    "precommit": 0.5, "precommit_delta": 0.25, "cap": 5.0}
TESTNET_BLOCK_TIME = 0.2  # a block every 0.2 s, empty or not (part C: the liveness checks expect blocks)


@dataclass
class NodeEntry:
    name: str
    address: str
    api_port: int
    p2p_port: int
    home: str
    python: str | None = None  # the interpreter that runs this node; None: the one running the manager

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


@dataclass
class TestnetLayout:
    directory: Path
    chain_id: str
    nodes: list[NodeEntry]
    oracle: str | None = None  # the grid oracle's home, if the testnet has one

    @property
    def manifest(self) -> Path:
        return self.directory / "testnet.json"

    @property
    def wallet(self) -> Path:
        return self.directory / "wallet"

    @property
    def password_file(self) -> Path:
        return self.directory / PASSWORD_FILE

    def password(self) -> str:
        """The password of the testnet's keys (node keys, the issuer's, the oracle's)."""
        return read_password(password_file=self.password_file)

    def node(self, name: str) -> NodeEntry:
        for entry in self.nodes:
            if entry.name == name:
                return entry
        raise KeyError(f"no node {name!r} in this testnet (nodes: {', '.join(n.name for n in self.nodes)})")

    def save(self) -> None:
        self.manifest.write_text(json.dumps({"chain_id": self.chain_id, "nodes": [asdict(n) for n in self.nodes],
                                             "oracle": self.oracle}, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> "TestnetLayout":
        manifest = Path(directory) / "testnet.json"
        if not manifest.exists():
            raise FileNotFoundError(f"no testnet in {directory}: run 'flexledger testnet up' first")
        doc = json.loads(manifest.read_text())
        return cls(Path(directory), doc["chain_id"], [NodeEntry(**n) for n in doc["nodes"]], doc.get("oracle"))


def testnet_password() -> str:
    """The password of the testnet's keystore files (the issuer's, the oracle's)."""
    return os.environ.get("FLEXLEDGER_PASSWORD", DEFAULT_PASSWORD)


def node_names(count: int) -> list[str]:
    return ["dso"] + [f"agg{i}" for i in range(1, count)]


def generate(directory: Path, validators: int, chain_id: str = "flexledger-testnet",
             timeouts: dict | None = None, flexibility: FlexPolicy = TESTNET_FLEXIBILITY, feeder: str | None = None,
             forecast: str | None = None, meter_lead: int = 0) -> TestnetLayout:
    """The consortium walk of docs/genesis.md, automated for ``validators`` nodes on 127.0.0.1:
    each node home made with its own key (``node init``), the genesis drafted from their
    identities (``genesis add-validator``, ``set-issuer``, ``set-oracle``),
    finalized and installed in every home (``node install-genesis``); then the testnet's own
    settings (admin tokens, timeouts, a block every ``TESTNET_BLOCK_TIME``). The grid oracle's
    feeder model: ``feeder``, a pandapower JSON file with its ``forecast``; None: CIGRE LV.
    ``meter_lead``: the genesis ``MarketConfig.meter_lead`` (a testnet that plays a day in minutes)."""
    if validators < 1:
        raise ValueError("a testnet needs at least one validator")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    password = testnet_password()
    write_atomic(directory / PASSWORD_FILE, password.encode() + b"\n", mode=0o600)
    issuer = Keystore(directory / "wallet" / "keys").create("issuer", password)
    entries = [NodeEntry(name, "", free_port(), free_port(), str(directory / "nodes" / name))
               for name in node_names(validators)]
    draft = new_draft(chain_id, int(time.time() * 1000))
    for n, entry in enumerate(entries):
        home = NodeHome(Path(entry.home))
        entry.address = create_home(home, password, _network(entry)).address
        me = identity(home)
        draft = add_validator(draft, entry.name, me["public_key"], 10, "dso" if n == 0 else "aggregator",
                              me["p2p_address"])
    oracle = create_oracle_home(directory / "oracle", entries[0].api_url, password, flexibility, feeder=feeder,
                                forecast=forecast)
    draft = set_issuer(draft, issuer.address, ISSUER_SUPPLY)
    draft = set_oracle(draft, ORACLE_NAME, oracle.public_key.hex(), ORACLE_FUNDS, oracle.address)
    if meter_lead:
        draft = set_market(draft, "meter_lead", meter_lead)
    genesis_file = directory / "genesis.json"
    finalize(draft).save(genesis_file)
    for entry in entries:
        _join(NodeHome(Path(entry.home)), genesis_file, timeouts)
    layout = TestnetLayout(directory, chain_id, entries, str(directory / "oracle"))
    layout.save()
    return layout


def _network(entry: NodeEntry) -> NetworkSettings:
    return NetworkSettings(p2p_listen=f"127.0.0.1:{entry.p2p_port}", api_listen=f"127.0.0.1:{entry.api_port}")


def _join(home: NodeHome, genesis_file: Path, timeouts: dict | None) -> None:
    """``node install-genesis``, then what only a testnet has: an admin token (faults are
    injected through the admin routes), its timeouts and its block policy."""
    install_genesis(home, genesis_file)
    home.save_admin_token(secrets.token_hex(16))
    home.save_config(replace(home.load_config(), timeouts=timeouts or TESTNET_TIMEOUTS,
                             block_time=TESTNET_BLOCK_TIME, empty_blocks=True))


def add_node(layout: TestnetLayout, name: str) -> tuple[NodeEntry, KeyPair]:
    """Create the home of a new node that joins ``layout`` (it becomes a validator once governance adds it)."""
    if any(n.name == name for n in layout.nodes):
        raise ValueError(f"a node named {name!r} already exists")
    first = NodeHome(Path(layout.nodes[0].home))
    entry = NodeEntry(name, "", free_port(), free_port(), str(layout.directory / "nodes" / name))
    home = NodeHome(Path(entry.home))
    password = layout.password()
    create_home(home, password, _network(entry))
    _join(home, first.genesis_file, first.load_config().timeouts)
    key = home.load_key(password)
    entry.address = key.address
    layout.nodes.append(entry)
    layout.save()
    return entry, key
