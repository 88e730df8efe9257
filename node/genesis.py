"""The genesis file: chain id, start time, validators, chain parameters, the settlement token.

Example (JSON)::

    {"chain_id": "flexledger-dev", "genesis_time_ms": 1767225600000,
     "validators": [{"name": "dso", "public_key": "<hex>", "power": 10, "role": "dso"}],
     "params": {"block_gas_limit": 200000000},
     "token": {"issuer": "0x...", "allocations": {"0x...": 1000000000}}}

Token amounts are in micro-units (10^-6 token). The token contract is deployed at
``genesis_contract_address("token")``.
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
class Genesis:
    chain_id: str
    genesis_time_ms: int
    validators: ValidatorSet
    params: ChainParams
    token_issuer: str
    allocations: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "chain_id": self.chain_id, "genesis_time_ms": self.genesis_time_ms,
            "validators": [{"name": v.name, "public_key": v.public_key.hex(), "power": v.power, "role": v.role}
                           for v in self.validators.validators],
            "params": {name: getattr(self.params, name) for name in ChainParams.names()},
            "token": {"issuer": self.token_issuer, "allocations": dict(self.allocations)},
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
            token = doc["token"]
            issuer = token["issuer"]
            if not is_address(issuer):
                raise GenesisError(f"token.issuer is not an address: {issuer!r}")
            allocations = {}
            for address, amount in token.get("allocations", {}).items():
                if not is_address(address) or not isinstance(amount, int) or amount <= 0:
                    raise GenesisError(f"bad token allocation {address!r}: {amount!r}")
                allocations[address] = amount
            return cls(chain_id, int(doc["genesis_time_ms"]), validators,
                       ChainParams.from_json(doc.get("params", {})), issuer, allocations)
        except KeyError as exc:
            raise GenesisError(f"genesis is missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            if isinstance(exc, GenesisError):
                raise
            raise GenesisError(f"invalid genesis: {exc}") from None


def _validator(doc: dict) -> Validator:
    role = doc.get("role", "aggregator")
    if role not in ROLES:
        raise GenesisError(f"validator role must be one of {ROLES}, not {role!r}")
    key = bytes.fromhex(doc["public_key"])
    if len(key) != 32:
        raise GenesisError("validator public_key must be 32 bytes of hex")
    return Validator(doc["name"], key, int(doc["power"]), role)
