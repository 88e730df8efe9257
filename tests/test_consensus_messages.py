"""Consensus messages: canonical round trips, rejection of malformed bytes, signatures and
double-signing evidence."""
import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.messages import (NIL, PRECOMMIT, PREVOTE, STEP_NEW_HEIGHT, STEP_PRECOMMIT, DuplicateVoteEvidence,
                                Proposal, Timeout, Vote)
from consensus.types import proposal_sign_bytes
from tests.consensus_sim import CHAIN_ID, SimSigner, make_validators

SIGNERS, VALIDATORS = make_validators([1, 2, 3])
OUTSIDER = SimSigner(b"\x07" * 32)

heights = st.integers(0, 2**63 - 1)
rounds = st.integers(0, 2**31)
hashes = st.binary(min_size=32, max_size=32)
signers = st.sampled_from(SIGNERS)


@st.composite
def proposals(draw):
    round_ = draw(rounds)
    return Proposal.signed(CHAIN_ID, draw(signers), draw(heights), round_, draw(hashes),
                           draw(st.integers(-1, round_ - 1)), draw(st.binary(max_size=200)))


@st.composite
def votes(draw):
    return Vote.signed(CHAIN_ID, draw(signers), draw(st.sampled_from([PREVOTE, PRECOMMIT])), draw(heights),
                       draw(rounds), draw(st.one_of(st.just(NIL), hashes)))


timeouts = st.builds(Timeout, heights, rounds, st.integers(STEP_NEW_HEIGHT, STEP_PRECOMMIT))
messages = st.one_of(proposals(), votes(), timeouts)


def evidence(first: bytes = b"\x01" * 32, second: bytes = NIL, signer: SimSigner = SIGNERS[0]) -> DuplicateVoteEvidence:
    return DuplicateVoteEvidence(Vote.signed(CHAIN_ID, signer, PREVOTE, 5, 2, first),
                                 Vote.signed(CHAIN_ID, signer, PREVOTE, 5, 2, second))


@settings(max_examples=60, deadline=None)
@given(messages)
def test_round_trip(message):
    data = message.to_bytes()
    assert type(message).from_bytes(data) == message
    assert type(message).from_list(msgpack.unpackb(data)) == message


@settings(max_examples=60, deadline=None)
@given(messages, st.data())
def test_truncated_or_extended_bytes_are_rejected(message, data):
    encoded = message.to_bytes()
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(ValueError):
        type(message).from_bytes(encoded[:cut])
    with pytest.raises(ValueError):
        type(message).from_bytes(encoded + b"\x00")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([Proposal, Vote, Timeout, DuplicateVoteEvidence]), st.binary(max_size=120))
def test_random_bytes_raise_value_error_or_round_trip(kind, data):
    try:
        message = kind.from_bytes(data)
    except ValueError:
        return
    assert message.to_bytes() == data


@pytest.mark.parametrize("kind, fields", [
    (Vote, [3, 1, 0, NIL, SIGNERS[0].address, b"s" * 64]),  # unknown vote type
    (Vote, [PREVOTE, True, 0, NIL, SIGNERS[0].address, b"s" * 64]),  # bool height
    (Vote, [PREVOTE, 1, -1, NIL, SIGNERS[0].address, b"s" * 64]),  # negative round
    (Vote, [PREVOTE, 1, 0, b"h" * 31, SIGNERS[0].address, b"s" * 64]),  # short hash
    (Vote, [PREVOTE, 1, 0, "h" * 32, SIGNERS[0].address, b"s" * 64]),  # hash as str
    (Vote, [PREVOTE, 1, 0, NIL, SIGNERS[0].address.upper(), b"s" * 64]),  # not an address
    (Vote, [PREVOTE, 1, 0, NIL, SIGNERS[0].address, b"s" * 63]),  # short signature
    (Vote, [PREVOTE, 1, 0, NIL, SIGNERS[0].address]),  # missing field
    (Proposal, [1, 2, b"h" * 32, 2, b"block", SIGNERS[0].address, b"s" * 64]),  # pol_round not below round
    (Proposal, [1, 2, b"h" * 32, -2, b"block", SIGNERS[0].address, b"s" * 64]),  # pol_round below -1
    (Proposal, [1, 2, NIL, -1, b"block", SIGNERS[0].address, b"s" * 64]),  # nil block hash
    (Proposal, [1, 2, b"h" * 32, -1, None, SIGNERS[0].address, b"s" * 64]),  # no block
    (Timeout, [1, 0, 3]),  # unknown step
    (Timeout, {"height": 1}),  # not a list
    (DuplicateVoteEvidence, [[PREVOTE, 1, 0, NIL, SIGNERS[0].address, b"s" * 64]]),  # one vote
    (DuplicateVoteEvidence, [[PREVOTE, 1, 0, NIL, SIGNERS[0].address, b"s" * 64], 7]),  # not a vote
])
def test_malformed_fields_raise_value_error(kind, fields):
    with pytest.raises(ValueError):
        kind.from_bytes(msgpack.packb(fields, use_bin_type=True))


