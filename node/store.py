"""LevelDB storage for one node (plyvel).

Everything a block changes — the block, its commit certificate, state writes, receipts, the
tx index and the per-address history index — is written in ONE synchronous write batch, so a
kill at any moment leaves either the whole block or none of it. Key prefixes:

    m:head               -> height of the last committed block (8 bytes, big-endian)
    b:<height>           -> block bytes            h:<hash>   -> height
    c:<height>           -> commit certificate of the block at that height
    r:<tx hash>          -> receipt bytes (includes height and index)
    x:<addr><height><i>  -> tx hash, for the history of an address
    s:<state key>        -> state value (see node/statekeys.py)

``snapshot()`` gives a ``StateSnapshot``: the state as of that moment, unaffected by blocks
written afterwards (a LevelDB snapshot), for reads on other threads.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import plyvel

from consensus.types import Commit
from node.block import Block
from node.encoding import decode, encode
from node.keys import address_bytes
from node.receipt import Receipt

HEAD = b"m:head"
STATE = b"s:"


def _h(height: int) -> bytes:
    return height.to_bytes(8, "big")


def _state_iter(source, start: bytes, stop: bytes | None) -> Iterator[tuple[bytes, bytes]]:
    """State entries of ``source`` (a plyvel DB or snapshot) with start <= key < stop, in key order."""
    db_stop = STATE + stop if stop is not None else b"s;"
    for key, value in source.iterator(start=STATE + start, stop=db_stop):
        yield key[len(STATE):], value


class StateSnapshot:
    """State entries as of one moment (a LevelDB snapshot); close it when done."""

    def __init__(self, snapshot):  # a plyvel Snapshot
        self._snapshot = snapshot

    def state_get(self, key: bytes) -> bytes | None:
        return self._snapshot.get(STATE + key)

    def state_iter(self, start: bytes = b"", stop: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        return _state_iter(self._snapshot, start, stop)

    def close(self) -> None:
        self._snapshot.close()


class ChainStore:
    def __init__(self, path: Path):
        Path(path).mkdir(parents=True, exist_ok=True)
        self.db = plyvel.DB(str(path), create_if_missing=True)

    def close(self) -> None:
        self.db.close()

    # -- reads -------------------------------------------------------------------------
    def head_height(self) -> int | None:
        raw = self.db.get(HEAD)
        return None if raw is None else int.from_bytes(raw, "big")

    def block(self, height: int) -> Block | None:
        raw = self.db.get(b"b:" + _h(height))
        return None if raw is None else Block.from_bytes(raw)

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        raw = self.db.get(b"h:" + block_hash)
        return None if raw is None else self.block(int.from_bytes(raw, "big"))

    def commit(self, height: int) -> Commit | None:
        raw = self.db.get(b"c:" + _h(height))
        return None if raw is None else Commit.from_list(decode(raw))

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        raw = self.db.get(b"r:" + tx_hash)
        return None if raw is None else Receipt.from_bytes(raw)

    def history(self, address: str, limit: int, before_height: int | None = None) -> list[bytes]:
        """Hashes of txs touching ``address``, newest first."""
        prefix = b"x:" + address_bytes(address)
        stop = prefix + (_h(before_height) if before_height is not None else b"\xff" * 8)
        out = []
        for _, tx_hash in self.db.iterator(start=prefix, stop=stop, reverse=True):
            out.append(tx_hash)
            if len(out) >= limit:
                break
        return out

    def state_get(self, key: bytes) -> bytes | None:
        return self.db.get(STATE + key)

    def state_iter(self, start: bytes = b"", stop: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """State entries with start <= key < stop, in key order (keys without the prefix)."""
        return _state_iter(self.db, start, stop)

    def snapshot(self) -> StateSnapshot:
        """The state as it is now, unaffected by later writes."""
        return StateSnapshot(self.db.snapshot())

    # -- the one write per block -------------------------------------------------------
    def write_block(self, block: Block, commit: Commit | None, receipts: list[Receipt],
                    state_writes: dict[bytes, bytes | None], touched: dict[bytes, list[str]]) -> None:
        height = _h(block.height)
        with self.db.write_batch(transaction=True, sync=True) as batch:
            batch.put(b"b:" + height, block.to_bytes())
            batch.put(b"h:" + block.hash, height)
            if commit is not None:
                batch.put(b"c:" + height, encode(commit.to_list()))
            for receipt in receipts:
                batch.put(b"r:" + receipt.tx_hash, receipt.to_bytes())
                for address in touched.get(receipt.tx_hash, ()):
                    batch.put(b"x:" + address_bytes(address) + height + receipt.index.to_bytes(4, "big"),
                              receipt.tx_hash)
            for key, value in state_writes.items():
                if value is None:
                    batch.delete(STATE + key)
                else:
                    batch.put(STATE + key, value)
            batch.put(HEAD, height)

    def write_commit(self, height: int, commit: Commit) -> None:
        """Store the commit certificate of an already stored block (it arrives one step later)."""
        self.db.put(b"c:" + _h(height), encode(commit.to_list()), sync=True)
