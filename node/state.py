"""State access: the committed state (LevelDB + sparse Merkle tree) and write overlays.

``CommittedState`` reads committed values from the store and keeps the sparse Merkle tree
of the whole state in memory (rebuilt from LevelDB at start, then checked against the head
block's state root). A block's writes are *staged* into the tree to compute the new root,
then either committed with the block or discarded.

``StoredState`` reads stored values without the tree: over the store itself, or over a
``StateSnapshot`` of it (a query's consistent view of one head, read on another thread).

``Overlay`` layers uncommitted writes over a parent (the committed state or another
overlay): one overlay per block, one per transaction on top of it, so a failed transaction
is reverted by dropping its overlay.
"""
from __future__ import annotations

from typing import Iterator, Protocol

from node.smt import Proof, SparseMerkleTree
from node.store import ChainStore, StateSnapshot


def _scan_start(prefix: bytes, start_after: bytes | None) -> bytes | None:
    """``start_after`` if it lies inside or after the prefix range, else None (scan from the prefix)."""
    return start_after if start_after is not None and start_after >= prefix else None


def _after(prefix: bytes) -> bytes | None:
    """Smallest key greater than every key starting with ``prefix`` (None: no bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


class StateReader(Protocol):
    def get(self, key: bytes) -> bytes | None: ...
    def scan(self, prefix: bytes, start_after: bytes | None) -> Iterator[tuple[bytes, bytes]]: ...


class StoredState:
    """Stored state values, read from the store or from a snapshot of it."""

    def __init__(self, source: ChainStore | StateSnapshot):
        self.source = source

    def get(self, key: bytes) -> bytes | None:
        return self.source.state_get(key)

    def scan(self, prefix: bytes, start_after: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        start_after = _scan_start(prefix, start_after)
        start = start_after + b"\x00" if start_after is not None else prefix
        yield from self.source.state_iter(start, _after(prefix))


class CommittedState(StoredState):
    def __init__(self, store: ChainStore):
        super().__init__(store)
        self.tree = SparseMerkleTree.from_items(store.state_iter())
        self._undo: dict[bytes, bytes | None] | None = None
        self._redo: dict[bytes, bytes | None] = {}

    def root(self) -> bytes:
        return self.tree.root()

    def prove(self, key: bytes) -> tuple[bytes | None, Proof]:
        """The committed value of ``key`` and its proof against the committed root.

        If a block is staged (executed, awaiting its decision), the tree is stepped back to
        the committed state for the proof and forward again afterwards.
        """
        if self._undo is None:
            return self.get(key), self.tree.prove(key)
        self.tree.update(self._undo)
        try:
            return self.get(key), self.tree.prove(key)
        finally:
            self.tree.update(self._redo)

    def stage(self, writes: dict[bytes, bytes | None]) -> bytes:
        """Apply ``writes`` to the tree and return the resulting root; undo with ``discard``."""
        if self._undo is not None:
            raise RuntimeError("a block is already staged")
        self._undo = {key: self.get(key) for key in writes}
        self._redo = dict(writes)
        self.tree.update(writes)
        return self.tree.root()

    def commit_staged(self) -> None:
        """The staged writes are now in the store; forget how to undo them."""
        self._undo, self._redo = None, {}

    def discard(self) -> None:
        if self._undo is not None:
            self.tree.update(self._undo)
            self._undo, self._redo = None, {}


class Overlay:
    """Uncommitted writes over a parent state. ``None`` marks a deletion."""

    def __init__(self, parent: StateReader):
        self.parent = parent
        self.writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self.parent.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        self.writes[key] = value

    def delete(self, key: bytes) -> None:
        self.writes[key] = None

    def merge_into_parent(self) -> None:
        """Move these writes into the parent overlay (a transaction succeeded)."""
        assert isinstance(self.parent, Overlay)
        self.parent.writes.update(self.writes)
        self.writes = {}

    def scan(self, prefix: bytes, start_after: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Entries under ``prefix`` after ``start_after``, in key order, with these writes applied."""
        start_after = _scan_start(prefix, start_after)
        mine = sorted((k, v) for k, v in self.writes.items()
                      if k.startswith(prefix) and (start_after is None or k > start_after))
        below = self.parent.scan(prefix, start_after)
        i = 0
        for key, value in below:
            while i < len(mine) and mine[i][0] < key:
                if mine[i][1] is not None:
                    yield mine[i]
                i += 1
            if i < len(mine) and mine[i][0] == key:
                if mine[i][1] is not None:
                    yield mine[i]
                i += 1
                continue
            yield key, value
        for key, value in mine[i:]:
            if value is not None:
                yield key, value
