"""The block log: one DEBUG line per committed block, and at INFO one summary per minute.

A node at the default INFO level writes a line like

    last 60 s: 58 blocks, 311 txs, 1 decided after round 0; height 1234, 3 peers

every ``SUMMARY_PERIOD`` seconds (a dev node has no peers and leaves them out), instead of a
line per block; ``--log-level DEBUG`` adds ``committed block 1234 round 0 (5 txs, 3.1 ms)``
for each block. The counts come from the node's ``Metrics``.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from node.metrics import Metrics

log = logging.getLogger("flexledger.node")

SUMMARY_PERIOD = 60.0  # seconds between two INFO summaries


class BlockLog:
    def __init__(self, metrics: Metrics, clock: Callable[[], float] = time.monotonic,
                 period: float = SUMMARY_PERIOD):
        self._metrics = metrics
        self._clock = clock
        self._period = period
        self._since = clock()
        self._counted = self._counts()

    def committed(self, height: int, round_: int, txs: int, execution_ms: float) -> None:
        log.debug("committed block %d round %d (%d txs, %.1f ms)", height, round_, txs, execution_ms)

    def summarize_if_due(self, height: int, peers: int | None) -> bool:
        """Log the summary if a period has passed since the last one; True if it did."""
        elapsed = self._clock() - self._since
        if elapsed < self._period:
            return False
        counts = self._counts()
        blocks, txs, late = (now - before for now, before in zip(counts, self._counted))
        log.info("last %.0f s: %d blocks, %d txs, %d decided after round 0; height %d%s", elapsed, blocks, txs,
                 late, height, "" if peers is None else f", {peers} peers")
        self._since, self._counted = self._clock(), counts
        return True

    def _counts(self) -> tuple[int, int, int]:
        m = self._metrics
        return m.blocks_committed, m.txs_committed, m.blocks_after_round0
