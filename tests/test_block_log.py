"""What a node tells its operator and its clients about blocks (issue 11): one DEBUG line per
block, an INFO summary per minute, and a commit-wait timeout that says what to check."""
import logging

import pytest

from node.blocklog import BlockLog
from node.errors import ApiError
from node.metrics import Metrics
from tests.chainkit import LocalChain


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_blocks_are_logged_at_debug_and_summarized_at_info_once_a_minute(caplog):
    caplog.set_level(logging.DEBUG, logger="flexledger.node")
    metrics, clock = Metrics(), Clock()
    block_log = BlockLog(metrics, clock)
    due = []
    for height, (txs, round_) in enumerate([(0, 0), (3, 0), (2, 1)], start=7):
        metrics.block_committed(txs, 1.5, round_)
        block_log.committed(height, round_, txs, 1.5)
        clock.now += 20
        due.append(block_log.summarize_if_due(height, peers=3))
    assert due == [False, False, True]
    metrics.block_committed(0, 1.0)
    clock.now += 59
    assert not block_log.summarize_if_due(10, peers=None)
    clock.now += 2
    assert block_log.summarize_if_due(10, peers=None)            # a dev node: no peers to tell
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert debug == ["committed block 7 round 0 (0 txs, 1.5 ms)", "committed block 8 round 0 (3 txs, 1.5 ms)",
                     "committed block 9 round 1 (2 txs, 1.5 ms)"]
    assert info == ["last 60 s: 3 blocks, 5 txs, 1 decided after round 0; height 9, 3 peers",
                    "last 61 s: 1 blocks, 0 txs, 0 decided after round 0; height 10"]


async def test_a_commit_wait_that_times_out_says_what_to_check(tmp_path):
    local = LocalChain(tmp_path)
    try:
        tx_hash = bytes(range(32))
        with pytest.raises(ApiError) as error:
            await local.service.wait_for_commit(tx_hash, 0.01)
        assert (error.value.code, error.value.status) == ("commit_timeout", 504)
        assert error.value.message == (
            f"transaction {tx_hash.hex()} is not committed within 0.01 s; this node admitted it and it may still "
            f"commit: look it up later with 'flexledger chain tx {tx_hash.hex()}'; if it stays pending, check that "
            f"this node links to the validators ('peers' in the consensus section of GET /status; an observer needs "
            f"its node key admitted on the chain, see docs/block-production.md)")
    finally:
        local.close()
