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
            header, txs, commit = decode(data)
            return cls(Header(*header), tuple(_transaction(t, known) for t in txs),
                       Commit.from_list(commit) if commit is not None else None)
        except (EncodingError, TxFormatError, TypeError, ValueError) as exc:
            raise BlockFormatError(f"malformed block: {exc}") from None

    def to_json(self, with_txs: bool = True) -> dict:
        doc = {"hash": self.hash.hex(), "header": self.header.to_json(), "tx_count": len(self.txs),
               "last_commit": self.last_commit.to_json() if self.last_commit else None}
        doc["txs"] = [tx.to_json() for tx in self.txs] if with_txs else [tx.hash.hex() for tx in self.txs]
        return doc


def _transaction(data: bytes, known: KnownTxs) -> Transaction:
    """The transaction encoded by ``data``: a known one with exactly these bytes, else decoded and checked."""
    tx = known(sha256(data)) if known is not None and isinstance(data, bytes) else None
    return tx if tx is not None and tx.to_bytes() == data else Transaction.from_bytes(data)


def tx_root(txs: tuple[Transaction, ...] | list[Transaction]) -> bytes:
    return merkle_root([tx.hash for tx in txs])
