"""The block production policy (issue 11): when a validator starts round 0 of the next height.

Deterministic: the gate runs on a fake clock and a fake timer queue; the driver's part on the
engine of ``tests/consensus_sim.Bench``."""
import contextlib
from types import SimpleNamespace

import pytest

from cli.main import main
from consensus.messages import NIL, PREVOTE
from consensus.timeouts import TimeoutConfig
from node.bftdriver import KIND_VOTE, BftDriver
from node.blockpolicy import BlockPolicy, Round0Gate, check_config
from node.config import ConfigError, NodeConfig, NodeHome
from tests.consensus_sim import Bench


class FakeTimers:
    """``call_later`` on a fake clock: ``advance`` fires what falls due, in order."""

    def __init__(self):
        self.now = 0.0
        self.pending: list[list] = []  # [when, callback, cancelled]

    def clock(self) -> float:
        return self.now

    def call_later(self, delay: float, callback):
        entry = [self.now + delay, callback, False]
        self.pending.append(entry)
        timers = self

        class Handle:
            def cancel(self):
                entry[2] = True
                if entry in timers.pending:
                    timers.pending.remove(entry)
        return Handle()

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            due = sorted((e for e in self.pending if e[0] <= end), key=lambda e: e[0])
            if not due:
                break
            entry = due[0]
            self.pending.remove(entry)
            self.now = max(self.now, entry[0])
            entry[1]()
        self.now = end


class Node:
    """A gate with a mempool of ``ready`` transactions, recording when round 0 started."""

    def __init__(self, policy: BlockPolicy):
        self.timers = FakeTimers()
        self.ready = 0
        self.starts: list[float] = []
        self.gate = Round0Gate(policy, self.timers.clock, self.timers.call_later, lambda: self.ready > 0,
                               lambda: self.starts.append(self.timers.now))

    def new_height(self, consensus_takes: float = 0.0) -> None:
        """Round 0 started: the height is decided ``consensus_takes`` later, and the next one held."""
        self.timers.advance(consensus_takes)
        self.ready = 0  # the block took every transaction
        self.gate.hold()


IDLE = BlockPolicy(block_time=1.0, empty_blocks=False, empty_block_interval=30.0)


def test_an_idle_chain_makes_a_block_only_at_the_heartbeat_interval():
    node = Node(IDLE)
    node.new_height()                       # after a restart: no previous round 0 known
    node.timers.advance(29.9)
    assert node.starts == []
    node.timers.advance(0.1)
    assert node.starts == [30.0]
    node.new_height(consensus_takes=0.05)   # the heartbeat block took 50 ms
    node.timers.advance(29.0)
    assert node.starts == [30.0]
    node.timers.advance(1.0)
    assert node.starts == [30.0, 60.0]      # every 30 s from round 0 to round 0
    assert node.gate.round0_in() is None


def test_a_transaction_on_an_idle_chain_starts_round_0_at_once():
    node = Node(IDLE)
    node.new_height()
    node.timers.advance(12.0)
    assert node.gate.round0_in() == pytest.approx(18.0)
    node.ready = 1
    node.gate.txs_ready()
    node.timers.advance(0.0)
    assert node.starts == [12.0]


def test_a_transaction_right_after_a_block_waits_for_the_block_time():
    node = Node(IDLE)
    node.gate.hold()
    node.gate.peer_started()                # round 0 at t=0
    node.new_height(consensus_takes=0.3)    # decided at 0.3 s
    node.ready = 1
    node.gate.txs_ready()
    assert node.gate.round0_in() == pytest.approx(0.7)
    node.timers.advance(0.69)
    assert node.starts == [0.0]
    node.timers.advance(0.01)
    assert node.starts == [0.0, 1.0]        # one block_time after the previous round 0


def test_under_load_blocks_start_one_block_time_apart_unless_consensus_is_slower():
    node = Node(BlockPolicy(block_time=1.0, empty_blocks=True))
    node.gate.hold()
    for takes in (0.2, 0.5, 1.4, 0.1):
        node.timers.advance(node.gate.round0_in())
        node.new_height(consensus_takes=takes)
    node.timers.advance(node.gate.round0_in())
    assert node.starts == pytest.approx([0.0, 1.0, 2.0, 3.4, 4.4])


