"""Inclusion proofs for the binary Merkle root of node/encoding.py (``merkle_root``).

A block header commits to its transactions (``tx_root``, leaves = tx hashes) and receipts
(``receipts_root``, leaves = receipt encodings) with that root: leaf hash ``sha256(0x00 +
leaf)``, node hash ``sha256(0x01 + left + right)``, and an odd last node promoted unchanged
to the next level. The proof of leaf ``index`` of ``count`` is the list of sibling hashes
from the leaves up, with no entry for a level where the node is promoted; the positions
follow from (index, count), so the proof carries no directions.
"""
from __future__ import annotations

from node.encoding import sha256


def _next_level(level: list[bytes]) -> list[bytes]:
    paired = [sha256(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
    return paired + level[-1:] if len(level) % 2 else paired


def merkle_path(leaves: list[bytes], index: int) -> list[bytes]:
    """The sibling hashes proving ``leaves[index]`` under ``merkle_root(leaves)``."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} of {len(leaves)}")
    level = [sha256(b"\x00" + leaf) for leaf in leaves]
    path = []
    while len(level) > 1:
        if index ^ 1 < len(level):
            path.append(level[index ^ 1])
        level = _next_level(level)
        index //= 2
    return path


def root_from_path(leaf: bytes, index: int, count: int, path: list[bytes]) -> bytes | None:
    """The root that ``path`` leads to from ``leaf`` at ``index`` of ``count``; None if the
    path has the wrong length for that position."""
    if not 0 <= index < count:
        return None
    node, width, siblings = sha256(b"\x00" + leaf), count, iter(path)
    while width > 1:
        if index ^ 1 < width:
            sibling = next(siblings, None)
            if sibling is None:
                return None
            node = sha256(b"\x01" + sibling + node) if index & 1 else sha256(b"\x01" + node + sibling)
        index //= 2
        width = (width + 1) // 2
    return node if next(siblings, None) is None else None
