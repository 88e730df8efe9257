"""The genesis file: chain id, start time, validators, chain parameters, genesis contracts,
and the accounts admitted from the start.

Example (JSON)::

    {"chain_id": "flexledger-dev", "genesis_time_ms": 1767225600000,
     "validators": [{"name": "dso", "public_key": "<hex>", "power": 10, "role": "dso"}],
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
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from consensus.types import ROLES, Validator, ValidatorSet
from node.keys import is_address
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

    def to_json(self) -> dict:
        return {
            "chain_id": self.chain_id, "genesis_time_ms": self.genesis_time_ms,
            "validators": [{"name": v.name, "public_key": v.public_key.hex(), "power": v.power, "role": v.role}
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
        return cls.from_json(doc)

    @classmethod
    def from_json(cls, doc: dict) -> "Genesis":
        try:
            chain_id = doc["chain_id"]
            if not isinstance(chain_id, str) or not chain_id:
                raise GenesisError("chain_id must be non-empty text")
            validators = ValidatorSet(tuple(_validator(v) for v in doc["validators"]))
            contracts = tuple(_contract(c) for c in doc.get("contracts", []))
            names = [c.name for c in contracts]
            if len(set(names)) != len(names):
                raise GenesisError("two genesis contracts share a name")
            calls = tuple(_call(c, names) for c in doc.get("calls", []))
            return cls(chain_id, int(doc["genesis_time_ms"]), validators,
                       ChainParams.from_json(doc.get("params", {})), contracts, calls,
                       _addresses(doc.get("allowed_accounts", []), "allowed_accounts"),
                       _addresses(doc.get("deployers", []), "deployers"))
        except GenesisError:
            raise
        except KeyError as exc:
            raise GenesisError(f"genesis is missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise GenesisError(f"invalid genesis: {exc}") from None


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
    role = doc.get("role", "aggregator")
    if role not in ROLES:
        raise GenesisError(f"validator role must be one of {ROLES}, not {role!r}")
    key = bytes.fromhex(doc["public_key"])
    if len(key) != 32:
        raise GenesisError("validator public_key must be 32 bytes of hex")
    return Validator(doc["name"], key, int(doc["power"]), role)


def _contract(doc: dict) -> GenesisContract:
    if not isinstance(doc["name"], str) or not isinstance(doc["source"], str):
        raise GenesisError("a genesis contract needs a name and source text")
    return GenesisContract(doc["name"], doc["source"], _address(doc["deployer"], f"deployer of {doc['name']}"),
                           list(doc.get("init_args", [])))


def _call(doc: dict, names: list[str]) -> GenesisCall:
    if doc["contract"] not in names:
        raise GenesisError(f"genesis call to unknown contract {doc['contract']!r}")
    return GenesisCall(doc["contract"], doc["function"], _address(doc["caller"], "genesis call caller"),
                       list(doc.get("args", [])))
