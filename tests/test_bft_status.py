"""What an operator sees in a stall (issue 17): the driver's consensus status names the votes
held for the current round, and a height that takes too long is logged once as a WARNING."""
import asyncio
import json
import logging
from types import SimpleNamespace

from consensus.messages import NIL, PREVOTE, STEP_PROPOSE, Timeout
from consensus.timeouts import TimeoutConfig
from node.bftdriver import BftDriver
from node.blockpolicy import BlockPolicy
from tests.consensus_sim import Bench


class Recorder:
    """Any method call is recorded and returns []."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args, **kw: self.calls.append((name, args)) or []


class Clock:
    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class EmptyMempool(list):
    gapped_count = 0


def driver_for(bench: Bench, clock=None) -> BftDriver:
    """A driver over ``bench``'s engine (validator v0 of v0..v3, power 1 each) at height 0, making
    a block every ``timeouts.commit`` (its block time)."""
    chain = SimpleNamespace(height=0, validators=lambda height: bench.validators)
    service = SimpleNamespace(chain=chain, on_tx_admitted=None, consensus_status=None, mempool=EmptyMempool())
    key = SimpleNamespace(address=bench.signers[bench.me].address)
    extra = {} if clock is None else {"clock": clock}
    return BftDriver(service, bench.engine, key, Recorder(), Recorder(), SimpleNamespace(wake=asyncio.Event()),
                     policy=BlockPolicy(block_time=bench.engine.timeouts.commit, empty_blocks=True), **extra)


def stalls(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "stall" in r.getMessage()]


async def test_a_stalled_height_is_logged_once_naming_the_missing_votes(caplog):
    caplog.set_level(logging.WARNING, logger="flexledger.bft")
    bench, clock = Bench(me=0, timeouts=TimeoutConfig(commit=0.2)), Clock()
    driver = driver_for(bench, clock)
    assert driver.target_block_time == 0.2 and driver.stall_after == 2.0    # 10x the block time
    try:
        driver._start_height()                                              # height 1
        driver.gate.peer_started()                                          # round 0 starts
        bench.engine.on_timeout(Timeout(1, 0, STEP_PROPOSE))                # no proposal: own nil prevote
        bench.votes(PREVOTE, 0, NIL, [2])
        clock.now += 1.9
        assert not driver.check_stall() and stalls(caplog) == []
        clock.now += 0.6
        assert driver.check_stall()
        clock.now += 60
        assert not driver.check_stall()                                     # once per height
        warning, = stalls(caplog)
        assert warning.startswith("stall: height 1 round 0 prevote: prevotes from v0 (nil), v2 (nil); missing v1, v3 "
                                  "(power 2 of 4, quorum 3); proposal from v1 missing; 2.5 s since round 0 started")

        driver.service.chain.height = 1                                     # height 1 decided elsewhere
        driver._start_height()
        clock.now += 2.5
        assert not driver.check_stall()                                     # waiting for round 0 is no stall
        driver.gate.peer_started()
        clock.now += 1.0
        assert not driver.check_stall()                                     # the clock restarts with round 0
        clock.now += 1.5
        assert driver.check_stall() and len(stalls(caplog)) == 2
        assert stalls(caplog)[1].startswith("stall: height 2 round 0 propose: prevotes from none; "
                                            "missing v0, v1, v2, v3 (power 0 of 4, quorum 3)")
    finally:
        driver.close()


async def test_the_stall_warning_fires_from_an_event_loop_timer(caplog):
    caplog.set_level(logging.WARNING, logger="flexledger.bft")
    timeouts = TimeoutConfig(propose=0.02, prevote=0.01, precommit=0.01, commit=0.001)
    bench = Bench(me=0, timeouts=timeouts)
    driver = driver_for(bench)
    assert driver.stall_after == 0.04                                        # the round-0 timeouts, not 10x 1 ms
    try:
        driver._start_height()
        await asyncio.sleep(0.3)
        warning, = stalls(caplog)
        assert "height 1 round 0 prevote: prevotes from v0 (nil); missing v1, v2, v3" in warning
    finally:
        driver.close()


def test_status_names_the_round_votes_by_validator():
    bench, clock = Bench(me=0), Clock()
    driver = driver_for(bench, clock)
    bench.engine.start_height(1, bench.validators)
    bench.engine.on_timeout(Timeout(1, 0, STEP_PROPOSE))
    bench.votes(PREVOTE, 0, NIL, [3])
    clock.now += 2.5
    doc = driver.status()
    assert {k: doc[k] for k in ("height", "round", "step", "since", "validator", "proposer", "proposal",
                                "total_power", "quorum", "peers")} == {
        "height": 1, "round": 0, "step": "prevote", "since": 2.5, "validator": "v0", "proposer": "v1",
        "proposal": False, "total_power": 4, "quorum": 3, "peers": []}
    assert (doc["prevotes"], doc["prevote_power"], doc["missing_prevotes"]) == ({"v0": "nil", "v3": "nil"}, 2,
                                                                               ["v1", "v2"])
    assert (doc["precommits"], doc["precommit_power"], doc["missing_precommits"]) == ({}, 0, ["v0", "v1", "v2", "v3"])
    assert json.loads(json.dumps(doc)) == doc
