"""The engine's read-only status query: which validators' votes it holds for the current round."""
from consensus.engine import RoundState
from consensus.messages import NIL, PRECOMMIT, PREVOTE, STEP_NEW_HEIGHT, CheckBlock, Timeout
from consensus.timeouts import TimeoutConfig
from tests.consensus_sim import Bench, make_block, of_type

B = make_block(1, 0, 1, 1)


def test_round_state_names_the_votes_held_and_the_step_as_a_word():
    bench = Bench(me=0)
    assert bench.engine.round_state() is None                  # before start_height
    bench.engine.start_height(1, bench.validators)
    address = [s.address for s in bench.signers]
    state = bench.engine.round_state()
    assert isinstance(state, RoundState)
    assert (state.height, state.round, state.step, state.proposal) == (1, 0, "propose", None)
    assert state.proposer == address[bench.proposer(0)] and state.prevotes == state.precommits == {}
    assert state.missing(state.prevotes) == address and state.power(address) == 4

    assert bench.proposer(0) == 1                             # validator 0 (this engine) only votes in round 0
    check, = of_type(bench.engine.on_proposal(bench.proposal(0, B)), CheckBlock)
    bench.engine.on_block_checked(1, 0, check.block_hash, True)   # own prevote for B
    bench.votes(PREVOTE, 0, NIL, [2])
    state = bench.engine.round_state()
    assert (state.step, state.proposal) == ("prevote", B[0])
    assert state.prevotes == {address[0]: B[0], address[2]: NIL}
    assert state.missing(state.prevotes) == [address[1], address[3]] and state.power(state.prevotes) == 2

    bench.votes(PRECOMMIT, 1, NIL, [1])                       # another round's votes are not this round's
    assert bench.engine.round_state().precommits == {}


def test_round_state_changes_nothing_and_reports_commit_and_new_height():
    bench = Bench(me=0, timeouts=TimeoutConfig(commit=1.0))
    bench.engine.start_height(1, bench.validators)
    assert bench.engine.round_state().step == "new-height"
    bench.engine.on_timeout(Timeout(1, 0, STEP_NEW_HEIGHT))
    assert bench.engine.round_state().step == "propose"
    before = bench.engine.round_state()
    for _ in range(3):
        assert bench.engine.round_state() == before           # a query, not an input
    check, = of_type(bench.engine.on_proposal(bench.proposal(0, B)), CheckBlock)
    bench.engine.on_block_checked(1, 0, check.block_hash, True)
    bench.votes(PREVOTE, 0, B[0], [1, 2])                     # a quorum with our own: we precommit B
    assert bench.engine.round_state().step == "precommit"
    bench.votes(PRECOMMIT, 0, B[0], [1, 2])
    state = bench.engine.round_state()
    assert state.step == bench.engine.step_name == "commit"
    assert set(state.precommits.values()) == {B[0]} and len(state.precommits) == 3
