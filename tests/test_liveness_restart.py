"""Issue 17 on real processes: a restarted validator catches up while a fourth one freezes.

The testnet runs with the default timeouts of ``flexledger testnet up``: the stall showed with
them and not with the tests' fast ones. Each step must finalize new blocks on the three
validators that are up (30 of 40 voting power) within the nemesis run's liveness bound,
counted from the restarted node's API answering.
"""
import time

from testnet.faultrun import LIVENESS_BOUND
from testnet.invariants import check_no_fork
from tests.chainkit import wait_until
from tests.testnetkit import running_testnet

ALL = ["dso", "agg1", "agg2", "agg3"]
UP = ["dso", "agg1", "agg2"]


def _finalizes(net, names: list[str], blocks: int = 2) -> float:
    """Seconds until every node of ``names`` has ``blocks`` more than the highest now, from the
    moment all of them answer; fails beyond the liveness bound (per block)."""
    wait_until(lambda: all(net.height(n) is not None for n in names), 30)
    start, began = max(net.height(n) for n in names), time.monotonic()
    net.wait_for_height(start + blocks, LIVENESS_BOUND * blocks, names)
    return time.monotonic() - began


def test_restart_then_freeze_another_keeps_finalizing(tmp_path):
    """The issue's sequence, three times: kill agg1; sleep 4; restart agg1; pause agg3."""
    with running_testnet(tmp_path, timeouts=None) as net:
        for _ in range(3):
            net.kill("agg1")
            time.sleep(4)
            net.restart("agg1")
            net.pause("agg3")
            _finalizes(net, UP)
            net.resume("agg3")
            _finalizes(net, ALL)
        check_no_fork({n: net.client(n) for n in ALL})


def test_validator_syncing_into_a_height_the_others_voted_in(tmp_path):
    """Deterministic form: agg3 freezes while agg1 is down, so the DSO and agg2 vote in the
    next height and wait; agg1 comes back behind, syncs, and must count their votes."""
    with running_testnet(tmp_path, timeouts=None) as net:
        net.kill("agg1")
        time.sleep(3)                       # the chain moves on without agg1
        net.pause("agg3")                   # 2 of 4: the DSO and agg2 vote and wait
        time.sleep(3)
        net.start("agg1")                   # behind: syncs, then enters the height they voted in
        _finalizes(net, UP)
        net.resume("agg3")
        _finalizes(net, ALL)
        check_no_fork({n: net.client(n) for n in ALL})
