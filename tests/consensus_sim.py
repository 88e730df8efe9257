"""A simulated network for consensus tests: many engines, a deterministic clock, faults.

Engines exchange messages through a priority queue of timed events; nothing real happens.
A seeded ``random.Random`` decides each message's delay, loss and duplication (so messages
are reordered too). Links are reliable after GST, as in the paper's partial synchrony: a
message lost before GST is sent again and arrives within ``bound`` after GST, a message
across a partition arrives after the partition heals (is lost, if ``lossy``: the links are
down), and every message sent after GST
arrives within ``bound`` (with GST = inf, lost messages are lost for good). A fake app
builds blocks (``msgpack([height, round, proposer, counter])``, hash SHA-256 of the bytes)
and checks them, optionally after a delay and with the blocks of some Byzantine proposers invalid.

Like the node's gossip, honest nodes relay every message the first time they see it, and a
node that hears from two or more heights ahead gets the decided block of its height and its
commit from that peer (block sync), since the engine buffers only the next two heights.

The gossip rules of node/bftdriver.py are modelled (``Gossip``), so that issue 17 can be
replayed: a node's seen set drops a message heard before, without feeding it to the engine;
a message for a height above the node's chain height + 1 is not remembered as seen (only
relayed once), so the peers' re-sends still count once the node gets there
(``Gossip(remember_ahead=True)`` is the old rule that remembered everything); and an honest
node resends its own messages for its current height to a peer that links up (a node coming
up, a healed partition) and rebroadcasts them every ``SYNC_POLL`` while its height does not
advance (``Gossip(regossip=False)`` turns both off), together with every message of that height
it received (``Gossip(rebroadcast_all=False)``: only its own, as the driver did before). Received
messages for the chain height + 1 are written to a WAL and replayed when the engine starts
that height (``Gossip(replay_received=False)``: only at a restart, as the driver did before);
see tests/test_consensus_late_join.py for the bugs those two older rules cause.

Crash faults (``Outage``): a node can be down from the start or from a time, and come back
(or not). While down it receives nothing (messages to it are lost) and sends nothing; it
was either killed (it restarts with its chain and WAL but a fresh engine and seen set) or
frozen (it resumes with everything; its timeouts that fell due fire at resume). Coming up
it catches up by block sync first, in batches from the reachable peer furthest ahead
(``sync_time`` seconds per block), as ``BftDriver.run`` does, then enters consensus at the
next height, usually after the others voted in it. Every ``SYNC_POLL`` a running node behind
a reachable peer catches up the same way, its engine left at its height until it is done.
``on_enter`` is called whenever a node starts a height, and ``run_until`` stops at any
condition, so a test can inject a fault at a chosen moment (``go_down``, ``come_up``).

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
from collections import Counter, deque
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
SYNC_POLL = 2.0  # as node.bftdriver.SYNC_POLL: the period of block-sync checks and of rebroadcasts of a stuck height


@dataclass(frozen=True)
class Gossip:
    """The driver's gossip rules (node/bftdriver.py); the defaults are the driver's."""

    remember_ahead: bool = False  # True: the old rule (issue 17's cause), remember as seen even a message for a
    # height above chain height + 1, which the engine may not be able to keep
    regossip: bool = True  # resend own messages of the current height to a peer that links up, and rebroadcast
    # them every SYNC_POLL while the height does not advance
    rebroadcast_all: bool = True  # rebroadcast every message of the current height it signed or received, as
    # Tendermint gossips the votes a peer lacks; False: only its own (the driver before the sim found bug B)
    replay_received: bool = True  # feed the engine the WAL's received messages of a height when it starts it;
    # False: only at startup (the driver before the sim found bug A, the catch-up window)


@dataclass(frozen=True)
class Outage:
    """Validator ``node`` is down from ``start`` (0.0: from the start) until ``end`` (math.inf: for good).
    ``restart``: it was killed, and comes back with its chain and WAL only; else it was frozen, and resumes."""

    node: int
    start: float
    end: float = math.inf
    restart: bool = True


@dataclass(frozen=True)
class Partition:
    groups: tuple[frozenset[int], ...]  # messages between groups sent from start...
    start: float
    end: float  # ...arrive after end (math.inf: never)
    lossy: bool = False  # ...or are lost: the links are down, and the nodes resend (Gossip.regossip) when they heal

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
        cut = [p for p in self.partitions if p.separates(source, destination, now)]
        if any(p.lossy for p in cut):
            return math.inf
        start = max([now] + [p.end for p in cut])
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
class SyncRequest:
    """Catch-up: the decided blocks from ``height`` on, please."""

    height: int


@dataclass(frozen=True)
class SyncBatch:
    """Catch-up: the answer to a ``SyncRequest``, decided blocks in order (none if not ahead)."""

    blocks: tuple[SyncBlock, ...]


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
    relayed_ahead: set[Proposal | Vote] = field(default_factory=set)  # heard above chain height + 1, relayed once
    known_blocks: dict[int, set[bytes]] = field(default_factory=dict)  # height -> proposed hashes seen
    told: dict[int, bytes] = field(default_factory=dict)  # peer -> block hash this (malicious) node showed it
    sync_asked: dict[int, float] = field(default_factory=dict)  # height -> when
    up: bool = True
    epoch: int = 0  # bumped by a restart: the events of the killed process are void
    started: bool = False  # the engine was started since the last (re)start
    syncing: bool = False  # catching up by block sync before (re)entering consensus
    deferred: list = field(default_factory=list)  # events that fell due while frozen
    own: dict[int, list[Proposal | Vote]] = field(default_factory=dict)  # WAL: height -> messages signed
    received: dict[int, list[Proposal | Vote]] = field(default_factory=dict)  # WAL: height -> messages received
    entered: dict[int, float] = field(default_factory=dict)  # height -> when the engine last started it
    dropped_as_seen: Counter = field(default_factory=Counter)  # messages of the engine's height the seen set dropped
    halted: str | None = None  # the driver would stop: the engine decided a height block sync had committed

    @property
    def chain_height(self) -> int:
        return max(self.decisions, default=0)

    def build(self, height: int, round_: int) -> tuple[bytes, bytes]:
        self.built += 1
        return make_block(height, round_, self.index, self.built)


class Simulation:
    def __init__(self, powers: list[int] | int = 4, seed: int = 0, byzantine: dict[int, str] | None = None,
                 network: Network = Network(), timeouts: TimeoutConfig = TimeoutConfig(),
                 invalid_proposers: frozenset[int] = frozenset(), check_delay: float = 0.0,
                 outages: tuple[Outage, ...] = (), gossip: Gossip = Gossip(), sync_time: float = 0.0):
        if isinstance(powers, int):
            powers = [1] * powers
        self.signers, self.validators = make_validators(powers)
        self.rng = random.Random(seed)
        self.network = network
        self.invalid_proposers = invalid_proposers
        self.check_delay = check_delay
        self.timeouts = timeouts
        self.gossip = gossip
        self.sync_time = sync_time  # seconds a catching-up node takes to execute and commit each synced block
        self.now = 0.0
        self.on_enter: Callable[[SimNode, int], None] = lambda node, height: None
        self._events: list[tuple[float, int, Callable, tuple]] = []
        self._sequence = itertools.count()
        byzantine = byzantine or {}
        if any(i not in byzantine for i in invalid_proposers):
            raise ValueError("only Byzantine validators propose invalid blocks: an honest node's blocks are valid")
        self.nodes = [SimNode(i, byzantine.get(i, HONEST), s, Engine(CHAIN_ID, s, timeouts))
                      for i, s in enumerate(self.signers)]
        self.honest = [n for n in self.nodes if n.kind == HONEST]
        down_for_good = {o.node for o in outages if o.end == math.inf}
        self.live = [n for n in self.honest if n.index not in down_for_good]  # up at the end: they must decide
        for outage in outages:
            if outage.start <= 0.0:
                self.nodes[outage.node].up = False
            else:
                self._at(outage.start, self.go_down, outage.node, outage.restart)
            if outage.end < math.inf:
                self._at(outage.end, self.come_up, outage.node)
        for node in self.nodes:
            if node.kind != SILENT and node.up:
                self._at(0.0, self._start, node)
        for partition in network.partitions:
            if partition.end < math.inf:
                self._at(partition.end, self._healed, partition)

    # -- running ---------------------------------------------------------------------------------
    def run(self, heights: int, until: float) -> bool:
        """Run until every live honest node (not down for good) has decided ``heights`` heights,
        or the clock passes ``until``; True in the first case. A later call goes on from there."""
        return self.run_until(lambda: self.all_decided(heights), until)

    def run_until(self, condition: Callable[[], bool], until: float) -> bool:
        """Run until ``condition()`` holds (checked after each event) or the clock would pass
        ``until``; the clock is then at ``until``. True in the first case."""
        while not condition():
            if not self._events or self._events[0][0] > until:
                self.now = max(self.now, until)
                return False
            self.now, _, action, args = heapq.heappop(self._events)
            action(*args)
        return True

    def all_decided(self, heights: int) -> bool:
        return all(all(h in n.decisions for h in range(1, heights + 1)) for n in self.live)

    def _at(self, time: float, action: Callable, *args) -> None:
        heapq.heappush(self._events, (time, next(self._sequence), action, args))

    def _later(self, delay: float, node: SimNode, action: Callable, *args) -> None:
        """Run ``action`` of ``node`` after ``delay``; void if the node is killed meanwhile,
        deferred to its resumption if it is frozen then."""
        self._at(self.now + delay, self._node_event, node, node.epoch, action, args)

    def _node_event(self, node: SimNode, epoch: int, action: Callable, args: tuple) -> None:
        if epoch != node.epoch:
            return
        if not node.up:
            node.deferred.append((action, args))
            return
        action(*args)

    def _start(self, node: SimNode) -> None:
        """Start the engine at the height after the chain's (at time 0, or once caught up after
        coming up), as ``BftDriver.run``: the WAL's own messages restored, its received ones replayed."""
        node.started = True
        height = node.chain_height + 1
        node.engine.restore(node.own.get(height, []))
        self._start_height(node, height)
        if not self.gossip.replay_received:  # the old driver replayed its WAL at startup only
            self._replay(node, height)
        self._later(SYNC_POLL, node, self._poll, node, height - 1)

    def _start_height(self, node: SimNode, height: int) -> None:
        node.entered[height] = self.now
        self._handle(node, node.engine.start_height(height, self.validators))
        if self.gossip.replay_received:
            self._replay(node, height)
        self.on_enter(node, height)

    def _replay(self, node: SimNode, height: int) -> None:
        for message in list(node.received.get(height, [])):
            self._feed(node, message)

    # -- crash faults ----------------------------------------------------------------------------
    def go_down(self, index: int, restart: bool = True) -> None:
        """Node ``index`` stops now: killed (``restart``), or frozen."""
        node = self.nodes[index]
        node.up = False
        if restart:
            node.epoch += 1
            node.started = False
            node.deferred.clear()

    def come_up(self, index: int) -> None:
        """Node ``index`` is back: a killed (or never started) one with its chain and WAL only.
        Its peers link up with it, and it catches up by block sync before (re)entering consensus."""
        node = self.nodes[index]
        if node.up or node.kind == SILENT:
            return
        node.up = True
        if not node.started:
            node.engine = Engine(CHAIN_ID, node.signer, self.timeouts)
            node.seen, node.relayed_ahead, node.sync_asked = {}, set(), {}
        for peer in self.nodes:
            if peer is not node and peer.up:
                self._linked(peer, node)
                self._linked(node, peer)
        deferred, node.deferred = node.deferred, []
        for action, args in deferred:
            action(*args)
        node.syncing = True
        self._catch_up(node)

    # -- engine actions ------------------------------------------------------------------------
    def _handle(self, node: SimNode, actions: list) -> None:
        queue = deque(actions)
        while queue:
            action = queue.popleft()
            if isinstance(action, Broadcast):
                own = node.own.setdefault(action.message.height, [])
                if action.message not in own:
                    own.append(action.message)
                node.seen.setdefault(action.message.height, set()).add(action.message)
                self._broadcast(node, action.message)
            elif isinstance(action, ScheduleTimeout):
                self._later(action.delay, node, self._timeout, node, action.timeout)
            elif isinstance(action, BuildBlock):
                block_hash, block = node.build(action.height, action.round)
                queue.extend(node.engine.on_block_built(action.height, action.round, block_hash, block))
            elif isinstance(action, CheckBlock):
                if self.check_delay:
                    self._later(self.check_delay, node, self._check, node, action)
                else:
                    queue.extend(self._checked(node, action))
            elif isinstance(action, Decide):
                if action.height in node.decisions:  # block sync committed it meanwhile
                    node.halted = f"height {action.height} decided by the engine after block sync committed it"
                    continue
                self._decided(node, action.height, action.round, action.block_hash, action.block, action.commit, False)
                self._start_height(node, action.height + 1)
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

    def _send(self, node: SimNode, peer: int, message: Proposal | Vote | SyncBlock | SyncRequest | SyncBatch) -> None:
        if not node.up:
            return
        copies = 2 if self.rng.random() < self.network.duplicate else 1
        for _ in range(copies):
            arrival = self.network.arrival(self.rng, node.index, peer, self.now)
            if arrival < math.inf:
                self._at(arrival, self._deliver, node.index, peer, message)

    def _deliver(self, source: int, destination: int, message) -> None:
        node = self.nodes[destination]
        if node.kind == SILENT or not node.up:
            return
        if isinstance(message, SyncBlock):
            self._synced(node, message)
        elif isinstance(message, SyncRequest):
            self._send(node, source, SyncBatch(tuple(self._sync_block(node, h) for h in
                                                     range(message.height, node.chain_height + 1))))
        elif isinstance(message, SyncBatch):
            self._caught_up(node, source, message)
        elif node.kind != HONEST:
            node.seen.setdefault(message.height, set()).add(message)
            self._feed(node, message)
        else:
            self._gossip_in(node, source, message)

    def _gossip_in(self, node: SimNode, source: int, message: Proposal | Vote) -> None:
        """``BftDriver.on_frame`` for a consensus message."""
        if message.height > node.engine.height + 1 and not node.syncing:
            self._ask_sync(node, self.nodes[source])
        seen = node.seen.setdefault(message.height, set())
        if message in seen:
            if message.height == node.engine.height:
                node.dropped_as_seen[message] += 1
            return
        if message.height > node.chain_height + 1 and not self.gossip.remember_ahead:
            if message not in node.relayed_ahead:  # relayed once, not remembered as seen
                node.relayed_ahead.add(message)
                self._relay(node, source, message)
            self._feed(node, message)
            return
        seen.add(message)
        if message.height == node.chain_height + 1:
            node.received.setdefault(message.height, []).append(message)
        self._relay(node, source, message)
        self._feed(node, message)

    def _relay(self, node: SimNode, source: int, message: Proposal | Vote) -> None:
        for peer in range(len(self.nodes)):
            if peer not in (source, node.index):
                self._send(node, peer, message)

    def _feed(self, node: SimNode, message: Proposal | Vote) -> None:
        if isinstance(message, Proposal):
            node.known_blocks.setdefault(message.height, set()).add(message.block_hash)
            self._handle(node, node.engine.on_proposal(message))
        else:
            self._handle(node, node.engine.on_vote(message))

    # -- re-gossip -------------------------------------------------------------------------------
    def _regossiped(self, node: SimNode) -> list[Proposal | Vote]:
        """What ``node`` sends again: its own messages for the height after its chain's (and,
        with ``Gossip.rebroadcast_all``, those it received for that height)."""
        height = node.chain_height + 1
        messages = list(node.own.get(height, []))
        if self.gossip.rebroadcast_all:
            messages += [m for m in node.received.get(height, []) if m not in messages]
        return messages

    def _linked(self, node: SimNode, peer: SimNode) -> None:
        """``BftDriver._resend_to``: ``peer`` linked up with ``node``."""
        if self.gossip.regossip and node.kind == HONEST and node.up:
            for message in self._regossiped(node):
                self._send(node, peer.index, message)

    def _healed(self, partition: Partition) -> None:
        before = self.now - 1e-9
        for node in self.nodes:
            for peer in self.nodes:
                if node is not peer and peer.up and partition.separates(node.index, peer.index, before):
                    self._linked(node, peer)

    def _poll(self, node: SimNode, height: int) -> None:
        """Every SYNC_POLL, as the loop of ``BftDriver.run``: rebroadcast if the chain did not
        advance, then catch up by block sync if a reachable peer is ahead."""
        if not node.syncing:
            if self.gossip.regossip and node.chain_height == height:
                for message in self._regossiped(node):
                    for peer in range(len(self.nodes)):
                        if peer != node.index:
                            self._send(node, peer, message)
            node.syncing = True
            self._catch_up(node)
        self._later(SYNC_POLL, node, self._poll, node, node.chain_height)

    # -- block sync ------------------------------------------------------------------------------
    def _sync_block(self, node: SimNode, height: int) -> SyncBlock:
        decision = node.decisions[height]
        return SyncBlock(height, decision.block_hash, decision.block, decision.commit)

    def _ask_sync(self, node: SimNode, peer: SimNode) -> None:
        height = node.engine.height
        decision = peer.decisions.get(height)
        if decision is None or self.now - node.sync_asked.get(height, -SYNC_RETRY) < SYNC_RETRY:
            return
        node.sync_asked[height] = self.now
        self._send(peer, node.index, SyncBlock(height, decision.block_hash, decision.block, decision.commit))

    def _apply(self, node: SimNode, sync: SyncBlock) -> bool:
        """Commit a synced block if it is the next one and its commit is valid."""
        if sync.height != node.chain_height + 1:
            return False
        if (sync.commit.verify(CHAIN_ID, self.validators) is not None or sync.commit.height != sync.height
                or sync.commit.block_hash != sync.block_hash
                or not block_is_valid(sync.height, sync.block_hash, sync.block, self.invalid_proposers)):
            return False
        self._decided(node, sync.height, sync.commit.round, sync.block_hash, sync.block, sync.commit, True)
        return True

    def _synced(self, node: SimNode, sync: SyncBlock) -> None:
        if node.syncing or sync.height != node.engine.height or not self._apply(node, sync):
            return
        self._start_height(node, sync.height + 1)

    def _catch_up(self, node: SimNode) -> None:
        """``BlockSync.catch_up``: from the reachable peer furthest ahead (its /health), fetch
        batches of blocks until it answers none; none is ahead: enter consensus."""
        peers = [p for p in self.nodes if p is not node and p.up and p.kind != SILENT
                 and not any(part.separates(node.index, p.index, self.now) for part in self.network.partitions)]
        ahead = max(peers, key=lambda p: p.chain_height, default=None)
        if ahead is None or ahead.chain_height <= node.chain_height:
            self._enter(node)
        else:
            self._fetch(node, ahead.index)

    def _fetch(self, node: SimNode, peer: int) -> None:
        """Ask ``peer`` for the blocks after the chain's; asked again after SYNC_POLL if no answer comes."""
        self._send(node, peer, SyncRequest(node.chain_height + 1))
        self._later(SYNC_POLL, node, self._fetch_again, node, peer, node.chain_height)

    def _fetch_again(self, node: SimNode, peer: int, height: int) -> None:
        if node.syncing and node.chain_height == height:
            self._catch_up(node)

    def _caught_up(self, node: SimNode, source: int, batch: SyncBatch) -> None:
        if not node.syncing or batch.blocks and batch.blocks[0].height != node.chain_height + 1:
            return
        if batch.blocks:
            self._later(self.sync_time * len(batch.blocks), node, self._commit_batch, node, source, batch)
        else:
            self._enter(node)

    def _commit_batch(self, node: SimNode, source: int, batch: SyncBatch) -> None:
        """Commit the blocks, then ask the same peer again (the driver enters consensus only
        after a peer answered that it is not ahead: a round trip after the last block)."""
        for sync in batch.blocks:
            self._apply(node, sync)
        self._fetch(node, source)

    def _enter(self, node: SimNode) -> None:
        """Caught up: start the engine (killed or new node), or move a frozen one to the head."""
        node.syncing = False
        if not node.started:
            self._start(node)
        elif node.engine.height <= node.chain_height:
            self._start_height(node, node.chain_height + 1)

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
