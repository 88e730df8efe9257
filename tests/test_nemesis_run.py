"""Short nemesis runs on real 4-validator testnets (the default timeouts of `testnet up`).

Seeds chosen so that together they inject every kind of fault: 1 (pause, kill, restarts, a
restart with a pause during its catch-up), 13 (three catch-up pauses, kill), 22 (a 2|2 split,
an isolation, a kill of the isolated node). `make soak` runs the same for 300 s.
"""
import pytest

from testnet import faultrun
from tests.testnetkit import running_testnet


@pytest.mark.parametrize("seed", [1, 13, 22])
def test_nemesis_run_is_safe_and_live(tmp_path, seed):
    with running_testnet(tmp_path, timeouts=None) as net:
        report = faultrun.run(net, seconds=25, seed=seed, senders=4, log=lambda line: None)
    assert report.problems == [], report.summary()
    assert len([f for f in report.faults if not f.startswith("skipped")]) >= 4, report.summary()
    assert report.acknowledged > 0 and report.market.cleared >= 1, report.summary()
    assert report.stall is not None and report.stall.seconds <= faultrun.LIVENESS_BOUND
