"""Blocks: a header, the transactions, and the commit certificate of the previous block.

The header commits to the chain id, height, proposer timestamp (milliseconds), previous
block hash, Merkle root of transaction hashes, state root and receipts root after executing
this block, the validator set hash, and the proposer address. The block hash is SHA-256 of
the canonical header encoding.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from consensus.types import Commit
from node.encoding import EncodingError, decode, encode, merkle_root, sha256
from node.keys import is_address
from node.tx import Transaction, TxFormatError

ZERO_HASH = b"\x00" * 32

KnownTxs = Callable[[bytes], "Transaction | None"]  # tx hash -> an already decoded transaction, if any


class BlockFormatError(ValueError):
    """The bytes are not a well-formed block."""


@dataclass(frozen=True)
class Header:
    chain_id: str
    height: int
    timestamp_ms: int
    prev_hash: bytes
    tx_root: bytes
    state_root: bytes
    receipts_root: bytes
    validators_hash: bytes
    proposer: str

    def to_list(self) -> list:
        return [self.chain_id, self.height, self.timestamp_ms, self.prev_hash, self.tx_root,
                self.state_root, self.receipts_root, self.validators_hash, self.proposer]

    @property
    def hash(self) -> bytes:
        return sha256(encode(self.to_list()))

    def to_json(self) -> dict:
        return {"chain_id": self.chain_id, "height": self.height, "timestamp_ms": self.timestamp_ms,
                "prev_hash": self.prev_hash.hex(), "tx_root": self.tx_root.hex(),
                "state_root": self.state_root.hex(), "receipts_root": self.receipts_root.hex(),
                "validators_hash": self.validators_hash.hex(), "proposer": self.proposer}


@dataclass(frozen=True)
class Block:
    header: Header
    txs: tuple[Transaction, ...]
    last_commit: Commit | None  # None only for genesis and the block right after it

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def height(self) -> int:
        return self.header.height

    def with_header(self, **changes) -> "Block":
        return replace(self, header=replace(self.header, **changes))

    def to_bytes(self) -> bytes:
        return encode([self.header.to_list(), [tx.to_bytes() for tx in self.txs],
                       self.last_commit.to_list() if self.last_commit else None])

    @classmethod
    def from_bytes(cls, data: bytes, known: KnownTxs | None = None) -> "Block":
        """Decode a block; ``known(tx_hash)`` may supply transactions already decoded (the mempool's)."""
        try:
            raw = decode(data)
            if type(raw) is not list or len(raw) != 3 or type(raw[1]) is not list:
                raise BlockFormatError("a block is an array of header, transactions and commit")
            header, txs, commit = raw
            return cls(_header(header), tuple(_transaction(t, known) for t in txs),
                       commit_from_list(commit) if commit is not None else None)
        except (EncodingError, TxFormatError, BlockFormatError) as exc:
            raise BlockFormatError(f"malformed block: {exc}") from None

    def to_json(self, with_txs: bool = True) -> dict:
        doc = {"hash": self.hash.hex(), "header": self.header.to_json(), "tx_count": len(self.txs),
               "last_commit": self.last_commit.to_json() if self.last_commit else None}
        doc["txs"] = [tx.to_json() for tx in self.txs] if with_txs else [tx.hash.hex() for tx in self.txs]
        return doc


def _is_uint(value: object) -> bool:
    return type(value) is int and 0 <= value < 1 << 64


def _is_hash(value: object) -> bool:
    return type(value) is bytes and len(value) == 32


def _header(raw: object) -> Header:
    """A header from its decoded list, every field of its type (peers send anything)."""
    if type(raw) is not list or len(raw) != 9:
        raise BlockFormatError("a header is an array of 9 fields")
    chain_id, height, timestamp_ms, *hashes, proposer = raw
    if type(chain_id) is not str or not _is_uint(height) or not _is_uint(timestamp_ms) \
            or not all(map(_is_hash, hashes)) or not (is_address(proposer) or proposer == "" and height == 0):
        raise BlockFormatError("header fields: chain id, height, timestamp, five 32-byte hashes, proposer address "
                               "(none for the genesis block)")
    return Header(*raw)


def commit_from_list(raw: object) -> Commit:
    """A commit certificate from its decoded list, every field of its type (peers send anything)."""
    if type(raw) is not list or len(raw) != 4 or type(raw[3]) is not list:
        raise BlockFormatError("a commit is an array of height, round, block hash and signatures")
    height, round_, block_hash, signatures = raw
    if not _is_uint(height) or not _is_uint(round_) or not _is_hash(block_hash) or not all(
            type(s) is list and len(s) == 2 and is_address(s[0]) and type(s[1]) is bytes for s in signatures):
        raise BlockFormatError("commit fields: height, round, 32-byte block hash, [address, signature] pairs")
    return Commit.from_list(raw)


def _transaction(data: bytes, known: KnownTxs) -> Transaction:
    """The transaction encoded by ``data``: a known one with exactly these bytes, else decoded and checked."""
    tx = known(sha256(data)) if known is not None and isinstance(data, bytes) else None
    return tx if tx is not None and tx.to_bytes() == data else Transaction.from_bytes(data)


def tx_root(txs: tuple[Transaction, ...] | list[Transaction]) -> bytes:
    return merkle_root([tx.hash for tx in txs])
