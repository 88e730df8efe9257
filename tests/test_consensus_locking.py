"""Locking, proof-of-lock, valid values and decisions, on hand-crafted message sequences.

Validator 0 of four equal ones runs the engine; the proposers of height 1 are validators 1,
2, 3 and 0 in rounds 0 to 3. A quorum is three votes.
"""
from consensus.messages import (NIL, PRECOMMIT, PREVOTE, STEP_PRECOMMIT, STEP_PREVOTE, STEP_PROPOSE, BuildBlock,
                                CheckBlock, Decide, Proposal, Timeout, Vote)
from tests.consensus_sim import CHAIN_ID, Bench, make_block, of_type, sent

B = make_block(1, 0, 1, 1)
C = make_block(1, 1, 2, 1)


def prevotes(actions) -> list[bytes]:
    return [m.block_hash for m in sent(actions) if isinstance(m, Vote) and m.type == PREVOTE]


def precommits(actions) -> list[bytes]:
    return [m.block_hash for m in sent(actions) if isinstance(m, Vote) and m.type == PRECOMMIT]


def propose(bench: Bench, round_: int, block, pol_round: int = -1, valid: bool = True) -> list:
    """Deliver the round's proposal of ``block`` and answer any check; the engine's actions."""
    actions = bench.engine.on_proposal(bench.proposal(round_, block, pol_round))
    for check in of_type(actions, CheckBlock):
        actions += bench.engine.on_block_checked(check.height, check.round, check.block_hash, valid)
    return actions


def next_round(bench: Bench) -> list:
    """Move the engine on by a quorum of nil precommits and the precommit timeout."""
    round_ = bench.engine.round
    actions = bench.votes(PRECOMMIT, round_, NIL, [1, 2, 3])
    actions += bench.engine.on_timeout(Timeout(1, round_, STEP_PRECOMMIT))
    assert bench.engine.round == round_ + 1
    return actions


def locked_on_b_in_round_0() -> Bench:
    bench = Bench()
    bench.engine.start_height(1, bench.validators)
    assert prevotes(propose(bench, 0, B)) == [B[0]]
    assert precommits(bench.votes(PREVOTE, 0, B[0], [1, 2])) == [B[0]]
    next_round(bench)
    return bench


def test_locked_validator_prevotes_nil_for_a_different_block_without_proof_of_lock():
    bench = locked_on_b_in_round_0()
    assert prevotes(propose(bench, 1, C)) == [NIL]


def test_locked_validator_prevotes_its_locked_block_again():
    bench = locked_on_b_in_round_0()
    actions = propose(bench, 1, B)
    assert prevotes(actions) == [B[0]]
    assert of_type(actions, CheckBlock) == []  # one check per block hash and height


def test_proof_of_lock_from_a_later_round_unlocks():
    bench = locked_on_b_in_round_0()
    next_round(bench)
    assert prevotes(propose(bench, 2, C, pol_round=1)) == []  # waits for the proof-of-lock
    actions = bench.votes(PREVOTE, 1, C[0], [1, 2])
    assert prevotes(actions) == []
    assert prevotes(bench.votes(PREVOTE, 1, C[0], [3])) == [C[0]]


def test_proof_of_lock_older_than_the_lock_does_not_unlock():
    bench = Bench()
    bench.engine.start_height(1, bench.validators)
    bench.engine.on_timeout(Timeout(1, 0, STEP_PROPOSE))
    next_round(bench)
    propose(bench, 1, B)
    assert precommits(bench.votes(PREVOTE, 1, B[0], [1, 2])) == [B[0]]  # locked on B in round 1
    next_round(bench)
    bench.votes(PREVOTE, 0, C[0], [1, 2, 3])  # a proof-of-lock for C, but from round 0
    assert prevotes(propose(bench, 2, C, pol_round=0)) == [NIL]


def test_invalid_block_gets_a_nil_prevote():
    bench = Bench()
    bench.engine.start_height(1, bench.validators)
    assert prevotes(propose(bench, 0, B, valid=False)) == [NIL]
    next_round(bench)
    actions = propose(bench, 1, B)
    assert prevotes(actions) == [NIL]
    assert of_type(actions, CheckBlock) == []


def test_prevote_waits_for_the_apps_verdict_until_the_propose_timeout():
    bench = Bench()
    bench.engine.start_height(1, bench.validators)
    check, = of_type(bench.engine.on_proposal(bench.proposal(0, B)), CheckBlock)
    assert prevotes(bench.engine.on_timeout(Timeout(1, 0, STEP_PROPOSE))) == [NIL]
    assert prevotes(bench.engine.on_block_checked(1, 0, check.block_hash, True)) == []


def test_quorum_of_nil_prevotes_gives_a_nil_precommit():
    bench = Bench()
    bench.engine.start_height(1, bench.validators)
    propose(bench, 0, B)
    assert precommits(bench.votes(PREVOTE, 0, NIL, [1, 2])) == []
    assert precommits(bench.votes(PREVOTE, 0, NIL, [3])) == [NIL]


def test_proposer_re_proposes_its_valid_value_with_its_round():
    bench = Bench()
    bench.engine.start_height(1, bench.validators)
    propose(bench, 0, B)
    assert precommits(bench.engine.on_timeout(Timeout(1, 0, STEP_PREVOTE))) == [NIL]
    assert precommits(bench.votes(PREVOTE, 0, B[0], [1, 2])) == []  # too late to lock, but B is now valid
    next_round(bench)
    next_round(bench)
    actions = next_round(bench)
    assert bench.proposer(3) == bench.me
    assert of_type(actions, BuildBlock) == []
    proposal, = [m for m in sent(actions) if isinstance(m, Proposal)]
    assert (proposal.round, proposal.block_hash, proposal.pol_round, proposal.block) == (3, B[0], 0, B[1])
    assert prevotes(actions) == [B[0]]  # it is not locked, and the proof-of-lock is there


def test_proposer_without_valid_value_builds_a_block():
    bench = Bench()
    bench.engine.start_height(1, bench.validators)
    next_round(bench)
    next_round(bench)
    assert of_type(next_round(bench), BuildBlock) == [BuildBlock(1, 3)]
    actions = bench.engine.on_block_built(1, 3, *make_block(1, 3, 0, 1))
    proposal, = [m for m in sent(actions) if isinstance(m, Proposal)]
    assert (proposal.round, proposal.pol_round) == (3, -1)
    assert prevotes(actions) == [proposal.block_hash]  # built blocks are valid without a check
    assert of_type(actions, CheckBlock) == []


def test_decides_on_precommits_from_an_earlier_round_with_a_valid_commit():
    bench = locked_on_b_in_round_0()
    next_round(bench)
    decide, = of_type(bench.votes(PRECOMMIT, 0, B[0], [2, 3]), Decide)
    assert (decide.height, decide.round, decide.block_hash, decide.block) == (1, 0, B[0], B[1])
    assert decide.commit.verify(CHAIN_ID, bench.validators) is None
    assert len(decide.commit.signatures) == 3


def test_decision_waits_for_the_block_and_its_check():
    bench = Bench()
    bench.engine.start_height(1, bench.validators)
    assert of_type(bench.votes(PRECOMMIT, 0, B[0], [1, 2, 3]), Decide) == []
    check, = of_type(bench.engine.on_proposal(bench.proposal(0, B)), CheckBlock)
    decide, = of_type(bench.engine.on_block_checked(1, 0, check.block_hash, True), Decide)
    assert decide.commit.verify(CHAIN_ID, bench.validators) is None
    assert bench.engine.on_timeout(Timeout(1, 0, STEP_PRECOMMIT)) == []  # decided: waits for start_height
