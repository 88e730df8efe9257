"""A simulated network for consensus tests: many engines, a deterministic clock, faults.

Engines exchange messages through a priority queue of timed events; nothing real happens.
A seeded ``random.Random`` decides each message's delay, loss and duplication (so messages
are reordered too). Links are reliable after GST, as in the paper's partial synchrony: a
message lost before GST is sent again and arrives within ``bound`` after GST, a message
across a partition arrives after the partition heals, and every message sent after GST
arrives within ``bound`` (with GST = inf, lost messages are lost for good). A fake app
builds blocks (``msgpack([height, round, proposer, counter])``, hash SHA-256 of the bytes)
and checks them, optionally after a delay and with the blocks of some Byzantine proposers invalid.

Like the node's gossip, honest nodes relay every message the first time they see it, and a
node that hears from two or more heights ahead gets the decided block of its height and its
commit from that peer (block sync), since the engine buffers only the next two heights.

Byzantine kinds: ``SILENT`` (crashed from the start); ``EQUIVOCATE`` (as proposer, signs two
different blocks, the second a fresh one without proof-of-lock, and sends one to each half
of its peers); ``DOUBLE_VOTE`` (with every vote, signs votes for the other blocks it knows
of and for nil, and sends each peer one or two of them, favouring the block it proposed to
that peer); ``MALICIOUS`` (both). Otherwise they run the honest engine.
"""
from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import msgpack
from nacl.signing import SigningKey

from consensus.engine import Engine
from consensus.messages import (NIL, Broadcast, BuildBlock, CheckBlock, Decide, DuplicateVoteEvidence, EvidenceFound,
                                Proposal, ScheduleTimeout, Timeout, Vote)
from consensus.proposer import proposer
from consensus.timeouts import TimeoutConfig
from consensus.types import Commit, Validator, ValidatorSet, address_of

CHAIN_ID = "flexledger-sim"
HONEST, SILENT, EQUIVOCATE, DOUBLE_VOTE, MALICIOUS = "honest", "silent", "equivocate", "double-vote", "malicious"
BYZANTINE_KINDS = (SILENT, EQUIVOCATE, DOUBLE_VOTE, MALICIOUS)


class SimSigner:
    """An ed25519 key that signs like the node's signer."""

    def __init__(self, seed: bytes):
        self._key = SigningKey(seed)
        self.public_key = bytes(self._key.verify_key)
        self.address = address_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message).signature


def make_validators(powers: list[int]) -> tuple[list[SimSigner], ValidatorSet]:
    """Deterministic signers and their validator set, one per power."""
    signers = [SimSigner(hashlib.sha256(b"sim validator %d" % i).digest()) for i in range(len(powers))]
    validators = ValidatorSet(tuple(Validator(f"v{i}", s.public_key, power, "aggregator")
                                    for i, (s, power) in enumerate(zip(signers, powers))))
    return signers, validators


def make_block(height: int, round_: int, proposer: int, counter: int) -> tuple[bytes, bytes]:
    """(hash, bytes) of a fake block."""
    block = msgpack.packb([height, round_, proposer, counter])
    return hashlib.sha256(block).digest(), block


def block_is_valid(height: int, block_hash: bytes, block: bytes, invalid_proposers: frozenset[int]) -> bool:
    """The fake app's check: the bytes hash to ``block_hash``, are for ``height`` and come
    from a proposer whose blocks are not configured as invalid."""
    try:
        fields = msgpack.unpackb(block)
    except Exception:
        return False
    return (hashlib.sha256(block).digest() == block_hash and isinstance(fields, list) and len(fields) == 4
            and fields[0] == height and fields[2] not in invalid_proposers)


SYNC_RETRY = 1.0  # seconds before a lagging node asks for the same block again


@dataclass(frozen=True)
class Partition:
    groups: tuple[frozenset[int], ...]  # messages between groups sent from start...
    start: float
    end: float  # ...arrive after end (math.inf: never)

    def separates(self, a: int, b: int, now: float) -> bool:
        return self.start <= now < self.end and not any(a in g and b in g for g in self.groups)


