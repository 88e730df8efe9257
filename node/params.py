"""Chain parameters: gas and size limits that every validator must agree on.

They are set in the genesis file, stored in state (so the state root commits to them) and
can be changed by a governance ``set_param`` action.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from node.encoding import decode, encode
from node.tx import MAX_TX_BYTES


@dataclass(frozen=True)
class ChainParams:
    block_gas_limit: int = 200_000_000
    max_tx_gas: int = 50_000_000
    max_tx_bytes: int = 128 * 1024
    max_block_txs: int = 5_000
    tx_base_gas: int = 1_000
    tx_byte_gas: int = 10
    deploy_byte_gas: int = 100
    max_value_bytes: int = 64 * 1024
    max_clock_drift_ms: int = 10_000

    def intrinsic_gas(self, tx_size: int, source_size: int = 0) -> int:
        """Gas charged before any code runs: a base, per tx byte, and per deployed source byte."""
        return self.tx_base_gas + self.tx_byte_gas * tx_size + self.deploy_byte_gas * source_size

    def with_value(self, name: str, value: int) -> "ChainParams":
        if name not in self.names():
            raise ValueError(f"unknown chain parameter {name!r} (known: {', '.join(self.names())})")
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"chain parameter {name} must be a positive integer")
        if name == "max_tx_bytes" and value > MAX_TX_BYTES:
            raise ValueError(f"max_tx_bytes may be at most {MAX_TX_BYTES} (what any node decodes)")
        return ChainParams(**{**asdict(self), name: value})

    @staticmethod
    def names() -> list[str]:
        return [f.name for f in fields(ChainParams)]

    def to_bytes(self) -> bytes:
        return encode([getattr(self, name) for name in self.names()])

    @classmethod
    def from_bytes(cls, data: bytes) -> "ChainParams":
        return cls(*decode(data))

    @classmethod
    def from_json(cls, doc: dict) -> "ChainParams":
        params = cls()
        for name, value in doc.items():
            params = params.with_value(name, value)
        return params
