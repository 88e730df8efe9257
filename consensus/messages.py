"""Consensus messages: proposals, votes, timeouts and double-signing evidence.

Each message is a frozen dataclass that is always well-formed (the constructor raises
``ValueError`` otherwise) and has one canonical encoding: a msgpack array with a fixed field
order (``to_list``/``to_bytes``). ``from_bytes`` accepts only that canonical encoding and
raises ``ValueError`` on anything else; msgpack decodes nothing beyond the sizes a message
can have (MAX_MESSAGE_BYTES, MAX_TEXT_LEN, MAX_FIELDS). Proposals and votes are signed over
the sign bytes in ``consensus.types``. The engine's actions are re-exported from here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import msgpack

from consensus.actions import Action, Broadcast, BuildBlock, CheckBlock, Decide, EvidenceFound, ScheduleTimeout
from consensus.types import PRECOMMIT, ValidatorSet, proposal_sign_bytes, verify_signature, vote_sign_bytes

__all__ = ["PREVOTE", "PRECOMMIT", "VOTE_TYPES", "NIL", "STEP_NEW_HEIGHT", "STEP_PROPOSE", "STEP_PREVOTE",
           "STEP_PRECOMMIT", "Signer", "Proposal", "Vote", "Timeout", "DuplicateVoteEvidence", "Action",
           "Broadcast", "BuildBlock", "CheckBlock", "Decide", "EvidenceFound", "ScheduleTimeout"]

PREVOTE = 1
VOTE_TYPES = (PREVOTE, PRECOMMIT)
NIL = b""  # the block hash of a nil vote
STEP_NEW_HEIGHT = -1  # waiting TimeoutConfig.commit before round 0 of a new height
STEP_PROPOSE, STEP_PREVOTE, STEP_PRECOMMIT = 0, 1, 2
STEPS = (STEP_NEW_HEIGHT, STEP_PROPOSE, STEP_PREVOTE, STEP_PRECOMMIT)
HASH_SIZE = 32
SIGNATURE_SIZE = 64
ADDRESS_RE = re.compile(r"0x[0-9a-f]{40}")  # fullmatch: "$" would accept a trailing newline
MAX_MESSAGE_BYTES = 32 * 1024 * 1024  # a proposal carries its block; p2p frames are at most 16 MiB
MAX_TEXT_LEN = 64  # the only text fields are addresses (42 characters)
MAX_FIELDS = 7  # the longest message, a proposal, has 7 fields


class SignatureRefused(Exception):
    """A signer's refusal to sign one message. The engine then sends nothing for that step and
    goes on, as CometBFT's consensus does when its private validator refuses: a validator that
    skips one step is only a slow one to the others."""


class Signer(Protocol):
    address: str

    def sign(self, message: bytes) -> bytes:
        """The signature of ``message``; may raise SignatureRefused."""


def _int(name: str, value: object, minimum: int) -> None:
    if type(value) is not int or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, not {value!r}")


def _bytes(name: str, value: object, sizes: tuple[int, ...] | None = None) -> None:
    if type(value) is not bytes or (sizes is not None and len(value) not in sizes):
        raise ValueError(f"{name} must be bytes" + (f" of length {' or '.join(map(str, sizes))}" if sizes else ""))


def _address(name: str, value: object) -> None:
    if type(value) is not str or not ADDRESS_RE.fullmatch(value):
        raise ValueError(f"{name} must be an address (0x and 40 lowercase hex digits), not {value!r}")


def _fields(raw: object, count: int, what: str) -> list:
    if type(raw) is not list or len(raw) != count:
        raise ValueError(f"a {what} is a list of {count} fields")
    return raw


def _unpack(data: object) -> object:
    """The msgpack value of ``data``, within the sizes any message can have (no maps, no ext types)."""
    if type(data) is not bytes:
        raise ValueError("message bytes must be bytes")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ValueError(f"a message of {len(data)} bytes; the limit is {MAX_MESSAGE_BYTES}")
    try:
        return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True, max_bin_len=MAX_MESSAGE_BYTES,
                               max_str_len=MAX_TEXT_LEN, max_array_len=MAX_FIELDS, max_map_len=0, max_ext_len=0)
    except Exception as exc:  # msgpack raises many types on garbage; all mean "malformed"
        raise ValueError(f"malformed msgpack: {exc}") from None


class _Canonical:
    """Canonical msgpack bytes of a message, from its ``to_list``/``from_list``."""

    def to_bytes(self) -> bytes:
        return msgpack.packb(self.to_list(), use_bin_type=True)

    @classmethod
    def from_bytes(cls, data: bytes):
        message = cls.from_list(_unpack(data))
        if message.to_bytes() != data:
            raise ValueError(f"not the canonical encoding of a {cls.__name__}")
        return message


@dataclass(frozen=True)
class Proposal(_Canonical):
    height: int
    round: int
    block_hash: bytes
    pol_round: int  # -1 if none; else the round of the prevotes that justify re-proposing
    block: bytes
    proposer: str
    signature: bytes

    def __post_init__(self) -> None:
        _int("height", self.height, 0)
        _int("round", self.round, 0)
        _bytes("block_hash", self.block_hash, (HASH_SIZE,))
        _int("pol_round", self.pol_round, -1)
        if self.pol_round >= self.round:
            raise ValueError(f"pol_round {self.pol_round} must be below the round {self.round}")
        _bytes("block", self.block)
        _address("proposer", self.proposer)
        _bytes("signature", self.signature, (SIGNATURE_SIZE,))

    @classmethod
    def signed(cls, chain_id: str, signer: Signer, height: int, round_: int, block_hash: bytes, pol_round: int,
               block: bytes) -> "Proposal":
        signature = signer.sign(proposal_sign_bytes(chain_id, height, round_, block_hash, pol_round))
        return cls(height, round_, block_hash, pol_round, block, signer.address, signature)

    def sign_bytes(self, chain_id: str) -> bytes:
        return proposal_sign_bytes(chain_id, self.height, self.round, self.block_hash, self.pol_round)

    def verify_signature(self, chain_id: str, public_key: bytes) -> bool:
        return verify_signature(public_key, self.sign_bytes(chain_id), self.signature)

    def to_list(self) -> list:
        return [self.height, self.round, self.block_hash, self.pol_round, self.block, self.proposer, self.signature]

    @classmethod
    def from_list(cls, raw: list) -> "Proposal":
        return cls(*_fields(raw, 7, "proposal"))


@dataclass(frozen=True)
class Vote(_Canonical):
    type: int  # PREVOTE or PRECOMMIT
    height: int
    round: int
    block_hash: bytes  # NIL for a nil vote
    validator: str
    signature: bytes

    def __post_init__(self) -> None:
        if type(self.type) is not int or self.type not in VOTE_TYPES:
            raise ValueError(f"vote type must be PREVOTE ({PREVOTE}) or PRECOMMIT ({PRECOMMIT}), not {self.type!r}")
        _int("height", self.height, 0)
        _int("round", self.round, 0)
        _bytes("block_hash", self.block_hash, (0, HASH_SIZE))
        _address("validator", self.validator)
        _bytes("signature", self.signature, (SIGNATURE_SIZE,))

    @classmethod
    def signed(cls, chain_id: str, signer: Signer, vote_type: int, height: int, round_: int,
               block_hash: bytes) -> "Vote":
        signature = signer.sign(vote_sign_bytes(chain_id, vote_type, height, round_, block_hash))
        return cls(vote_type, height, round_, block_hash, signer.address, signature)

    def sign_bytes(self, chain_id: str) -> bytes:
        return vote_sign_bytes(chain_id, self.type, self.height, self.round, self.block_hash)

    def verify_signature(self, chain_id: str, public_key: bytes) -> bool:
        return verify_signature(public_key, self.sign_bytes(chain_id), self.signature)

    def verify(self, chain_id: str, validators: ValidatorSet) -> str | None:
        """None if a validator of ``validators`` signed this vote, else the reason."""
        validator = validators.by_address(self.validator)
        if validator is None:
            return f"{self.validator} is not a validator"
        if not self.verify_signature(chain_id, validator.public_key):
            return f"bad signature from {self.validator}"
        return None

    def to_list(self) -> list:
        return [self.type, self.height, self.round, self.block_hash, self.validator, self.signature]

    @classmethod
    def from_list(cls, raw: list) -> "Vote":
        return cls(*_fields(raw, 6, "vote"))


@dataclass(frozen=True)
class Timeout(_Canonical):
    height: int
    round: int
    step: int  # STEP_NEW_HEIGHT, STEP_PROPOSE, STEP_PREVOTE or STEP_PRECOMMIT

    def __post_init__(self) -> None:
        _int("height", self.height, 0)
        _int("round", self.round, 0)
        if type(self.step) is not int or self.step not in STEPS:
            raise ValueError(f"timeout step must be one of {STEPS}, not {self.step!r}")

    def to_list(self) -> list:
        return [self.height, self.round, self.step]

    @classmethod
    def from_list(cls, raw: list) -> "Timeout":
        return cls(*_fields(raw, 3, "timeout"))


@dataclass(frozen=True)
class DuplicateVoteEvidence(_Canonical):
    vote_a: Vote
    vote_b: Vote

    def __post_init__(self) -> None:
        if type(self.vote_a) is not Vote or type(self.vote_b) is not Vote:
            raise ValueError("evidence holds two votes")

    def verify(self, chain_id: str, validators: ValidatorSet) -> str | None:
        """None if this proves that a validator of ``validators`` signed two different votes
        for the same (type, height, round); else the reason it does not."""
        a, b = self.vote_a, self.vote_b
        if a.validator != b.validator:
            return "the votes are from different validators"
        if (a.type, a.height, a.round) != (b.type, b.height, b.round):
            return "the votes are for different (type, height, round)"
        if a.block_hash == b.block_hash:
            return "the votes are for the same block"
        return a.verify(chain_id, validators) or b.verify(chain_id, validators)

    def to_list(self) -> list:
        return [self.vote_a.to_list(), self.vote_b.to_list()]

    @classmethod
    def from_list(cls, raw: list) -> "DuplicateVoteEvidence":
        a, b = _fields(raw, 2, "duplicate vote evidence")
        return cls(Vote.from_list(a), Vote.from_list(b))