@dataclass(frozen=True)
class Network:
    delay: tuple[float, float] = (0.005, 0.1)  # delay range before GST
    loss: float = 0.0  # probability that a message sent before GST only arrives after GST
    duplicate: float = 0.0  # probability of delivering a message twice
    gst: float = 0.0
    bound: float = 0.1  # largest delay after GST
    partitions: tuple[Partition, ...] = ()

    def arrival(self, rng: random.Random, source: int, destination: int, now: float) -> float:
        """When a message sent now arrives (math.inf: never)."""
        start = max([now] + [p.end for p in self.partitions if p.separates(source, destination, now)])
        if start >= self.gst:
            return start + rng.uniform(0, self.bound)
        if rng.random() < self.loss:
            return self.gst + rng.uniform(0, self.bound)
        return min(start + rng.uniform(*self.delay), self.gst + self.bound)


@dataclass(frozen=True)
class SyncBlock:
    """Block sync: a decided block and its commit, sent to a node that lags behind."""

    height: int
    block_hash: bytes
    block: bytes
    commit: Commit


@dataclass(frozen=True)
class Decision:
    round: int
    block_hash: bytes
    block: bytes
    commit: Commit
    synced: bool  # learnt by block sync rather than decided by the engine


@dataclass
class SimNode:
    index: int
    kind: str
    signer: SimSigner
    engine: Engine
    built: int = 0  # blocks built, so every block is different
    decisions: dict[int, Decision] = field(default_factory=dict)
    evidence: list[DuplicateVoteEvidence] = field(default_factory=list)
    seen: dict[int, set[Proposal | Vote]] = field(default_factory=dict)  # height -> messages relayed
    known_blocks: dict[int, set[bytes]] = field(default_factory=dict)  # height -> proposed hashes seen
    told: dict[int, bytes] = field(default_factory=dict)  # peer -> block hash this (malicious) node showed it
    sync_asked: dict[int, float] = field(default_factory=dict)  # height -> when

    def build(self, height: int, round_: int) -> tuple[bytes, bytes]:
        self.built += 1
        return make_block(height, round_, self.index, self.built)


