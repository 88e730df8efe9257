"""Signed transactions: chain id, sender public key, nonce, gas limit, payload, signature.

Payloads are one of:
- ``CallPayload(to, function, args)``: call a public function of a contract;
- ``DeployPayload(source, args)``: deploy contract source; ``init(*args)`` runs at deploy;
- ``GovernancePayload(action, params)``: a chain-governance action (see node/governance.py).

The signature covers the canonical encoding of every field but itself; the transaction
hash is SHA-256 of the whole signed encoding.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Union

from node.encoding import EncodingError, decode, encode, sha256
from node.keys import KeyPair, address_of, is_address, verify

TX_VERSION = 1
MAX_TX_BYTES = 1024 * 1024  # no transaction decodes above this; the chain's max_tx_bytes is at most this


class TxFormatError(ValueError):
    """The bytes are not a well-formed transaction."""


@dataclass(frozen=True)
class CallPayload:
    to: str
    function: str
    args: list = field(default_factory=list)
    KIND = "call"

    def to_list(self) -> list:
        return [self.KIND, self.to, self.function, list(self.args)]


@dataclass(frozen=True)
class DeployPayload:
    source: str
    args: list = field(default_factory=list)
    KIND = "deploy"

    def to_list(self) -> list:
        return [self.KIND, self.source, list(self.args)]


@dataclass(frozen=True)
class GovernancePayload:
    action: str
    params: dict = field(default_factory=dict)
    KIND = "governance"

    def to_list(self) -> list:
        return [self.KIND, self.action, dict(self.params)]


Payload = Union[CallPayload, DeployPayload, GovernancePayload]


def payload_from_list(raw: Any) -> Payload:
    if not isinstance(raw, list) or not raw:
        raise TxFormatError("payload must be a non-empty array")
    kind, rest = raw[0], raw[1:]
    if kind == CallPayload.KIND and len(rest) == 3:
        to, function, args = rest
        if not is_address(to) or not isinstance(function, str) or not isinstance(args, list):
            raise TxFormatError("call payload needs an address, a function name and an args array")
        return CallPayload(to, function, args)
    if kind == DeployPayload.KIND and len(rest) == 2:
        source, args = rest
        if not isinstance(source, str) or not isinstance(args, list):
            raise TxFormatError("deploy payload needs source text and an args array")
        return DeployPayload(source, args)
    if kind == GovernancePayload.KIND and len(rest) == 2:
        action, params = rest
        if not isinstance(action, str) or not isinstance(params, dict):
            raise TxFormatError("governance payload needs an action name and a params map")
        return GovernancePayload(action, params)
    raise TxFormatError(f"unknown payload kind {kind!r}")


def payload_to_json(payload: Payload) -> dict:
    if isinstance(payload, CallPayload):
        return {"kind": "call", "to": payload.to, "function": payload.function, "args": payload.args}
    if isinstance(payload, DeployPayload):
        return {"kind": "deploy", "source": payload.source, "args": payload.args}
    return {"kind": "governance", "action": payload.action, "params": payload.params}


@dataclass(frozen=True)
class Transaction:
    chain_id: str
    sender: bytes  # ed25519 public key, 32 bytes
    nonce: int
    gas_limit: int
    payload: Payload
    signature: bytes = b""

    def signing_bytes(self) -> bytes:
        return encode([TX_VERSION, self.chain_id, self.sender, self.nonce, self.gas_limit,
                       self.payload.to_list()])

    @cached_property
    def _encoded(self) -> bytes:
        return encode([TX_VERSION, self.chain_id, self.sender, self.nonce, self.gas_limit,
                       self.payload.to_list(), self.signature])

    def to_bytes(self) -> bytes:
        return self._encoded

    @cached_property
    def hash(self) -> bytes:
        return sha256(self._encoded)

    @cached_property
    def sender_address(self) -> str:
        return address_of(self.sender)

    def signature_valid(self) -> bool:
        return verify(self.sender, self.signing_bytes(), self.signature)

    def signed(self, key: KeyPair) -> "Transaction":
        unsigned = Transaction(self.chain_id, key.public_key, self.nonce, self.gas_limit, self.payload)
        return Transaction(unsigned.chain_id, unsigned.sender, unsigned.nonce, unsigned.gas_limit,
                           unsigned.payload, key.sign(unsigned.signing_bytes()))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Transaction":
        try:
            raw = decode(data, max_bytes=MAX_TX_BYTES)
        except EncodingError as exc:
            raise TxFormatError(str(exc)) from None
        if not isinstance(raw, list) or len(raw) != 7 or raw[0] != TX_VERSION:
            raise TxFormatError(f"a transaction is an array of 7 fields starting with version {TX_VERSION}")
        _, chain_id, sender, nonce, gas_limit, payload, signature = raw
        if not isinstance(chain_id, str) or not isinstance(sender, bytes) or len(sender) != 32:
            raise TxFormatError("chain id must be text and sender a 32-byte public key")
        if not _is_uint(nonce) or not _is_uint(gas_limit):
            raise TxFormatError("nonce and gas limit must be non-negative integers")
        if not isinstance(signature, bytes) or len(signature) != 64:
            raise TxFormatError("signature must be 64 bytes")
        tx = cls(chain_id, sender, nonce, gas_limit, payload_from_list(payload), signature)
        try:
            canonical = tx.to_bytes() == data
        except EncodingError as exc:  # e.g. a float: it decodes, but has no canonical encoding
            raise TxFormatError(str(exc)) from None
        if not canonical:
            raise TxFormatError("transaction is not canonically encoded")
        return tx

    def to_json(self) -> dict:
        return {"hash": self.hash.hex(), "chain_id": self.chain_id, "sender": self.sender_address,
                "public_key": self.sender.hex(), "nonce": self.nonce, "gas_limit": self.gas_limit,
                "payload": payload_to_json(self.payload), "signature": self.signature.hex()}


def _is_uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < (1 << 64)
