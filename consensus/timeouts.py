"""Round timeouts: how long the engine waits in each step, growing with the round.

A step's delay in round ``r`` is ``base + delta * r``, never more than ``cap``; after GST a
round long enough for every honest message to arrive is reached after finitely many rounds.
``commit`` is the pause between a decision and round 0 of the next height: the engine waits
in its new-height step for that timeout. The node sets it to its ``block_time`` and hands the
timeout over when its block production policy says so (node/blockpolicy.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from consensus.messages import STEP_NEW_HEIGHT, STEP_PRECOMMIT, STEP_PREVOTE, STEP_PROPOSE


@dataclass(frozen=True)
class TimeoutConfig:
    propose: float = 1.0
    propose_delta: float = 0.5
    prevote: float = 0.5
    prevote_delta: float = 0.5
    precommit: float = 0.5
    precommit_delta: float = 0.5
    cap: float = 10.0  # no timeout grows beyond this
    commit: float = 0.0  # pause after a decision before the next height starts

    def delay(self, step: int, round_: int) -> float:
        """Seconds to wait in ``step`` of round ``round_``."""
        if step == STEP_NEW_HEIGHT:
            return min(self.commit, self.cap)
        base, delta = {STEP_PROPOSE: (self.propose, self.propose_delta),
                       STEP_PREVOTE: (self.prevote, self.prevote_delta),
                       STEP_PRECOMMIT: (self.precommit, self.precommit_delta)}[step]
        return min(base + delta * round_, self.cap)
