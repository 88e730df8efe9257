"""Consensus messages for a height this node has not reached yet, kept until it gets there.

A node that is behind (restarted, or back from a partition) hears the others' proposals and
votes for the head's next height while block sync is still committing the heights below; its
engine cannot take them yet. Without this buffer they would count only when the peers send
them again (every ``SYNC_POLL`` while a height is stuck), so a restarted validator would
enter the height up to that long after it could. Bounded by bytes (a peer may fill it with
junk; then the peers' re-sends are the fallback), oldest first out.
"""
from __future__ import annotations

from collections import OrderedDict

MAX_AHEAD_BYTES = 16 * 1024 * 1024


class AheadBuffer:
    def __init__(self, max_bytes: int = MAX_AHEAD_BYTES):
        self.max_bytes = max_bytes
        self._held: OrderedDict[bytes, tuple[int, int, bytes]] = OrderedDict()  # key -> (height, kind, payload)
        self._bytes = 0

    def keep(self, key: bytes, height: int, kind: int, payload: bytes) -> None:
        """Hold a message (``key`` tells duplicates apart) for ``height``."""
        if key in self._held or len(payload) > self.max_bytes:
            return
        self._held[key] = (height, kind, payload)
        self._bytes += len(payload)
        while self._bytes > self.max_bytes:
            _, (_, _, dropped) = self._held.popitem(last=False)
            self._bytes -= len(dropped)

    def take(self, height: int) -> list[tuple[int, bytes]]:
        """(kind, payload) of every message held for ``height``, in arrival order; those for
        ``height`` and below leave the buffer."""
        found = []
        for key, (held_height, kind, payload) in list(self._held.items()):
            if held_height <= height:
                del self._held[key]
                self._bytes -= len(payload)
                if held_height == height:
                    found.append((kind, payload))
        return found