def test_only_the_canonical_encoding_is_accepted():
    vote = Vote.signed(CHAIN_ID, SIGNERS[0], PREVOTE, 1, 0, NIL)
    wide_height = b"\x96\x01\xcd\x00\x01" + vote.to_bytes()[3:]  # height 1 as a 16-bit integer
    assert msgpack.unpackb(wide_height) == msgpack.unpackb(vote.to_bytes())
    with pytest.raises(ValueError, match="canonical"):
        Vote.from_bytes(wide_height)
    with pytest.raises(ValueError):
        Vote.from_bytes(bytearray(vote.to_bytes()))


def test_signatures_verify_against_the_validator_set():
    vote = Vote.signed(CHAIN_ID, SIGNERS[1], PRECOMMIT, 3, 1, b"\x02" * 32)
    assert vote.verify(CHAIN_ID, VALIDATORS) is None
    assert "bad signature" in vote.verify("other-chain", VALIDATORS)
    forged = Vote(PRECOMMIT, 3, 1, b"\x03" * 32, vote.validator, vote.signature)
    assert "bad signature" in forged.verify(CHAIN_ID, VALIDATORS)
    assert "not a validator" in Vote.signed(CHAIN_ID, OUTSIDER, PREVOTE, 3, 1, NIL).verify(CHAIN_ID, VALIDATORS)

    proposal = Proposal.signed(CHAIN_ID, SIGNERS[2], 3, 1, b"\x02" * 32, 0, b"block")
    assert proposal.sign_bytes(CHAIN_ID) == proposal_sign_bytes(CHAIN_ID, 3, 1, b"\x02" * 32, 0)
    assert proposal.verify_signature(CHAIN_ID, SIGNERS[2].public_key)
    assert not proposal.verify_signature(CHAIN_ID, SIGNERS[1].public_key)
    moved = Proposal(3, 1, b"\x02" * 32, -1, b"block", proposal.proposer, proposal.signature)
    assert not moved.verify_signature(CHAIN_ID, SIGNERS[2].public_key)


def test_evidence_verifies_and_round_trips():
    proof = evidence()
    assert proof.verify(CHAIN_ID, VALIDATORS) is None
    assert DuplicateVoteEvidence.from_bytes(proof.to_bytes()) == proof


def test_forged_evidence_is_rejected():
    a = Vote.signed(CHAIN_ID, SIGNERS[0], PREVOTE, 5, 2, b"\x01" * 32)
    forgeries = {
        "same block": DuplicateVoteEvidence(a, a),
        "different validators": DuplicateVoteEvidence(a, Vote.signed(CHAIN_ID, SIGNERS[1], PREVOTE, 5, 2, NIL)),
        "different round": DuplicateVoteEvidence(a, Vote.signed(CHAIN_ID, SIGNERS[0], PREVOTE, 5, 3, NIL)),
        "different height": DuplicateVoteEvidence(a, Vote.signed(CHAIN_ID, SIGNERS[0], PREVOTE, 6, 2, NIL)),
        "different type": DuplicateVoteEvidence(a, Vote.signed(CHAIN_ID, SIGNERS[0], PRECOMMIT, 5, 2, NIL)),
        "bad signature": DuplicateVoteEvidence(a, Vote(PREVOTE, 5, 2, NIL, a.validator, a.signature)),
        "not a validator": evidence(signer=OUTSIDER),
        "other chain": DuplicateVoteEvidence(a, Vote.signed("other-chain", SIGNERS[0], PREVOTE, 5, 2, NIL)),
    }
    for name, forgery in forgeries.items():
        assert forgery.verify(CHAIN_ID, VALIDATORS) is not None, name