def test_with_empty_blocks_an_idle_chain_makes_a_block_every_block_time():
    node = Node(BlockPolicy(block_time=0.5, empty_blocks=True, empty_block_interval=30.0))
    node.gate.hold()
    for _ in range(3):
        node.timers.advance(0.4)
        node.new_height(consensus_takes=0.05)
    node.timers.advance(1.0)
    assert node.starts == pytest.approx([0.0, 0.5, 1.0, 1.5])


def test_another_validators_message_starts_round_0_at_once_and_a_late_transaction_changes_nothing():
    node = Node(IDLE)
    node.new_height()
    node.timers.advance(3.0)
    node.gate.peer_started()
    assert node.starts == [3.0] and not node.gate.held
    node.ready = 1
    node.gate.txs_ready()
    node.timers.advance(60.0)
    assert node.starts == [3.0]             # no timer left behind


def test_many_transactions_arm_the_timer_once():
    node = Node(IDLE)
    node.new_height()
    node.ready = 1
    for _ in range(100):
        node.gate.txs_ready()
    assert len(node.timers.pending) == 1


def test_a_needed_block_waits_for_the_block_time_only():
    node = Node(IDLE)
    node.gate.hold()
    node.gate.peer_started()
    node.timers.advance(0.2)
    node.gate.hold(block_needed=True)
    node.timers.advance(1.0)
    assert node.starts == [0.0, 1.0]


def test_gapped_transactions_do_not_end_the_wait():
    node = Node(IDLE)
    node.new_height()
    node.gate.txs_ready()                   # admitted, but not ready: waits behind a missing nonce
    node.timers.advance(10.0)
    assert node.starts == []


@pytest.mark.parametrize("doc, message", [
    ({"block_time": 0}, "block_time must be a number of seconds above zero, not 0"),
    ({"empty_block_interval": -1}, "empty_block_interval must be a number of seconds above zero, not -1"),
    ({"block_time": 5, "empty_block_interval": 2},
     "empty_block_interval (2 s) must be at least block_time (5 s): raise it, or set empty_blocks to true for a "
     "block every block_time"),
    ({"timeouts": {"commit": 0.2}},
     "timeouts.commit is replaced by block_time, the target block time: remove it and set \"block_time\": 0.2 "
     "(seconds, above zero) if you want it"),
])
def test_bad_policy_fields_are_refused_by_name(doc, message):
    with pytest.raises(ValueError) as error:
        check_config(doc)
    assert str(error.value) == message


def test_a_config_file_with_a_bad_policy_field_is_refused_naming_the_file(tmp_path):
    home = NodeHome(tmp_path)
    home.save_config(NodeConfig(block_time=2.0, empty_block_interval=1.0))
    with pytest.raises(ConfigError) as error:
        home.load_config()
    assert str(error.value) == (f"{home.config_file}: empty_block_interval (1 s) must be at least block_time (2 s): "
                                f"raise it, or set empty_blocks to true for a block every block_time")
    home.save_config(NodeConfig(block_time=0.5, empty_blocks=True, empty_block_interval=2.0))
    assert home.load_config().block_time == 0.5


# -- the driver holds the engine in new-height until the gate opens ------------------------------

class Recorder:
    def __getattr__(self, name):
        return lambda *args, **kw: []


class Mempool(list):
    gapped_count = 0


