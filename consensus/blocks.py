"""Proposed blocks of one height and the app's verdicts on them.

The engine asks the app to check each distinct block hash once and remembers the answer.
The block bytes are not covered by the proposer's signature, so a faulty proposer could
pair an honest block's hash with other bytes: when the app rejects the bytes it was given
for a hash, other bytes seen for that hash are checked in turn, and bytes rejected once are
never checked again. Only one check per hash is outstanding at a time, so an answer always
refers to the bytes last sent.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from consensus.actions import CheckBlock


@dataclass
class _Block:
    round: int
    block: bytes
    valid: bool | None = None  # None while the app is checking
    waiting: list[tuple[int, bytes]] = field(default_factory=list)  # other (round, bytes) for this hash
    rejected: set[bytes] = field(default_factory=set)  # SHA-256 of bytes the app rejected


class BlockChecks:
    def __init__(self, height: int):
        self.height = height
        self._blocks: dict[bytes, _Block] = {}

    def offer(self, round_: int, block_hash: bytes, block: bytes) -> CheckBlock | None:
        """Bytes from a proposal; the check to ask the app for, if one is needed now."""
        entry = self._blocks.get(block_hash)
        if entry is None:
            self._blocks[block_hash] = _Block(round_, block)
            return CheckBlock(self.height, round_, block_hash, block)
        if entry.valid or block == entry.block or any(block == b for _, b in entry.waiting):
            return None
        if hashlib.sha256(block).digest() in entry.rejected:
            return None
        if entry.valid is None:
            entry.waiting.append((round_, block))
            return None
        entry.round, entry.block, entry.valid = round_, block, None
        return CheckBlock(self.height, round_, block_hash, block)

    def answer(self, block_hash: bytes, valid: bool) -> CheckBlock | None:
        """The app's verdict on the bytes last sent for ``block_hash``; the next check, if any."""
        entry = self._blocks.get(block_hash)
        if entry is None or entry.valid is not None:
            return None
        if valid:
            entry.valid = True
            entry.waiting.clear()
            return None
        entry.rejected.add(hashlib.sha256(entry.block).digest())
        if not entry.waiting:
            entry.valid = False
            return None
        entry.round, entry.block = entry.waiting.pop(0)
        return CheckBlock(self.height, entry.round, block_hash, entry.block)

    def add_valid(self, block_hash: bytes, block: bytes, round_: int) -> None:
        """A block this node built: valid without asking."""
        self._blocks[block_hash] = _Block(round_, block, True)

    def verdict(self, block_hash: bytes) -> bool | None:
        """True (valid), False (invalid) or None (unknown or being checked)."""
        entry = self._blocks.get(block_hash)
        return None if entry is None else entry.valid

    def valid_block(self, block_hash: bytes) -> bytes | None:
        """The bytes of ``block_hash`` if the app found them valid."""
        entry = self._blocks.get(block_hash)
        return entry.block if entry is not None and entry.valid else None
