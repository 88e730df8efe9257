"""Compressed binary sparse Merkle tree: FlexLedger's state commitment.

Definition (this hashing is the spec):

- Each state entry is (key: bytes, value: bytes). Its path is ``kh = sha256(key)``
  (256 bits, most significant bit of byte 0 first: bit 0 picks left(0)/right(1)
  at the root). ``vh = sha256(value)``.
- Hash of a subtree at some prefix: EMPTY = 32 zero bytes if it holds no entries;
  if it holds exactly one entry, the leaf hash ``sha256(b"\\x00" + kh + vh)``
  (no matter at which depth -- single-leaf subtrees are collapsed); otherwise
  ``sha256(b"\\x01" + hash(left child) + hash(right child))``.
- Thus the root depends only on the set of entries, not on insertion order.

A proof for a key lists the sibling hashes from the root down to the depth where
the search along ``kh`` ended, plus the (kh, vh) of the leaf found there (or None
if the path ends in EMPTY). It proves inclusion when that leaf has the key's kh
and the value's vh, and non-inclusion when the path ends in EMPTY or in a leaf
with a different kh.

In memory the tree keeps only kh/vh (never raw values) in canonical form: every
branch holds at least two entries, so its depth is about log2(n). Updates mark
the branches on their path dirty; ``root()`` rehashes dirty branches only.
"""

from __future__ import annotations

import gc
import hashlib
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

EMPTY = bytes(32)
KEY_BITS = 256


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _bit(kh: bytes, depth: int) -> int:
    return (kh[depth >> 3] >> (7 - (depth & 7))) & 1


def _leaf_hash(kh: bytes, vh: bytes) -> bytes:
    return _sha256(b"\x00" + kh + vh)


def _branch_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right)


class _Leaf:
    __slots__ = ("kh", "vh", "hash")

    def __init__(self, kh: bytes, vh: bytes) -> None:
        self.kh = kh
        self.vh = vh
        self.hash = _leaf_hash(kh, vh)


class _Branch:
    """Subtree with at least two entries; ``hash`` is None while dirty."""

    __slots__ = ("kids", "hash")

    def __init__(self, left: _Node, right: _Node) -> None:
        self.kids = [left, right]
        self.hash: bytes | None = None


_Node = _Leaf | _Branch | None
_Path = list[tuple[_Branch, int]]  # (branch, bit taken) from the root down


def _node_hash(node: _Node) -> bytes:
    if node is None:
        return EMPTY
    if node.hash is None:  # only branches are ever dirty
        node.hash = _branch_hash(_node_hash(node.kids[0]), _node_hash(node.kids[1]))
    return node.hash


def _split(old: _Leaf, new: _Leaf, depth: int) -> _Branch:
    """Subtree at ``depth`` holding two leaves whose kh differ (and share the first ``depth`` bits)."""
    diverge = depth
    while _bit(old.kh, diverge) == _bit(new.kh, diverge):
        diverge += 1
    node = _Branch(new, old) if _bit(new.kh, diverge) == 0 else _Branch(old, new)
    for d in range(diverge - 1, depth - 1, -1):
        node = _Branch(node, None) if _bit(new.kh, d) == 0 else _Branch(None, node)
    return node


def _build(entries: list[tuple[bytes, bytes]], khs: list[bytes], lo: int, hi: int, depth: int) -> _Node:
    """Subtree for the sorted, distinct ``entries[lo:hi]``, which share their first ``depth`` bits."""
    if lo == hi:
        return None
    if hi - lo == 1:
        return _Leaf(*entries[lo])
    shift = KEY_BITS - 1 - depth
    pivot = (((int.from_bytes(khs[lo], "big") >> shift) | 1) << shift).to_bytes(32, "big")
    mid = bisect_left(khs, pivot, lo, hi)  # first entry whose bit `depth` is 1
    return _Branch(_build(entries, khs, lo, mid, depth + 1), _build(entries, khs, mid, hi, depth + 1))


