"""The BFT driver's gossip: messages heard while a node is behind still count when it gets there.

Issue 17: a restarted validator syncing to the head heard the others' prevotes for the head's
next height, remembered them as seen and dropped them (its engine could not hold them yet);
the peers' re-sends were then ignored as duplicates, and the height stalled.
"""
import asyncio
from types import SimpleNamespace

from consensus.messages import PREVOTE, Decide, Vote
from node.bftdriver import HELD_AHEAD, KIND_VOTE, BftDriver


class Recorder:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args, **kw: self.calls.append((name, args)) or []


def driver_at(height: int) -> tuple[BftDriver, Recorder, Recorder]:
    chain = SimpleNamespace(height=height)
    service = SimpleNamespace(chain=chain, on_tx_admitted=None, consensus_status=None)
    engine, network = Recorder(), Recorder()
    sync = SimpleNamespace(wake=asyncio.Event())
    driver = BftDriver(service, engine, SimpleNamespace(), network, Recorder(), sync)
    return driver, engine, network


def prevote(height: int) -> bytes:
    return Vote(PREVOTE, height, 0, b"\x11" * 32, "0x" + "ab" * 20, b"\x22" * 64).to_bytes()


def fed(engine: Recorder) -> int:
    return sum(name == "on_vote" for name, _ in engine.calls)


def test_a_vote_heard_while_behind_counts_when_sent_again_at_its_height():
    driver, engine, network = driver_at(height=10)          # deciding 11; the vote is for 28
    driver.on_frame("0xpeer", KIND_VOTE, prevote(28))
    assert driver.sync.wake.is_set() and fed(engine) == 1
    driver.service.chain.height = 27                        # synced: now deciding 28
    driver.on_frame("0xpeer", KIND_VOTE, prevote(28))       # the peer's re-send
    assert fed(engine) == 2
    driver.on_frame("0xpeer", KIND_VOTE, prevote(28))       # a duplicate at its height is dropped
    assert fed(engine) == 2


def test_a_vote_heard_while_behind_is_relayed_once():
    driver, _, network = driver_at(height=10)
    for _ in range(3):
        driver.on_frame("0xpeer", KIND_VOTE, prevote(28))
    assert sum(name == "broadcast" for name, _ in network.calls) == 1


def test_a_decision_for_a_height_block_sync_already_committed_is_not_applied_twice():
    """The engine may decide a height while block sync, on the same event loop, commits it:
    applying the block again would fail and halt the node."""
    driver, engine, _ = driver_at(height=12)
    driver.chain = driver.service.chain = SimpleNamespace(height=12, staged=None)
    driver._decide(Decide(12, 0, b"\x11" * 32, b"not a block", None))
    assert driver.failure is None


def test_a_vote_heard_while_behind_is_fed_again_when_the_node_reaches_its_height():
    """Without waiting for the peers' next re-send: the AheadBuffer hands it back at start_height."""
    driver, engine, _ = driver_at(height=10)
    driver.on_frame("0xpeer", KIND_VOTE, prevote(28))
    driver.service.chain.height = 27
    for kind, payload in driver._ahead.take(28):
        driver.on_frame(HELD_AHEAD, kind, payload)
    assert fed(engine) == 2
    assert driver._ahead.take(28) == []
