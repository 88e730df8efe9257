"""Engine behaviour around the algorithm: double-signing evidence, restore after a restart,
buffering of later heights, non-validators, dropped messages and block checks."""
import pytest

from consensus.buffer import FutureBuffer
from consensus.engine import Engine
from consensus.proposer import proposer
from consensus.messages import (NIL, PRECOMMIT, PREVOTE, STEP_PRECOMMIT, STEP_PREVOTE, STEP_PROPOSE, Broadcast,
                                BuildBlock, CheckBlock, Decide, EvidenceFound, Proposal, SignatureRefused, Timeout,
                                Vote)
from node.signing import position
from tests.consensus_sim import CHAIN_ID, Bench, SimSigner, make_block, of_type, sent

B = make_block(1, 0, 1, 1)
C = make_block(1, 0, 1, 2)


def started() -> Bench:
    bench = Bench()
    bench.engine.start_height(1, bench.validators)
    return bench


def test_double_signing_gives_evidence_once_per_pair():
    bench = started()
    first, second, third = (bench.vote(2, PREVOTE, 0, h) for h in (B[0], C[0], NIL))
    assert bench.engine.on_vote(first) == []
    evidence, = [a.evidence for a in of_type(bench.engine.on_vote(second), EvidenceFound)]
    assert (evidence.vote_a, evidence.vote_b) == (first, second)
    assert evidence.verify(CHAIN_ID, bench.validators) is None
    assert of_type(bench.engine.on_vote(second) + bench.engine.on_vote(first), EvidenceFound) == []
    evidence, = [a.evidence for a in of_type(bench.engine.on_vote(third), EvidenceFound)]
    assert (evidence.vote_a, evidence.vote_b) == (first, third)


def test_a_double_signers_second_vote_counts_toward_its_block():
    bench = started()
    bench.votes(PREVOTE, 0, NIL, [1])
    bench.votes(PREVOTE, 0, B[0], [1, 2, 3])  # a proof-of-lock for B only with validator 1's second vote
    bench.votes(PRECOMMIT, 0, NIL, [1, 2, 3])
    bench.engine.on_timeout(Timeout(1, 0, STEP_PRECOMMIT))
    proposal = Proposal.signed(CHAIN_ID, bench.signers[bench.proposer(1)], 1, 1, B[0], 0, B[1])
    check, = of_type(bench.engine.on_proposal(proposal), CheckBlock)
    assert sent(bench.engine.on_block_checked(1, 1, check.block_hash, True)) == [bench.vote(0, PREVOTE, 1, B[0])]


def test_a_double_signer_counts_once_toward_votes_for_anything():
    bench = started()
    bench.engine.on_timeout(Timeout(1, 0, STEP_PROPOSE))  # own nil prevote
    bench.votes(PREVOTE, 0, NIL, [1])
    actions = bench.votes(PREVOTE, 0, B[0], [1])
    assert of_type(actions, EvidenceFound) and not [a for a in actions if not isinstance(a, EvidenceFound)]
    assert sent(bench.votes(PREVOTE, 0, NIL, [2])) == [bench.vote(0, PRECOMMIT, 0, NIL)]


def test_restored_vote_is_repeated_instead_of_a_different_one():
    bench = Bench()
    earlier = bench.vote(0, PREVOTE, 0, B[0])
    bench.engine.restore([earlier])
    bench.engine.start_height(1, bench.validators)
    actions = bench.engine.on_timeout(Timeout(1, 0, STEP_PROPOSE))  # would be a nil prevote
    assert sent(actions) == [earlier]


def test_restored_precommit_restores_the_lock_and_the_round():
    bench = Bench()
    bench.engine.restore([bench.vote(0, PREVOTE, 1, B[0]), bench.vote(0, PRECOMMIT, 1, B[0]),
                          bench.vote(3, PRECOMMIT, 1, C[0])])  # not ours: ignored
    bench.engine.start_height(1, bench.validators)
    assert bench.engine.round == 1
    bench.votes(PRECOMMIT, 1, NIL, [1, 2])
    bench.engine.on_timeout(Timeout(1, 1, STEP_PRECOMMIT))
    other = make_block(1, 2, 3, 1)
    check, = of_type(bench.engine.on_proposal(bench.proposal(2, other)), CheckBlock)
    assert sent(bench.engine.on_block_checked(1, 2, check.block_hash, True)) == [bench.vote(0, PREVOTE, 2, NIL)]


def test_restored_proposal_is_repeated_instead_of_building_a_block():
    bench = Bench()
    height = 4
    assert proposer(bench.validators, height, 0) == bench.signers[0].address
    block = make_block(height, 0, 0, 1)
    earlier = Proposal.signed(CHAIN_ID, bench.signers[0], height, 0, block[0], -1, block[1])
    bench.engine.restore([earlier])
    actions = bench.engine.start_height(height, bench.validators)
    assert of_type(actions, BuildBlock) == []
    assert earlier in sent(actions)


def test_later_heights_are_buffered_and_replayed():
    bench = Bench()
    block = make_block(2, 0, 2, 1)
    proposal = bench.proposal(0, block, height=2)
    early = [proposal] + [bench.vote(i, PRECOMMIT, 0, block[0], height=2) for i in (1, 2, 3)]
    too_far = bench.vote(1, PREVOTE, 0, NIL, height=4)
    bench.engine.start_height(1, bench.validators)
    for message in early + [too_far]:
        assert (bench.engine.on_proposal(message) if isinstance(message, Proposal)
                else bench.engine.on_vote(message)) == []
    assert bench.engine.on_vote(bench.vote(1, PREVOTE, 0, NIL, height=0)) == []  # older: dropped
    actions = bench.engine.start_height(2, bench.validators)
    check, = of_type(actions, CheckBlock)
    decide, = of_type(bench.engine.on_block_checked(2, 0, check.block_hash, True), Decide)
    assert decide.height == 2 and decide.commit.verify(CHAIN_ID, bench.validators) is None