@contextlib.contextmanager
def held_driver(policy: BlockPolicy, height: int = 2):
    """A validator of four, not the proposer of round 0 at ``height`` (started), on fake timers;
    closed afterwards."""
    timeouts = TimeoutConfig(commit=policy.block_time)
    me = (Bench(timeouts=timeouts).proposer(0, height) + 1) % 4
    bench, timers = Bench(me=me, timeouts=timeouts), FakeTimers()
    chain = SimpleNamespace(height=height - 1, validators=lambda height: bench.validators)
    service = SimpleNamespace(chain=chain, on_tx_admitted=None, consensus_status=None, mempool=Mempool())
    driver = BftDriver(service, bench.engine, SimpleNamespace(address=bench.signers[me].address), Recorder(),
                       Recorder(), SimpleNamespace(wake=None), clock=timers.clock, policy=policy,
                       call_later=timers.call_later)
    try:
        driver._start_height()
        yield driver, bench, timers
    finally:
        driver.close()


async def test_the_driver_keeps_an_idle_validator_in_new_height_until_the_heartbeat():
    with held_driver(IDLE) as (driver, bench, timers):
        timers.advance(29.0)
        assert bench.engine.step_name == "new-height" and driver.status()["round0_in"] == 1.0
        timers.advance(1.0)
        assert bench.engine.step_name == "propose" and "round0_in" not in driver.status()


async def test_the_driver_starts_round_0_when_a_transaction_is_admitted():
    with held_driver(IDLE) as (driver, bench, timers):
        timers.advance(5.0)
        driver.service.mempool.append("tx")
        driver._gossip_tx(SimpleNamespace(to_bytes=lambda: b"tx"))
        timers.advance(0.0)
        assert bench.engine.step_name == "propose"


async def test_the_driver_follows_another_validators_vote_of_the_height_at_once():
    with held_driver(IDLE) as (driver, bench, timers):
        other = (bench.me + 1) % 4
        driver.on_frame("0xpeer", KIND_VOTE, bench.vote(other, PREVOTE, 0, NIL, height=2).to_bytes())
        assert bench.engine.step_name == "propose"


async def test_the_chains_first_block_does_not_wait_for_transactions():
    with held_driver(IDLE, height=1) as (driver, bench, timers):
        timers.advance(0.0)
        assert bench.engine.step_name == "propose"


# -- the node CLI's block policy flags ---------------------------------------------------------------
def _cli(tmp_path, monkeypatch, *argv) -> int:
    monkeypatch.setenv("FLEXLEDGER_PASSWORD", "secret")
    return main(["--home", str(tmp_path / "wallet"), *argv])


def test_node_init_saves_the_block_policy_flags(tmp_path, monkeypatch):
    home = tmp_path / "node"
    assert _cli(tmp_path, monkeypatch, "node", "init", "--node-home", str(home), "--block-time", "0.5",
                "--empty-blocks", "off", "--empty-block-interval", "10") == 0
    config = NodeHome(home).load_config()
    assert (config.block_time, config.empty_blocks, config.empty_block_interval) == (0.5, False, 10.0)


@pytest.mark.parametrize("flags, message", [
    (["--block-time", "0"], "error: --block-time must be a number of seconds above zero, not 0"),
    (["--empty-block-interval", "-1"], "error: --empty-block-interval must be a number of seconds above zero, not -1"),
    (["--block-time", "2", "--empty-block-interval", "1"],
     "error: empty_block_interval (1 s) must be at least block_time (2 s): raise it, or set empty_blocks to true "
     "for a block every block_time"),
])
def test_node_init_refuses_bad_block_policy_flags_before_writing(tmp_path, monkeypatch, capsys, flags, message):
    home = tmp_path / "node"
    assert _cli(tmp_path, monkeypatch, "node", "init", "--node-home", str(home), *flags) == 1
    assert capsys.readouterr().err.strip() == message
    assert not home.exists()


def test_block_interval_is_refused_for_a_consortium_node(tmp_path, monkeypatch, capsys):
    home = tmp_path / "node"
    assert _cli(tmp_path, monkeypatch, "node", "init", "--node-home", str(home)) == 0
    capsys.readouterr()
    assert _cli(tmp_path, monkeypatch, "node", "start", "--node-home", str(home), "--block-interval", "2") == 1
    assert capsys.readouterr().err.strip() == ("error: --block-interval paces dev nodes only: a consortium node's "
                                               "target block time is --block-time (and block_time in its config)")
