"""Vote tallies of one height: voting power per block hash for each (type, round).

A validator's vote counts once toward the block hash it names. A validator that signs
votes for several block hashes in one (type, round) counts toward each of them, as in the
paper ("2f+1 PREVOTE messages for id(v)"), and each later vote is reported with its first
one as evidence, once per pair. Counting such votes is safe: two quorums for different
blocks in one round would still share more than 1/3 of the power, so an honest validator
would have double-signed. Counting only the first vote is not live: a double-signer can
show a proof-of-lock to some honest validators and hide it from others forever, since
which vote arrives first differs between them. The power of "votes for anything" counts
each validator once.

It also tracks which validators sent any message in each round, for the round skip on
more than 1/3 of the voting power. Signatures are checked by the caller.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from consensus.messages import PRECOMMIT, DuplicateVoteEvidence, Vote


@dataclass
class _RoundVotes:
    first: dict[str, Vote] = field(default_factory=dict)  # validator -> its first vote
    by_block: dict[bytes, dict[str, Vote]] = field(default_factory=dict)  # block hash -> validator -> vote
    power: dict[bytes, int] = field(default_factory=dict)  # block hash -> voting power
    total: int = 0  # power of the validators that voted at all


class HeightVotes:
    def __init__(self, quorum: int, skip_power: int):
        self.quorum = quorum  # more than 2/3 of the voting power
        self.skip_power = skip_power  # more than 1/3 of the voting power
        self._rounds: dict[tuple[int, int], _RoundVotes] = {}
        self._senders: dict[int, dict[str, int]] = {}  # round -> validator -> power
        self.busiest_round = -1  # highest round where more than 1/3 of the power sent messages
        self.decisive: dict[int, bytes] = {}  # round -> block hash with a quorum of precommits

    def is_known(self, vote: Vote) -> bool:
        """True if this validator's vote for this block in this (type, round) is counted."""
        tally = self._rounds.get((vote.type, vote.round))
        return tally is not None and vote.validator in tally.by_block.get(vote.block_hash, {})

    def add(self, vote: Vote, power: int) -> DuplicateVoteEvidence | None:
        """Count a validly signed vote; evidence if the validator voted differently before."""
        tally = self._rounds.setdefault((vote.type, vote.round), _RoundVotes())
        voters = tally.by_block.setdefault(vote.block_hash, {})
        if vote.validator in voters:
            return None
        voters[vote.validator] = vote
        tally.power[vote.block_hash] = tally.power.get(vote.block_hash, 0) + power
        if vote.type == PRECOMMIT and vote.block_hash and tally.power[vote.block_hash] >= self.quorum:
            self.decisive.setdefault(vote.round, vote.block_hash)
        first = tally.first.setdefault(vote.validator, vote)
        if first is not vote:
            return DuplicateVoteEvidence(first, vote)
        tally.total += power
        self.note_sender(vote.round, vote.validator, power)
        return None

    def note_sender(self, round_: int, validator: str, power: int) -> None:
        senders = self._senders.setdefault(round_, {})
        senders[validator] = power
        if round_ > self.busiest_round and sum(senders.values()) >= self.skip_power:
            self.busiest_round = round_

    def quorum_for(self, vote_type: int, round_: int) -> bytes | None:
        """The block hash (NIL included) with a quorum of votes, or None."""
        tally = self._rounds.get((vote_type, round_))
        if tally is None:
            return None
        return next((h for h, p in tally.power.items() if p >= self.quorum), None)

    def has_quorum(self, vote_type: int, round_: int) -> bool:
        """True once validators with a quorum of the power voted, for anything."""
        tally = self._rounds.get((vote_type, round_))
        return tally is not None and tally.total >= self.quorum

    def votes_for(self, vote_type: int, round_: int, block_hash: bytes) -> list[Vote]:
        tally = self._rounds.get((vote_type, round_))
        return [] if tally is None else list(tally.by_block.get(block_hash, {}).values())

    def voters(self, vote_type: int, round_: int) -> dict[str, bytes]:
        """Validator address -> the block hash (NIL for nil) of its first vote of this type and
        round: who this node has heard from, for status and diagnostics. Read-only."""
        tally = self._rounds.get((vote_type, round_))
        return {} if tally is None else {address: vote.block_hash for address, vote in tally.first.items()}
