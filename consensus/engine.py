"""The Tendermint BFT consensus engine: a pure state machine, messages in and actions out.

It follows Algorithm 1 of Buchman, Kwon and Milosevic, "The latest gossip on BFT
consensus" (2018): rounds of propose, prevote and precommit; a validator locks a block when
it precommits it, prevotes only its locked block unless a proposal carries a newer
proof-of-lock (more than 2/3 prevotes for it in ``pol_round``), and re-proposes its valid
value. A block is decided on precommits of more than 2/3 of the voting power in any round
of the height. Round numbers jump ahead on messages from more than 1/3 of the power in a
higher round. Every rule is an "upon" condition re-evaluated after each input
(``_finish``), so the order in which messages arrive does not matter.

The engine owns no clock, socket or disk: the node carries out its actions (see
``consensus.actions``) and answers ``BuildBlock`` and ``CheckBlock`` through
``on_block_built`` and ``on_block_checked``. Blocks are opaque bytes; the app decides
whether bytes are a valid block with a given hash. A node without a signer, or whose signer
is not in the validator set, follows and decides but never signs.
"""
from __future__ import annotations

from dataclasses import dataclass

from consensus.actions import Action, Broadcast, BuildBlock, Decide, EvidenceFound, ScheduleTimeout
from consensus.blocks import BlockChecks
from consensus.buffer import FutureBuffer
from consensus.messages import (NIL, PRECOMMIT, PREVOTE, STEP_NEW_HEIGHT, STEP_PRECOMMIT, STEP_PREVOTE, STEP_PROPOSE,
                                Proposal, SignatureRefused, Signer, Timeout, Vote)
from consensus.proposer import proposer
from consensus.timeouts import TimeoutConfig
from consensus.types import Commit, CommitSignature, ValidatorSet
from consensus.votes import HeightVotes

__all__ = ["Engine", "RoundState", "STEP_NAMES", "Signer", "TimeoutConfig"]

PROPOSAL_KIND = 0  # (height, round, kind) keys of signed messages: 0 for proposals, else the vote type
MAX_PROPOSALS_PER_ROUND = 4  # distinct signed proposals kept per round: bounds an equivocating proposer


STEP_NAMES = {STEP_NEW_HEIGHT: "new-height", STEP_PROPOSE: "propose", STEP_PREVOTE: "prevote",
              STEP_PRECOMMIT: "precommit"}
STEP_COMMIT_NAME = "commit"  # the height is decided; the node commits it and starts the next one


@dataclass(frozen=True)
class RoundState:
    """What the engine holds for its current height and round, for status and diagnostics."""

    height: int
    round: int
    step: str                    # a word: new-height, propose, prevote, precommit or commit
    proposer: str                # address of the round's proposer
    proposal: bytes | None       # block hash of the round's first proposal held, or None
    prevotes: dict[str, bytes]   # validator address -> block hash it prevoted in this round (NIL: nil)
    precommits: dict[str, bytes]  # the same for precommits
    validators: ValidatorSet

    def power(self, addresses) -> int:
        """Voting power of ``addresses`` in this height's validator set."""
        wanted = set(addresses)
        return sum(v.power for v in self.validators.validators if v.address in wanted)

    def missing(self, votes: dict[str, bytes]) -> list[str]:
        """Addresses of the validators without a vote in ``votes``, in validator-set order."""
        return [v.address for v in self.validators.validators if v.address not in votes]


def _kind(message: Proposal | Vote) -> int:
    return PROPOSAL_KIND if isinstance(message, Proposal) else message.type


def _sender(message: Proposal | Vote) -> str:
    return message.proposer if isinstance(message, Proposal) else message.validator


