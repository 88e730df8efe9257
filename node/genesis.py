"""The genesis file: chain id, start time, validators, chain parameters, genesis contracts,
and the accounts admitted from the start.

Example (JSON; every field is documented in docs/genesis.md)::

    {"chain_id": "flexledger-dev", "genesis_time_ms": 1767225600000,
     "validators": [{"name": "dso", "public_key": "<hex>", "power": 10, "role": "dso",
                     "p2p": "dso.example.org:26656"}],
     "params": {"block_gas_limit": 200000000},
     "contracts": [{"name": "token", "source": "<contract source>", "deployer": "0x...",
                    "init_args": ["0x..."]}],
     "calls": [{"contract": "token", "function": "mint", "caller": "0x...",
                "args": ["0x...", 1000000000]}],
     "allowed_accounts": ["0x..."],
     "deployers": ["0x..."]}

Each contract is deployed at ``genesis_contract_address(name)`` and its ``init`` runs with
``init_args`` as if sent by ``deployer``; then each call runs in order as if sent by
``caller``. The node knows nothing of what the contracts are: the market package builds
this section (``market/genesis.py``), so the genesis file alone defines the chain.

``allowed_accounts`` (optional, default empty) seeds the allow list of accounts admitted to
send transactions besides validators, the grid oracle and registered participants;
``deployers`` (optional, default empty) seeds the list of accounts that may deploy
contracts (node/admission.py). Both are addresses without repeats; governance changes them
later. A genesis file without them (written before admission control) loads unchanged and
gives the same genesis state.

A validator's ``p2p`` (optional, ``HOST:PORT``) is where its node listens for peers: a node
that installs the genesis lists the others as its peers. It is not part of the genesis
state (the chain commits to names, keys, powers and roles), so the same chain can be started
from files that differ only there. Errors name the field: ``validators[1].public_key ...``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from consensus.types import ROLES, Validator, ValidatorSet
from node.keys import address_of, is_address
from node.netaddr import parse_host_port
from node.params import ChainParams


class GenesisError(ValueError):
    """The genesis file is invalid; the message says which field."""


@dataclass(frozen=True)
class GenesisContract:
    name: str
    source: str
    deployer: str
    init_args: list = field(default_factory=list)


@dataclass(frozen=True)
class GenesisCall:
    contract: str  # a genesis contract name
    function: str
    caller: str
    args: list = field(default_factory=list)


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    genesis_time_ms: int
    validators: ValidatorSet
    params: ChainParams
    contracts: tuple[GenesisContract, ...] = ()
    calls: tuple[GenesisCall, ...] = ()
    allowed_accounts: tuple[str, ...] = ()
    deployers: tuple[str, ...] = ()
    p2p: dict[str, str] = field(default_factory=dict)  # validator address -> HOST:PORT of its node

    def to_json(self) -> dict:
        return {
            "chain_id": self.chain_id, "genesis_time_ms": self.genesis_time_ms,
            "validators": [{"name": v.name, "public_key": v.public_key.hex(), "power": v.power, "role": v.role,
                            **({"p2p": self.p2p[v.address]} if v.address in self.p2p else {})}
                           for v in self.validators.validators],
            "params": {name: getattr(self.params, name) for name in ChainParams.names()},
            "contracts": [{"name": c.name, "source": c.source, "deployer": c.deployer, "init_args": c.init_args}
                          for c in self.contracts],
            "calls": [{"contract": c.contract, "function": c.function, "caller": c.caller, "args": c.args}
                      for c in self.calls],
            "allowed_accounts": list(self.allowed_accounts),
            "deployers": list(self.deployers),
        }

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "Genesis":
        try:
            doc = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise GenesisError(f"genesis file {path} not found") from None
        except ValueError as exc:
            raise GenesisError(f"genesis file {path} is not valid JSON: {exc}") from None
        try:
            return cls.from_json(doc)
        except GenesisError as exc:
            raise GenesisError(f"genesis file {path}: {exc}") from None

    @classmethod
    def from_json(cls, doc: dict) -> "Genesis":
        if not isinstance(doc, dict):
            raise GenesisError("a genesis file holds a JSON object")
        chain_id = _field(doc, "chain_id")
        if not isinstance(chain_id, str) or not chain_id:
            raise GenesisError("chain_id must be non-empty text")
        genesis_time_ms = _field(doc, "genesis_time_ms")
        if type(genesis_time_ms) is not int or genesis_time_ms < 0:
            raise GenesisError(f"genesis_time_ms must be milliseconds since 1970 (a whole number), "
                               f"not {genesis_time_ms!r}")
        entries = _list(doc, "validators")
        validators = tuple(_item("validators", i, _validator, entry) for i, entry in enumerate(entries))
        names = [v.name for v in validators]
        if len(set(names)) != len(names):
            raise GenesisError(f"validators: two validators are named {_first_repeat(names)!r}")
        try:
            validator_set = ValidatorSet(validators)
        except ValueError as exc:
            raise GenesisError(f"validators: {exc}") from None
        contracts = tuple(_item("contracts", i, _contract, c) for i, c in enumerate(_list(doc, "contracts", [])))
        names = [c.name for c in contracts]
        if len(set(names)) != len(names):
            raise GenesisError("contracts: two genesis contracts share a name")
        calls = tuple(_item("calls", i, _call, c, names) for i, c in enumerate(_list(doc, "calls", [])))
        params = doc.get("params", {})
        if not isinstance(params, dict):
            raise GenesisError("params must be an object of chain parameters")
        try:
            chain_params = ChainParams.from_json(params)
        except ValueError as exc:
            raise GenesisError(f"params: {exc}") from None
        p2p = {address_of(v.public_key): _item("validators", i, _p2p, entry)
               for i, (v, entry) in enumerate(zip(validators, entries)) if "p2p" in entry}
        return cls(chain_id, genesis_time_ms, validator_set, chain_params, contracts, calls,
                   _addresses(doc.get("allowed_accounts", []), "allowed_accounts"),
                   _addresses(doc.get("deployers", []), "deployers"), p2p)


def _first_repeat(values: list[str]) -> str:
    return next(value for i, value in enumerate(values) if value in values[:i])


def _field(doc: dict, name: str):
    if name not in doc:
        raise GenesisError(f"genesis is missing field {name!r}")
    return doc[name]


def _list(doc: dict, name: str, default: list | None = None) -> list:
    value = doc.get(name, default) if default is not None else _field(doc, name)
    if not isinstance(value, list):
        raise GenesisError(f"{name} must be a list")
    return value


def _item(section: str, index: int, parse, entry, *more):
    """``parse(entry)``, its errors prefixed with where the entry is (``validators[2]``)."""
    where = f"{section}[{index}]"
    if not isinstance(entry, dict):
        raise GenesisError(f"{where} must be an object")
    try:
        return parse(entry, *more)
    except GenesisError as exc:
        raise GenesisError(f"{where}.{exc}") from None
    except KeyError as exc:
        raise GenesisError(f"{where} is missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise GenesisError(f"{where}: {exc}") from None


def _address(value: object, what: str) -> str:
    if not is_address(value):
        raise GenesisError(f"{what} is not an address: {value!r}")
    return value


def _addresses(values: list, what: str) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise GenesisError(f"{what} must be a list of addresses")
    addresses = tuple(_address(value, f"an entry of {what}") for value in values)
    if len(set(addresses)) != len(addresses):
        raise GenesisError(f"{what} lists an address twice")
    return addresses


def _validator(doc: dict) -> Validator:
    name = doc["name"]
    if not isinstance(name, str) or not name:
        raise GenesisError(f"name must be non-empty text, not {name!r}")
    role = doc.get("role", "aggregator")
    if role not in ROLES:
        raise GenesisError(f"role must be one of {ROLES}, not {role!r}")
    try:
        key = bytes.fromhex(doc["public_key"])
    except (TypeError, ValueError):
        key = b""
    if len(key) != 32:
        raise GenesisError(f"public_key must be 32 bytes as 64 hex digits, not {doc['public_key']!r}")
    if type(doc["power"]) is not int or doc["power"] <= 0:
        raise GenesisError(f"power must be a positive whole number, not {doc['power']!r}")
    return Validator(name, key, doc["power"], role)


def _p2p(doc: dict) -> str:
    try:
        return str(parse_host_port(doc["p2p"]))
    except ValueError as exc:
        raise GenesisError(f"p2p: {exc}") from None


def _contract(doc: dict) -> GenesisContract:
    if not isinstance(doc["name"], str) or not isinstance(doc["source"], str):
        raise GenesisError("name and source must be text")
    return GenesisContract(doc["name"], doc["source"], _address(doc["deployer"], "deployer"),
                           list(doc.get("init_args", [])))


def _call(doc: dict, names: list[str]) -> GenesisCall:
    if doc["contract"] not in names:
        raise GenesisError(f"contract: unknown genesis contract {doc['contract']!r}")
    return GenesisCall(doc["contract"], doc["function"], _address(doc["caller"], "caller"),
                       list(doc.get("args", [])))