class SparseMerkleTree:
    """The state tree; see the module docstring for the hashing."""

    def __init__(self) -> None:
        self._root: _Node = None
        self._len = 0

    @classmethod
    def from_items(cls, items: Iterable[tuple[bytes, bytes]]) -> SparseMerkleTree:
        """Bulk build; for a repeated key the last value wins."""
        # The build allocates ~2 objects per entry and no reference cycles; the cyclic GC would
        # rescan the growing heap many times over (2-3x the build time at 100k-1M entries).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            by_kh = {_sha256(key): _sha256(value) for key, value in items}
            entries = sorted(by_kh.items())
            tree = cls()
            tree._root = _build(entries, [kh for kh, _ in entries], 0, len(entries), 0)
            tree._len = len(entries)
        finally:
            if gc_was_enabled:
                gc.enable()
        return tree

    def __len__(self) -> int:
        return self._len

    def root(self) -> bytes:
        return _node_hash(self._root)

    def set(self, key: bytes, value: bytes) -> None:
        kh = _sha256(key)
        vh = _sha256(value)
        path, node = self._descend(kh)
        if node is None:
            new: _Node = _Leaf(kh, vh)
            self._len += 1
        elif node.kh != kh:
            new = _split(node, _Leaf(kh, vh), len(path))
            self._len += 1
        elif node.vh != vh:
            new = _Leaf(kh, vh)
        else:
            return
        self._replace(path, new)

    def delete(self, key: bytes) -> None:
        kh = _sha256(key)
        path, node = self._descend(kh)
        if node is None or node.kh != kh:
            return
        self._len -= 1
        # Collapse upward every branch that is left holding a single leaf.
        new: _Node = None
        while path:
            branch, bit = path[-1]
            other = branch.kids[1 - bit]
            if new is None and isinstance(other, _Leaf):
                new = other
            elif not (other is None and isinstance(new, _Leaf)):
                break
            path.pop()
        self._replace(path, new)

    def update(self, changes: Mapping[bytes, bytes | None]) -> None:
        """Apply many changes (None = delete); hashes are recomputed once, by the next ``root()``."""
        for key, value in changes.items():
            if value is None:
                self.delete(key)
            else:
                self.set(key, value)

    def prove(self, key: bytes) -> Proof:
        kh = _sha256(key)
        self.root()
        path, node = self._descend(kh)
        siblings = tuple(_node_hash(branch.kids[1 - bit]) for branch, bit in path)
        return Proof(siblings, None if node is None else (node.kh, node.vh))

    def _descend(self, kh: bytes) -> tuple[_Path, _Leaf | None]:
        """Follow ``kh`` from the root to the first leaf or empty slot."""
        path: _Path = []
        node = self._root
        while isinstance(node, _Branch):
            bit = _bit(kh, len(path))
            path.append((node, bit))
            node = node.kids[bit]
        return path, node

    def _replace(self, path: _Path, new: _Node) -> None:
        """Put ``new`` in the slot at the end of ``path`` and mark the path dirty."""
        if path:
            branch, bit = path[-1]
            branch.kids[bit] = new
        else:
            self._root = new
        for branch, _ in path:
            branch.hash = None


@dataclass(frozen=True)
class Proof:
    siblings: tuple[bytes, ...]  # sibling hashes from the root down to where the search ended
    leaf: tuple[bytes, bytes] | None  # (kh, vh) of the leaf found there, None if the path ends in EMPTY

    def to_dict(self) -> dict:
        return {
            "siblings": [s.hex() for s in self.siblings],
            "leaf": None if self.leaf is None else [h.hex() for h in self.leaf],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Proof:
        """Inverse of ``to_dict``; raises ValueError on malformed input."""
        siblings = tuple(_hash_from_hex(s) for s in d["siblings"])
        leaf = d["leaf"]
        if leaf is not None:
            kh, vh = leaf
            leaf = (_hash_from_hex(kh), _hash_from_hex(vh))
        return cls(siblings, leaf)


def _hash_from_hex(s: str) -> bytes:
    h = bytes.fromhex(s)
    if len(h) != 32:
        raise ValueError(f"expected a 32-byte hash, got {len(h)} bytes")
    return h


def verify_proof(root: bytes, key: bytes, value: bytes | None, proof: Proof) -> bool:
    """Check inclusion of (key, value) under ``root``, or non-inclusion of ``key`` if value is None.

    The leaf needs no separate position check: leaf and branch hashes are domain-separated and
    EMPTY is not a hash output, so matching ``root`` pins the proof to the real node at kh's
    path position, and the canonical tree only puts a leaf where its kh has that prefix.
    """
    kh = _sha256(key)
    depth = len(proof.siblings)
    if depth > KEY_BITS:
        return False
    if proof.leaf is None:
        if value is not None:
            return False
        node = EMPTY
    else:
        leaf_kh, leaf_vh = proof.leaf
        if value is None:
            if leaf_kh == kh:
                return False
        elif leaf_kh != kh or leaf_vh != _sha256(value):
            return False
        node = _leaf_hash(leaf_kh, leaf_vh)
    for d in range(depth - 1, -1, -1):
        sibling = proof.siblings[d]
        node = _branch_hash(sibling, node) if _bit(kh, d) else _branch_hash(node, sibling)
    return node == root
