"""Round timeouts (growing per round up to the cap), the pause after a decision, and the
round skip on messages from more than 1/3 of the voting power in a higher round."""
from consensus.messages import (NIL, PRECOMMIT, PREVOTE, STEP_NEW_HEIGHT, STEP_PRECOMMIT, STEP_PREVOTE, STEP_PROPOSE,
                                ScheduleTimeout, Timeout, Vote)
from consensus.timeouts import TimeoutConfig
from tests.consensus_sim import Bench, make_block, of_type, sent

CONFIG = TimeoutConfig(propose=1.0, propose_delta=0.5, prevote=0.4, prevote_delta=0.2, precommit=0.3,
                       precommit_delta=0.3, cap=2.0)


def scheduled(actions) -> list[tuple[int, int, float]]:
    return [(a.timeout.round, a.timeout.step, a.delay) for a in of_type(actions, ScheduleTimeout)]


def test_delays_grow_per_round_up_to_the_cap():
    assert [CONFIG.delay(STEP_PROPOSE, r) for r in range(5)] == [1.0, 1.5, 2.0, 2.0, 2.0]
    assert CONFIG.delay(STEP_PREVOTE, 3) == 0.4 + 0.2 * 3
    assert CONFIG.delay(STEP_PRECOMMIT, 100) == 2.0
    assert TimeoutConfig(commit=3.0).delay(STEP_NEW_HEIGHT, 7) == 3.0


def test_engine_schedules_each_timeout_once_with_the_rounds_delay():
    bench = Bench(timeouts=CONFIG)
    assert scheduled(bench.engine.start_height(1, bench.validators)) == [(0, STEP_PROPOSE, 1.0)]
    for round_ in range(4):
        assert [m.block_hash for m in sent(bench.engine.on_timeout(Timeout(1, round_, STEP_PROPOSE)))] == [NIL]
        assert scheduled(bench.votes(PREVOTE, round_, NIL, [1])) == []
        assert scheduled(bench.votes(PREVOTE, round_, make_block(1, round_, 9, 9)[0], [2])) == [
            (round_, STEP_PREVOTE, CONFIG.delay(STEP_PREVOTE, round_))]  # a quorum of prevotes for anything
        assert scheduled(bench.votes(PREVOTE, round_, NIL, [3])) == []  # once
        actions = bench.engine.on_timeout(Timeout(1, round_, STEP_PREVOTE))
        assert [(m.type, m.block_hash) for m in sent(actions)] == []  # already precommitted nil on the nil quorum
        assert scheduled(bench.votes(PRECOMMIT, round_, NIL, [1, 2])) == [
            (round_, STEP_PRECOMMIT, CONFIG.delay(STEP_PRECOMMIT, round_))]
        actions = bench.engine.on_timeout(Timeout(1, round_, STEP_PRECOMMIT))
        assert scheduled(actions) == [(round_ + 1, STEP_PROPOSE, CONFIG.delay(STEP_PROPOSE, round_ + 1))]
    assert bench.engine.round == 4


def test_stale_timeouts_are_ignored():
    bench = Bench(timeouts=CONFIG)
    bench.engine.start_height(1, bench.validators)
    assert bench.engine.on_timeout(Timeout(1, 3, STEP_PROPOSE)) == []
    assert bench.engine.on_timeout(Timeout(2, 0, STEP_PROPOSE)) == []
    assert bench.engine.on_timeout(Timeout(1, 0, STEP_PREVOTE)) == []  # still proposing
    assert (bench.engine.round, bench.engine.step) == (0, STEP_PROPOSE)


def test_round_skip_needs_more_than_a_third_of_the_power():
    bench = Bench(timeouts=CONFIG)
    bench.engine.start_height(1, bench.validators)
    bench.engine.on_vote(bench.vote(1, PREVOTE, 5, NIL))
    bench.engine.on_vote(bench.vote(1, PRECOMMIT, 5, NIL))
    assert bench.engine.round == 0  # one validator of four, however many messages
    actions = bench.engine.on_vote(bench.vote(2, PRECOMMIT, 5, NIL))
    assert (bench.engine.round, bench.engine.step) == (5, STEP_PROPOSE)
    assert scheduled(actions) == [(5, STEP_PROPOSE, CONFIG.delay(STEP_PROPOSE, 5))]


def test_round_skip_counts_proposals_and_goes_to_the_highest_such_round():
    bench = Bench(timeouts=CONFIG)
    bench.engine.start_height(1, bench.validators)
    voter = next(i for i in (1, 2, 3) if i != bench.proposer(7))
    bench.engine.on_vote(bench.vote(voter, PREVOTE, 7, NIL))
    actions = bench.engine.on_proposal(bench.proposal(7, make_block(1, 7, 0, 1)))
    assert bench.engine.round == 7
    assert sent(actions) == []  # waits for the app's verdict
    bench.engine.on_vote(bench.vote(1, PREVOTE, 6, NIL))
    bench.engine.on_vote(bench.vote(2, PREVOTE, 6, NIL))
    assert bench.engine.round == 7  # never back


def test_commit_pause_delays_round_zero():
    bench = Bench(timeouts=TimeoutConfig(commit=2.5))
    actions = bench.engine.start_height(1, bench.validators)
    assert scheduled(actions) == [(0, STEP_NEW_HEIGHT, 2.5)]
    assert bench.engine.step == STEP_NEW_HEIGHT
    block = make_block(1, 0, 1, 1)
    bench.engine.on_proposal(bench.proposal(0, block))
    assert sent(bench.engine.on_block_checked(1, 0, block[0], True)) == []  # not before round 0
    actions = bench.engine.on_timeout(Timeout(1, 0, STEP_NEW_HEIGHT))
    assert [(m.type, m.block_hash) for m in sent(actions) if isinstance(m, Vote)] == [(PREVOTE, block[0])]