def test_buffer_is_bounded():
    buffer = FutureBuffer(window=2, limit=3)
    bench = Bench()
    votes = [bench.vote(i, PREVOTE, 0, NIL, height=2) for i in range(4)]
    assert [buffer.add(1, v) for v in votes] == [True, True, True, False]
    assert buffer.add(1, votes[0]) is True and len(buffer) == 3  # the same message is kept once
    assert not buffer.add(1, bench.vote(0, PREVOTE, 0, NIL, height=4))
    assert buffer.take(3) == [] and len(buffer) == 0


def test_non_validator_follows_and_decides_without_signing():
    for signer in (None, SimSigner(b"\x05" * 32)):
        bench = Bench()
        engine = Engine(CHAIN_ID, signer)
        actions = engine.start_height(1, bench.validators)
        actions += engine.on_proposal(bench.proposal(0, B))
        actions += engine.on_block_checked(1, 0, B[0], True)
        actions += engine.on_timeout(Timeout(1, 0, STEP_PROPOSE))
        for i in (1, 2, 3):
            actions += engine.on_vote(bench.vote(i, PRECOMMIT, 0, B[0]))
        assert of_type(actions, Broadcast) == [] and of_type(actions, BuildBlock) == []
        assert [d.block_hash for d in of_type(actions, Decide)] == [B[0]]


def test_bad_messages_are_dropped():
    bench = started()
    outsider = SimSigner(b"\x06" * 32)
    wrong_proposer = bench.signers[(bench.proposer(0) + 1) % 4]
    bad = [
        Vote.signed(CHAIN_ID, outsider, PRECOMMIT, 1, 0, B[0]),
        Vote.signed("other-chain", bench.signers[1], PRECOMMIT, 1, 0, B[0]),
        Vote(PRECOMMIT, 1, 0, B[0], bench.signers[2].address, bench.vote(2, PRECOMMIT, 0, C[0]).signature),
        Proposal.signed(CHAIN_ID, wrong_proposer, 1, 0, B[0], -1, B[1]),
    ]
    for message in bad:
        actions = bench.engine.on_proposal(message) if isinstance(message, Proposal) else bench.engine.on_vote(message)
        assert actions == []
    assert of_type(bench.votes(PRECOMMIT, 0, B[0], [3]), Decide) == []


def test_other_bytes_under_an_honest_hash_do_not_poison_the_block():
    bench = started()
    forged = Proposal.signed(CHAIN_ID, bench.signers[bench.proposer(0)], 1, 0, B[0], -1, b"junk")
    check, = of_type(bench.engine.on_proposal(forged), CheckBlock)
    assert of_type(bench.engine.on_proposal(bench.proposal(0, B)), CheckBlock) == []  # one check at a time
    recheck, = of_type(bench.engine.on_block_checked(1, 0, B[0], False), CheckBlock)
    assert recheck.block == B[1]
    actions = bench.engine.on_block_checked(1, 0, B[0], True)
    assert sent(actions) == [bench.vote(0, PREVOTE, 0, B[0])]
    assert of_type(bench.engine.on_proposal(forged), CheckBlock) == []


def test_heights_only_go_up():
    bench = started()
    with pytest.raises(ValueError):
        bench.engine.start_height(1, bench.validators)


class RefusingSigner:
    """Signs like ``signer`` except at the positions in ``refused``: (round, step), step 0 the proposal, else the vote type."""

    def __init__(self, signer: SimSigner, refused: set[tuple[int, int]]):
        self.signer, self.refused, self.address = signer, refused, signer.address

    def sign(self, message: bytes) -> bytes:
        _height, round_, step = position(message)
        if (round_, step) in self.refused:
            raise SignatureRefused(f"refused round {round_} step {step}")
        return self.signer.sign(message)


def test_a_refused_signature_skips_the_step_and_the_engine_goes_on():
    """The crash window between the signing state and the WAL: after a restart the signer
    refuses the proposal and the prevote of round 0; the engine sends neither, leaves the
    round by its timeouts as a slow validator would, and signs in round 1."""
    bench = Bench()
    me = bench.proposer(0)
    bench.engine = Engine(CHAIN_ID, RefusingSigner(bench.signers[me], {(0, 0), (0, PREVOTE)}), bench.engine.timeouts)
    bench.me = me
    assert of_type(bench.engine.start_height(1, bench.validators), BuildBlock) == [BuildBlock(1, 0)]
    assert sent(bench.engine.on_block_built(1, 0, B[0], B[1])) == []          # no proposal
    assert sent(bench.engine.on_timeout(Timeout(1, 0, STEP_PROPOSE))) == []   # no prevote, and the step moves on
    assert bench.engine.step == STEP_PREVOTE
    others = [i for i in range(4) if i != me]
    bench.votes(PREVOTE, 0, NIL, others)
    bench.engine.on_timeout(Timeout(1, 0, STEP_PREVOTE))
    bench.votes(PRECOMMIT, 0, NIL, others)
    bench.engine.on_timeout(Timeout(1, 0, STEP_PRECOMMIT))
    assert bench.engine.round == 1
    block = make_block(1, 1, 2, 1)
    assert of_type(bench.engine.on_proposal(bench.proposal(1, block)), CheckBlock)
    assert [(m.type, m.round) for m in sent(bench.engine.on_block_checked(1, 1, block[0], True))] == [(PREVOTE, 1)]
