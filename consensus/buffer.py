"""Messages that arrived early: kept for the next heights, handed back at ``start_height``.

Their signatures cannot be checked until the validator set of their height is known, so
the buffer is bounded: it holds messages for at most ``window`` heights above the current
one, at most ``limit`` of them, and drops the rest (the node's gossip and block sync bring
anything important again). Identical messages are kept once.
"""
from __future__ import annotations

from consensus.messages import Proposal, Vote


class FutureBuffer:
    def __init__(self, window: int = 2, limit: int = 10_000):
        self.window = window
        self.limit = limit
        self._messages: dict[Proposal | Vote, None] = {}  # insertion-ordered set

    def __len__(self) -> int:
        return len(self._messages)

    def add(self, current_height: int, message: Proposal | Vote) -> bool:
        """Keep ``message`` if it is for one of the next ``window`` heights and there is room."""
        if not current_height < message.height <= current_height + self.window:
            return False
        if message not in self._messages:
            if len(self._messages) >= self.limit:
                return False
            self._messages[message] = None
        return True

    def take(self, height: int) -> list[Proposal | Vote]:
        """The messages for ``height``, in arrival order; those for earlier heights are dropped."""
        ready = [m for m in self._messages if m.height == height]
        self._messages = {m: None for m in self._messages if m.height > height}
        return ready
