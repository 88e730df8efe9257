"""Transaction receipts: outcome, gas used, events, error, and where the tx was included."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from node.encoding import decode, encode, merkle_root
from node.jsonvalues import to_json_value

STATUS_OK = "ok"
STATUS_FAILED = "failed"


@dataclass(frozen=True)
class Event:
    contract: str
    name: str
    data: dict

    def to_list(self) -> list:
        return [self.contract, self.name, self.data]


@dataclass(frozen=True)
class Receipt:
    tx_hash: bytes
    status: str
    gas_used: int
    events: tuple[Event, ...] = ()
    error_code: str = ""
    error: str = ""
    result: Any = None
    height: int = 0
    index: int = 0
    contract_address: str = ""  # set for deploys

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def to_list(self) -> list:
        return [self.tx_hash, self.status, self.gas_used, [e.to_list() for e in self.events],
                self.error_code, self.error, self.result, self.height, self.index, self.contract_address]

    @cached_property
    def _encoded(self) -> bytes:
        return encode(self.to_list())

    def to_bytes(self) -> bytes:
        """The canonical encoding (computed once: the receipts root and the store both need it)."""
        return self._encoded

    @classmethod
    def from_bytes(cls, data: bytes) -> "Receipt":
        raw = decode(data)
        return cls(raw[0], raw[1], raw[2], tuple(Event(*e) for e in raw[3]), *raw[4:])

    def to_json(self) -> dict:
        return {"tx_hash": self.tx_hash.hex(), "status": self.status, "gas_used": self.gas_used,
                "events": [{"contract": e.contract, "name": e.name, "data": to_json_value(e.data)} for e in self.events],
                "error_code": self.error_code, "error": self.error, "result": to_json_value(self.result),
                "height": self.height, "index": self.index, "contract_address": self.contract_address}


def receipts_root(receipts: list[Receipt]) -> bytes:
    return merkle_root([r.to_bytes() for r in receipts])