class Simulation:
    def __init__(self, powers: list[int] | int = 4, seed: int = 0, byzantine: dict[int, str] | None = None,
                 network: Network = Network(), timeouts: TimeoutConfig = TimeoutConfig(),
                 invalid_proposers: frozenset[int] = frozenset(), check_delay: float = 0.0):
        if isinstance(powers, int):
            powers = [1] * powers
        self.signers, self.validators = make_validators(powers)
        self.rng = random.Random(seed)
        self.network = network
        self.invalid_proposers = invalid_proposers
        self.check_delay = check_delay
        self.now = 0.0
        self._events: list[tuple[float, int, Callable, tuple]] = []
        self._sequence = itertools.count()
        byzantine = byzantine or {}
        if any(i not in byzantine for i in invalid_proposers):
            raise ValueError("only Byzantine validators propose invalid blocks: an honest node's blocks are valid")
        self.nodes = [SimNode(i, byzantine.get(i, HONEST), s, Engine(CHAIN_ID, s, timeouts))
                      for i, s in enumerate(self.signers)]
        self.honest = [n for n in self.nodes if n.kind == HONEST]
        for node in self.nodes:
            if node.kind != SILENT:
                self._at(0.0, self._start, node)

    # -- running ---------------------------------------------------------------------------------
    def run(self, heights: int, until: float) -> bool:
        """Run until every honest node has decided ``heights`` heights, or the clock passes
        ``until``; True in the first case."""
        while self._events and not self.all_decided(heights):
            time, _, action, args = heapq.heappop(self._events)
            if time > until:
                break
            self.now = time
            action(*args)
        return self.all_decided(heights)

    def all_decided(self, heights: int) -> bool:
        return all(all(h in n.decisions for h in range(1, heights + 1)) for n in self.honest)

    def _at(self, time: float, action: Callable, *args) -> None:
        heapq.heappush(self._events, (time, next(self._sequence), action, args))

    def _start(self, node: SimNode) -> None:
        self._handle(node, node.engine.start_height(1, self.validators))

    # -- engine actions ------------------------------------------------------------------------
    def _handle(self, node: SimNode, actions: list) -> None:
        queue = deque(actions)
        while queue:
            action = queue.popleft()
            if isinstance(action, Broadcast):
                self._broadcast(node, action.message)
            elif isinstance(action, ScheduleTimeout):
                self._at(self.now + action.delay, self._timeout, node, action.timeout)
            elif isinstance(action, BuildBlock):
                block_hash, block = node.build(action.height, action.round)
                queue.extend(node.engine.on_block_built(action.height, action.round, block_hash, block))
            elif isinstance(action, CheckBlock):
                if self.check_delay:
                    self._at(self.now + self.check_delay, self._check, node, action)
                else:
                    queue.extend(self._checked(node, action))
            elif isinstance(action, Decide):
                self._decided(node, action.height, action.round, action.block_hash, action.block, action.commit, False)
                queue.extend(node.engine.start_height(action.height + 1, self.validators))
            elif isinstance(action, EvidenceFound):
                node.evidence.append(action.evidence)
            else:
                raise TypeError(f"unknown action {action!r}")

    def _checked(self, node: SimNode, check: CheckBlock) -> list:
        valid = block_is_valid(check.height, check.block_hash, check.block, self.invalid_proposers)
        return node.engine.on_block_checked(check.height, check.round, check.block_hash, valid)

    def _check(self, node: SimNode, check: CheckBlock) -> None:
        self._handle(node, self._checked(node, check))

    def _timeout(self, node: SimNode, timeout: Timeout) -> None:
        self._handle(node, node.engine.on_timeout(timeout))

    def _decided(self, node: SimNode, height: int, round_: int, block_hash: bytes, block: bytes, commit: Commit,
                 synced: bool) -> None:
        assert height not in node.decisions, f"node {node.index} decided height {height} twice"
        node.decisions[height] = Decision(round_, block_hash, block, commit, synced)
        node.seen = {h: seen for h, seen in node.seen.items() if h > height}
        node.told.clear()

    # -- the network -----------------------------------------------------------------------------
    def _broadcast(self, node: SimNode, message: Proposal | Vote) -> None:
        peers = [i for i in range(len(self.nodes)) if i != node.index]
        if isinstance(message, Proposal):
            node.known_blocks.setdefault(message.height, set()).add(message.block_hash)
        if node.kind in (EQUIVOCATE, MALICIOUS) and isinstance(message, Proposal):
            block_hash, block = node.build(message.height, message.round)
            twin = Proposal.signed(CHAIN_ID, node.signer, message.height, message.round, block_hash, -1, block)
            node.known_blocks[message.height].add(block_hash)
            self.rng.shuffle(peers)
            for position, peer in enumerate(peers):
                proposal = message if position < len(peers) // 2 else twin
                node.told[peer] = proposal.block_hash
                self._send(node, peer, proposal)
        elif node.kind in (DOUBLE_VOTE, MALICIOUS) and isinstance(message, Vote):
            hashes = sorted(node.known_blocks.get(message.height, set()) | {NIL, message.block_hash})
            votes = {message.block_hash: message}
            for peer in peers:
                told = node.told.get(peer)
                for block_hash in {told if told in hashes else self.rng.choice(hashes), self.rng.choice(hashes)}:
                    if block_hash not in votes:
                        votes[block_hash] = Vote.signed(CHAIN_ID, node.signer, message.type, message.height,
                                                        message.round, block_hash)
                    self._send(node, peer, votes[block_hash])
        else:
            for peer in peers:
                self._send(node, peer, message)

    def _send(self, node: SimNode, peer: int, message: Proposal | Vote | SyncBlock) -> None:
        copies = 2 if self.rng.random() < self.network.duplicate else 1
        for _ in range(copies):
            arrival = self.network.arrival(self.rng, node.index, peer, self.now)
            if arrival < math.inf:
                self._at(arrival, self._deliver, node.index, peer, message)

    def _deliver(self, source: int, destination: int, message: Proposal | Vote | SyncBlock) -> None:
        node = self.nodes[destination]
        if node.kind == SILENT:
            return
        if isinstance(message, SyncBlock):
            self._synced(node, message)
            return
        if message.height > node.engine.height + 1:
            self._ask_sync(node, self.nodes[source])
        seen = node.seen.setdefault(message.height, set())
        if node.kind == HONEST and message not in seen:
            for peer in range(len(self.nodes)):
                if peer not in (source, node.index):
                    self._send(node, peer, message)
        seen.add(message)
        if isinstance(message, Proposal):
            node.known_blocks.setdefault(message.height, set()).add(message.block_hash)
            self._handle(node, node.engine.on_proposal(message))
        else:
            self._handle(node, node.engine.on_vote(message))

    # -- block sync ------------------------------------------------------------------------------
    def _ask_sync(self, node: SimNode, peer: SimNode) -> None:
        height = node.engine.height
        decision = peer.decisions.get(height)
        if decision is None or self.now - node.sync_asked.get(height, -SYNC_RETRY) < SYNC_RETRY:
            return
        node.sync_asked[height] = self.now
        self._send(peer, node.index, SyncBlock(height, decision.block_hash, decision.block, decision.commit))

    def _synced(self, node: SimNode, sync: SyncBlock) -> None:
        if sync.height != node.engine.height or sync.height in node.decisions:
            return
        if (sync.commit.verify(CHAIN_ID, self.validators) is not None or sync.commit.height != sync.height
                or sync.commit.block_hash != sync.block_hash
                or not block_is_valid(sync.height, sync.block_hash, sync.block, self.invalid_proposers)):
            return
        self._decided(node, sync.height, sync.commit.round, sync.block_hash, sync.block, sync.commit, True)
        self._handle(node, node.engine.start_height(sync.height + 1, self.validators))

    # -- checks ----------------------------------------------------------------------------------
    def check_safety(self) -> None:
        """Honest nodes agree on every height; every commit and every piece of evidence is
        valid, and only Byzantine validators are accused."""
        byzantine = {self.signers[n.index].address for n in self.nodes if n.kind != HONEST}
        decided: dict[int, bytes] = {}
        for node in self.honest:
            for height, decision in node.decisions.items():
                agreed = decided.setdefault(height, decision.block_hash)
                assert agreed == decision.block_hash, f"height {height}: honest nodes decided different blocks"
                commit = decision.commit
                assert commit.verify(CHAIN_ID, self.validators) is None, commit.verify(CHAIN_ID, self.validators)
                assert (commit.height, commit.round, commit.block_hash) == (height, decision.round, decision.block_hash)
                assert block_is_valid(height, decision.block_hash, decision.block, self.invalid_proposers)
            for evidence in node.evidence:
                assert evidence.verify(CHAIN_ID, self.validators) is None
                assert evidence.vote_a.validator in byzantine


