"""Fuzzing the record decoders: transactions, blocks and consensus messages, from random bytes
and from valid encodings with random edits, fail only with their own format errors."""
from __future__ import annotations

from hypothesis import given, strategies as st

from consensus.messages import DuplicateVoteEvidence, Proposal, Timeout, Vote
from consensus.types import Commit, CommitSignature
from node.block import Block, BlockFormatError, Header
from node.keys import KeyPair
from node.tx import CallPayload, DeployPayload, GovernancePayload, Transaction, TxFormatError
from tests.fuzz import canonical_values as values, fuzz, mutated

KEY = KeyPair(b"\x07" * 32)
ADDRESS = "0x" + "ab" * 20
hashes = st.binary(min_size=32, max_size=32)
uints = st.integers(0, 2**64 - 1)

payloads = st.one_of(
    st.builds(CallPayload, st.just(ADDRESS), st.text(max_size=12), st.lists(values, max_size=3)),
    st.builds(DeployPayload, st.text(max_size=40), st.lists(values, max_size=2)),
    st.builds(GovernancePayload, st.text(max_size=12), st.dictionaries(st.text(max_size=6), values, max_size=3)))
transactions = st.builds(lambda chain, nonce, gas, payload: Transaction(chain, KEY.public_key, nonce, gas, payload).signed(KEY),
                         st.text(max_size=10), uints, uints, payloads)
headers = st.builds(Header, st.text(max_size=10), uints, uints, hashes, hashes, hashes, hashes, hashes, st.just(ADDRESS))
commits = st.builds(Commit, uints, uints, hashes, st.lists(st.builds(CommitSignature, st.just(ADDRESS), st.binary(max_size=64)),
                                                           max_size=3).map(tuple))
blocks = st.builds(Block, headers, st.lists(transactions, max_size=3).map(tuple), st.none() | commits)

votes = st.builds(lambda kind, height, round_, block_hash: Vote.signed("c", KEY, kind, height, round_, block_hash),
                  st.sampled_from((1, 2)), uints, uints, st.just(b"") | hashes)
messages = st.one_of(
    votes,
    st.builds(lambda height, round_, block_hash, block: Proposal.signed("c", KEY, height, round_, block_hash, -1, block),
              uints, uints, hashes, st.binary(max_size=64)),
    st.builds(Timeout, uints, uints, st.sampled_from((-1, 0, 1, 2))),
    st.builds(DuplicateVoteEvidence, votes, votes))
MESSAGE_TYPES = (Proposal, Vote, Timeout, DuplicateVoteEvidence)


def tx_or_format_error(data: bytes) -> None:
    try:
        tx = Transaction.from_bytes(data)
    except TxFormatError:
        return
    assert tx.to_bytes() == data


@given(st.binary(max_size=400) | mutated(transactions.map(Transaction.to_bytes)))
@fuzz(examples=200, deadline_ms=500)
def test_transaction_decoding_fails_only_with_tx_format_error(data):
    tx_or_format_error(data)


@given(st.binary(max_size=600) | mutated(blocks.map(Block.to_bytes)))
@fuzz(examples=150, deadline_ms=1000)
def test_block_decoding_fails_only_with_block_format_error(data):
    try:
        Block.from_bytes(data)
    except BlockFormatError:
        pass


@given(st.binary(max_size=300) | mutated(messages.map(lambda m: m.to_bytes())), st.sampled_from(MESSAGE_TYPES))
@fuzz(examples=200, deadline_ms=500)
def test_consensus_message_decoding_fails_only_with_value_error(data, message_type):
    try:
        message = message_type.from_bytes(data)
    except ValueError:
        return
    assert message.to_bytes() == data


@given(messages)
@fuzz(examples=100, deadline_ms=500)
def test_consensus_messages_round_trip(message):
    assert type(message).from_bytes(message.to_bytes()) == message