class Engine:
    def __init__(self, chain_id: str, signer: Signer | None, timeouts: TimeoutConfig = TimeoutConfig(),
                 buffer: FutureBuffer | None = None):
        self.chain_id = chain_id
        self.timeouts = timeouts
        self.height = 0
        self.round = 0
        self.step = STEP_NEW_HEIGHT
        self._signer = signer
        self._buffer = buffer or FutureBuffer()
        self._signed: dict[tuple[int, int, int], Proposal | Vote] = {}  # what this node signed, by position
        self._validators: ValidatorSet | None = None
        self._out: list[Action] = []

    # -- inputs ------------------------------------------------------------------------------
    def restore(self, own_messages: list[Proposal | Vote]) -> None:
        """Before ``start_height`` on restart: the proposals and votes this node signed (from
        its WAL). They count as received, precommits restore the lock, and the engine signs
        nothing else at their (height, round, type): it repeats them instead."""
        for message in own_messages:
            if self._signer is not None and _sender(message) == self._signer.address:
                self._signed.setdefault((message.height, message.round, _kind(message)), message)

    def start_height(self, height: int, validators: ValidatorSet) -> list[Action]:
        """Start deciding ``height`` with ``validators``; call it after committing the previous
        height (or at startup). Buffered messages for ``height`` are replayed."""
        if self._validators is not None and height <= self.height:
            raise ValueError(f"start_height({height}) after height {self.height}: heights only go up")
        self._out = []
        self._reset(height, validators)
        own = [m for (h, _, _), m in sorted(self._signed.items()) if h == height and self._me is not None]
        for message in own:
            self._accept(message)
        for message in own:
            if isinstance(message, Vote) and message.type == PRECOMMIT and message.block_hash:
                self._locked = self._valid = message.block_hash
                self._locked_round = self._valid_round = message.round
        if own:
            self._start_round(max(m.round for m in own))
        elif self.timeouts.commit > 0:
            self._schedule(STEP_NEW_HEIGHT)
        else:
            self._start_round(0)
        for message in self._buffer.take(height):
            self._receive(message)
        return self._finish()

    def on_proposal(self, proposal: Proposal) -> list[Action]:
        self._out = []
        self._receive(proposal)
        return self._finish()

    def on_vote(self, vote: Vote) -> list[Action]:
        self._out = []
        self._receive(vote)
        return self._finish()

    def on_timeout(self, timeout: Timeout) -> list[Action]:
        self._out = []
        if timeout.height == self.height and self._validators is not None and not self._decided:
            self._timeout(timeout)
        return self._finish()

    def on_block_built(self, height: int, round_: int, block_hash: bytes, block: bytes) -> list[Action]:
        """The app's answer to ``BuildBlock``: proposed if the engine still waits for it."""
        self._out = []
        if ((height, round_) == (self.height, self.round) and self.step == STEP_PROPOSE and not self._decided
                and self._is_proposer() and (height, round_, PROPOSAL_KIND) not in self._signed):
            self._blocks.add_valid(block_hash, block, round_)
            self._propose(block_hash, -1, block)
        return self._finish()

    def on_block_checked(self, height: int, round_: int, block_hash: bytes, valid: bool) -> list[Action]:
        """The app's answer to ``CheckBlock``."""
        self._out = []
        if height == self.height and self._validators is not None:
            self._emit(self._blocks.answer(block_hash, valid))
        return self._finish()

    # -- queries -----------------------------------------------------------------------------
    def proposer(self, height: int, round_: int) -> str:
        """Address of the proposer at (height, round) with the current validator set."""
        if self._validators is None:
            raise ValueError("no validator set before start_height")
        return proposer(self._validators, height, round_)

    @property
    def step_name(self) -> str:
        """The step as a word: ``commit`` once the height is decided, else the name of ``step``."""
        return STEP_COMMIT_NAME if self._validators is not None and self._decided else STEP_NAMES[self.step]

    def round_state(self) -> RoundState | None:
        """Which validators' prevotes and precommits this engine holds for its current height
        and round (the first vote of each; for which block), and whether it holds the round's
        proposal. None before ``start_height``. Changes nothing."""
        if self._validators is None:
            return None
        proposals = self._proposals.get(self.round, [])
        return RoundState(self.height, self.round, self.step_name, self.proposer(self.height, self.round),
                          proposals[0].block_hash if proposals else None,
                          self._votes.voters(PREVOTE, self.round), self._votes.voters(PRECOMMIT, self.round),
                          self._validators)

    # -- per-height state --------------------------------------------------------------------
    def _reset(self, height: int, validators: ValidatorSet) -> None:
        self.height, self.round, self.step = height, 0, STEP_NEW_HEIGHT
        self._validators = validators
        self._members = {v.address: v for v in validators.validators}
        self._order = {address: index for index, address in enumerate(self._members)}
        signer = self._signer.address if self._signer is not None else None
        self._me = signer if signer in self._members else None
        self._votes = HeightVotes(validators.quorum(), validators.total_power // 3 + 1)
        self._blocks = BlockChecks(height)
        self._proposals: dict[int, list[Proposal]] = {}
        self._locked: bytes | None = None
        self._locked_round = -1
        self._valid: bytes | None = None
        self._valid_round = -1
        self._decided = False
        self._locked_in: set[int] = set()  # rounds where line 36 fired
        self._scheduled: set[tuple[int, int]] = set()  # (step, round) of timeouts scheduled
        self._signed = {key: m for key, m in self._signed.items() if key[0] >= height}

    # -- receiving -----------------------------------------------------------------------------
    def _receive(self, message: Proposal | Vote) -> None:
        if message.height > self.height:
            self._buffer.add(self.height, message)
            return
        if message.height < self.height or self._validators is None:
            return
        sender = self._members.get(_sender(message))
        if sender is None or self._ignored(message):
            return
        if message.verify_signature(self.chain_id, sender.public_key):
            self._accept(message)

    def _ignored(self, message: Proposal | Vote) -> bool:
        """True if the message adds nothing or is dropped before its signature is checked."""
        if isinstance(message, Vote):
            return self._votes.is_known(message)
        known = self._proposals.get(message.round, [])
        return (message in known or len(known) >= MAX_PROPOSALS_PER_ROUND
                or message.proposer != self.proposer(message.height, message.round))

    def _accept(self, message: Proposal | Vote) -> None:
        """Take in a validly signed message of this height."""
        power = self._members[_sender(message)].power
        if isinstance(message, Vote):
            evidence = self._votes.add(message, power)
            if evidence is not None:
                self._out.append(EvidenceFound(evidence))
            return
        known = self._proposals.setdefault(message.round, [])
        if message not in known:
            known.append(message)
        self._votes.note_sender(message.round, message.proposer, power)
        self._emit(self._blocks.offer(message.round, message.block_hash, message.block))

    # -- the rules -----------------------------------------------------------------------------
    def _finish(self) -> list[Action]:
        """Fire every rule whose condition holds, until none does; the actions so far."""
        if self._validators is not None:
            while not self._decided and self._fire_one():
                pass
        out, self._out = self._out, []
        return out

    def _fire_one(self) -> bool:
        if self._decide() or self._skip_round():
            return True
        if self.step == STEP_PROPOSE and self._prevote_proposal():
            return True
        if self.step >= STEP_PREVOTE and self._lock():
            return True
        if self.step == STEP_PREVOTE and self._votes.quorum_for(PREVOTE, self.round) == NIL:
            self._vote(PRECOMMIT, NIL)  # line 44: a quorum prevoted nil
            return True
        if self.step == STEP_PREVOTE and self._votes.has_quorum(PREVOTE, self.round):
            self._schedule(STEP_PREVOTE)  # line 34
        if self._votes.has_quorum(PRECOMMIT, self.round):
            self._schedule(STEP_PRECOMMIT)  # line 47
        return False

    def _decide(self) -> bool:
        """Line 49: precommits of a quorum for a block the app found valid, in any round."""
        for round_, block_hash in self._votes.decisive.items():
            block = self._blocks.valid_block(block_hash)
            if block is None:
                continue
            votes = sorted(self._votes.votes_for(PRECOMMIT, round_, block_hash), key=lambda v: self._order[v.validator])
            commit = Commit(self.height, round_, block_hash,
                            tuple(CommitSignature(v.validator, v.signature) for v in votes))
            self._out.append(Decide(self.height, round_, block_hash, block, commit))
            self._decided = True
            return True
        return False

    def _skip_round(self) -> bool:
        """Line 55: more than 1/3 of the voting power is in a higher round."""
        if self._votes.busiest_round <= self.round:
            return False
        self._start_round(self._votes.busiest_round)
        return True

    def _prevote_proposal(self) -> bool:
        """Lines 22 and 28: prevote the round's proposal, or nil if it is invalid or conflicts
        with the lock without a newer proof-of-lock. Waits for the app's verdict and, for a
        re-proposal, for the prevotes that justify it."""
        for proposal in self._proposals.get(self.round, []):
            valid = self._blocks.verdict(proposal.block_hash)
            pol = self._votes.quorum_for(PREVOTE, proposal.pol_round) if proposal.pol_round >= 0 else None
            justified = proposal.pol_round < 0 or pol == proposal.block_hash
            if valid is None or not justified:
                continue
            free = self._locked_round <= proposal.pol_round or self._locked == proposal.block_hash
            self._vote(PREVOTE, proposal.block_hash if valid and free else NIL)
            return True
        return False

    def _lock(self) -> bool:
        """Line 36: a quorum prevoted a valid block in this round: lock it and precommit it (if
        still prevoting), and remember it as the valid value to re-propose."""
        block_hash = self._votes.quorum_for(PREVOTE, self.round)
        if not block_hash or not self._blocks.verdict(block_hash) or self.round in self._locked_in:
            return False
        if self.step == STEP_PREVOTE:
            self._vote(PRECOMMIT, block_hash)
            self._locked, self._locked_round = block_hash, self.round
        self._locked_in.add(self.round)
        self._valid, self._valid_round = block_hash, self.round
        return True

    def _timeout(self, timeout: Timeout) -> None:
        """Lines 57-67, and the end of the pause after a decision."""
        if timeout.step == STEP_NEW_HEIGHT:
            if self.step == STEP_NEW_HEIGHT:
                self._start_round(0)
        elif timeout.round != self.round:
            return
        elif timeout.step == STEP_PROPOSE and self.step == STEP_PROPOSE:
            self._vote(PREVOTE, NIL)
        elif timeout.step == STEP_PREVOTE and self.step == STEP_PREVOTE:
            self._vote(PRECOMMIT, NIL)
        elif timeout.step == STEP_PRECOMMIT:
            self._start_round(self.round + 1)

    # -- acting --------------------------------------------------------------------------------
    def _start_round(self, round_: int) -> None:
        """Lines 11-21; every node also waits for the proposal, the proposer included."""
        self.round, self.step = round_, STEP_PROPOSE
        self._schedule(STEP_PROPOSE)
        if not self._is_proposer():
            return
        restored = self._signed.get((self.height, round_, PROPOSAL_KIND))
        valid_block = self._blocks.valid_block(self._valid) if self._valid is not None else None
        if restored is not None:
            self._out.append(Broadcast(restored))
        elif valid_block is not None:
            self._propose(self._valid, self._valid_round, valid_block)
        else:
            self._out.append(BuildBlock(self.height, round_))

    def _is_proposer(self) -> bool:
        return self._me is not None and self.proposer(self.height, self.round) == self._me

    def _propose(self, block_hash: bytes, pol_round: int, block: bytes) -> None:
        try:
            proposal = Proposal.signed(self.chain_id, self._signer, self.height, self.round, block_hash, pol_round,
                                       block)
        except SignatureRefused:
            return  # no proposal in this round: the others' propose timeout moves them on
        self._signed[(self.height, self.round, PROPOSAL_KIND)] = proposal
        self._out.append(Broadcast(proposal))
        self._accept(proposal)

    def _vote(self, vote_type: int, block_hash: bytes) -> None:
        """Sign and send a vote for this round (or repeat the one signed before) and move on."""
        if self._me is not None:
            key = (self.height, self.round, vote_type)
            vote = self._signed.get(key) or self._sign_vote(vote_type, block_hash)
            if vote is not None:
                self._signed[key] = vote
                self._out.append(Broadcast(vote))
                self._accept(vote)
        self.step = STEP_PREVOTE if vote_type == PREVOTE else STEP_PRECOMMIT

    def _sign_vote(self, vote_type: int, block_hash: bytes) -> Vote | None:
        """A new signed vote of this round, or None if the signer refuses (the step goes by without it)."""
        try:
            return Vote.signed(self.chain_id, self._signer, vote_type, self.height, self.round, block_hash)
        except SignatureRefused:
            return None

    def _emit(self, action: Action | None) -> None:
        if action is not None:
            self._out.append(action)

    def _schedule(self, step: int) -> None:
        """Schedule the timeout of ``step`` in this round, once."""
        if (step, self.round) not in self._scheduled:
            self._scheduled.add((step, self.round))
            delay = self.timeouts.delay(step, self.round)
            self._out.append(ScheduleTimeout(Timeout(self.height, self.round, step), delay))