class Bench:
    """One engine, validator ``me`` of ``n`` equal ones, fed hand-crafted messages."""

    def __init__(self, n: int = 4, me: int = 0, timeouts: TimeoutConfig = TimeoutConfig()):
        self.signers, self.validators = make_validators([1] * n)
        self.engine = Engine(CHAIN_ID, self.signers[me], timeouts)
        self.me = me

    def proposer(self, round_: int, height: int = 1) -> int:
        address = proposer(self.validators, height, round_)
        return next(i for i, s in enumerate(self.signers) if s.address == address)

    def proposal(self, round_: int, block: tuple[bytes, bytes], pol_round: int = -1, height: int = 1) -> Proposal:
        """A proposal of ``block`` (hash, bytes) signed by the round's proposer."""
        block_hash, data = block
        return Proposal.signed(CHAIN_ID, self.signers[self.proposer(round_, height)], height, round_, block_hash,
                               pol_round, data)

    def vote(self, index: int, vote_type: int, round_: int, block_hash: bytes, height: int = 1) -> Vote:
        return Vote.signed(CHAIN_ID, self.signers[index], vote_type, height, round_, block_hash)

    def votes(self, vote_type: int, round_: int, block_hash: bytes, voters: list[int], height: int = 1) -> list:
        """Feed votes from ``voters``; the engine's actions."""
        actions = []
        for index in voters:
            actions += self.engine.on_vote(self.vote(index, vote_type, round_, block_hash, height))
        return actions


def sent(actions: list) -> list[Proposal | Vote]:
    """The messages broadcast by ``actions``."""
    return [a.message for a in actions if isinstance(a, Broadcast)]


def of_type(actions: list, kind: type) -> list:
    return [a for a in actions if isinstance(a, kind)]
