"""Shared consensus types: validators, validator sets, votes and commit certificates.

These types are pure data plus signature checks; the node and the consensus engine both use
them. Sign bytes are canonical msgpack arrays in a fixed field order.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgpack
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

PRECOMMIT = 2
ROLES = ("dso", "aggregator")


def address_of(public_key: bytes) -> str:
    """``0x`` + hex of the first 20 bytes of SHA-256 of an ed25519 public key."""
    return "0x" + hashlib.sha256(public_key).digest()[:20].hex()


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True if ``signature`` is a valid ed25519 signature of ``message`` by ``public_key``."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    try:
        VerifyKey(public_key).verify(message, signature)
        return True
    except (BadSignatureError, ValueError):
        return False


@dataclass(frozen=True)
class Validator:
    name: str
    public_key: bytes
    power: int
    role: str

    @property
    def address(self) -> str:
        return address_of(self.public_key)

    def to_list(self) -> list:
        return [self.name, self.public_key, self.power, self.role]

    @classmethod
    def from_list(cls, raw: list) -> "Validator":
        return cls(raw[0], raw[1], raw[2], raw[3])

    def to_json(self) -> dict:
        return {"name": self.name, "address": self.address, "public_key": self.public_key.hex(),
                "power": self.power, "role": self.role}


@dataclass(frozen=True)
class ValidatorSet:
    validators: tuple[Validator, ...]

    def __post_init__(self) -> None:
        if not self.validators:
            raise ValueError("a validator set needs at least one validator")
        if any(v.power <= 0 for v in self.validators):
            raise ValueError("voting power must be positive")
        if len({v.public_key for v in self.validators}) != len(self.validators):
            raise ValueError("duplicate validator key")

    @property
    def total_power(self) -> int:
        return sum(v.power for v in self.validators)

    def quorum(self) -> int:
        """Smallest voting power that is more than 2/3 of the total."""
        return self.total_power * 2 // 3 + 1

    def by_address(self, address: str) -> Validator | None:
        return next((v for v in self.validators if v.address == address), None)

    def hash(self) -> bytes:
        return hashlib.sha256(msgpack.packb([v.to_list() for v in self.validators], use_bin_type=True)).digest()

    def to_list(self) -> list:
        return [v.to_list() for v in self.validators]

    @classmethod
    def from_list(cls, raw: list) -> "ValidatorSet":
        return cls(tuple(Validator.from_list(v) for v in raw))


def vote_sign_bytes(chain_id: str, vote_type: int, height: int, round_: int, block_hash: bytes) -> bytes:
    return msgpack.packb(["vote", chain_id, vote_type, height, round_, block_hash], use_bin_type=True)


@dataclass(frozen=True)
class CommitSignature:
    validator: str  # address
    signature: bytes

    def to_list(self) -> list:
        return [self.validator, self.signature]


@dataclass(frozen=True)
class Commit:
    """Precommit signatures of more than 2/3 of the voting power for one block."""

    height: int
    round: int
    block_hash: bytes
    signatures: tuple[CommitSignature, ...]

    def to_list(self) -> list:
        return [self.height, self.round, self.block_hash, [s.to_list() for s in self.signatures]]

    @classmethod
    def from_list(cls, raw: list) -> "Commit":
        return cls(raw[0], raw[1], raw[2], tuple(CommitSignature(a, s) for a, s in raw[3]))

    def to_json(self) -> dict:
        return {"height": self.height, "round": self.round, "block_hash": self.block_hash.hex(),
                "signatures": [{"validator": s.validator, "signature": s.signature.hex()} for s in self.signatures]}

    def verify(self, chain_id: str, validators: ValidatorSet) -> str | None:
        """None if this is a valid commit certificate for ``validators``, else the reason."""
        message = vote_sign_bytes(chain_id, PRECOMMIT, self.height, self.round, self.block_hash)
        seen: set[str] = set()
        power = 0
        for sig in self.signatures:
            validator = validators.by_address(sig.validator)
            if validator is None:
                return f"signature from {sig.validator}, not a validator"
            if sig.validator in seen:
                return f"two signatures from {sig.validator}"
            if not verify_signature(validator.public_key, message, sig.signature):
                return f"bad signature from {sig.validator}"
            seen.add(sig.validator)
            power += validator.power
        if power < validators.quorum():
            return f"signatures carry {power} of {validators.total_power} voting power, need {validators.quorum()}"
        return None


def proposal_sign_bytes(chain_id: str, height: int, round_: int, block_hash: bytes, pol_round: int) -> bytes:
    """What a proposer signs: the block hash and proof-of-lock round it proposes at (height, round)."""
    return msgpack.packb(["proposal", chain_id, height, round_, block_hash, pol_round], use_bin_type=True)
