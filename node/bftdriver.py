"""The BFT block driver: runs the consensus engine over the peer network for a validator set.

It carries out the engine's actions: signed messages go to the WAL (fsynced) and then to
every peer; timeouts become event-loop timers; ``BuildBlock`` proposes from the mempool;
``CheckBlock`` executes a proposed block; ``Decide`` commits the block with its commit
certificate and starts the next height. Received proposals and votes are logged to the WAL,
fed to the engine and relayed once to the other peers. Transactions admitted through the API
are gossiped to every peer, batched into one frame per event-loop turn. Evidence of
double-signing is submitted as a governance transaction signed with the node key. A node that sees messages from a later height, or a
peer ahead of it, catches up by block sync first.

Votes are not sent once and forgotten: a node sends every message of the current height it
signed or received to every peer that links up (a restarted node, a healed partition), and
rebroadcasts them while the height does not advance. Without this, validators waiting in a
high round for votes that were sent while a peer was down, or by a validator that froze
since, would wait forever. Messages received for a height before the engine reaches it are
handed to it when it does: from the WAL (heard while block sync committed the heights below,
or before a restart) and from the AheadBuffer (heard while this node was further behind).

When round 0 of each height starts is the block production policy's call (node/blockpolicy.py:
the target block time, and waiting for transactions with a heartbeat block on an idle
chain): the engine waits in its new-height step until the driver hands it that step's
timeout. Transactions received from peers are passed on to the other peers the first time,
so one sent to an observer reaches the validators.

For operators, ``status`` (the ``consensus`` section of ``/status``) names the validators whose
prevotes and precommits this node holds for its current round, and a height whose round 0
started more than ``STALL_FACTOR`` times the target block time ago is logged once as a
WARNING naming the missing votes (see ``stall_after``).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

import msgpack

from consensus.engine import Engine, RoundState
from consensus.messages import (Broadcast, BuildBlock, CheckBlock, Decide, DuplicateVoteEvidence, EvidenceFound,
                                NIL, STEP_NEW_HEIGHT, Proposal, ScheduleTimeout, Timeout, Vote)
from node.block import Block, BlockFormatError
from node.blockpolicy import BlockPolicy, Round0Gate, Scheduler
from node.aheadbuffer import AheadBuffer
from node.blocksync import BlockSync
from node.chain import ChainError
from node.encoding import sha256
from node.errors import ApiError, NodeHalted
from node.keys import KeyPair
from node.p2p import PeerNetwork
from node.service import NodeService
from node.tx import MAX_TX_BYTES, GovernancePayload, Transaction
from node.signing import DoubleSignRefused
from node.wal import ConsensusWal

log = logging.getLogger("flexledger.bft")

KIND_TXS, KIND_PROPOSAL, KIND_VOTE = 1, 2, 3  # KIND_TXS: a msgpack array of signed txs
RELAYED_AHEAD = 0x80  # marks, in the seen set, messages relayed while this node was behind
HELD_AHEAD = "held while behind"  # the "peer" of messages handed back by the AheadBuffer
MAX_TXS_PER_FRAME = 500
SEEN_LIMIT = 50_000
SYNC_POLL = 2.0  # seconds between block-sync checks and rebroadcasts of a stuck height
EVIDENCE_GAS = 1_000_000
STALL_FACTOR = 10  # a height taking this many target block times is logged as a stall


class BftDriver:
    def __init__(self, service: NodeService, engine: Engine, node_key: KeyPair, network: PeerNetwork,
                 wal: ConsensusWal, sync: BlockSync, clock=time.monotonic, policy: BlockPolicy = BlockPolicy(),
                 call_later: Scheduler | None = None):
        self.service = service
        self.chain = service.chain
        self.engine = engine
        self.node_key = node_key
        self.network = network
        self.wal = wal
        self.sync = sync
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._ahead = AheadBuffer()
        self._timers: list[asyncio.TimerHandle] = []
        self.failure: Exception | None = None
        self.votes_received = 0
        self._outgoing_txs: list[bytes] = []
        self._clock = clock  # seconds, monotonic; injectable for tests, like the gate's timers (call_later)
        self._height_started = self._round_started = clock()
        self._stall_warned = -1  # the height whose stall was logged
        self._held: Timeout | None = None  # the engine's new-height timeout, while the gate holds round 0
        self.gate = Round0Gate(policy, clock, call_later or _loop_call_later, self._has_ready_txs, self._start_round0)
        network.on_link = self._resend_to
        service.on_tx_admitted = self._gossip_tx
        service.consensus_status = self.status
        service.peer_count = lambda: len(network.connected())

    # -- running ---------------------------------------------------------------------------
    async def run(self) -> None:
        await self.sync.catch_up()
        height = self.chain.height + 1
        self.engine.restore([_decode_message(m) for m in self.wal.messages(height, own=True)])
        self._start_height()
        while self.failure is None:
            height = self.chain.height
            try:
                await asyncio.wait_for(self.sync.wake.wait(), SYNC_POLL)
            except asyncio.TimeoutError:
                if self.chain.height == height:
                    self._rebroadcast()
            self.sync.wake.clear()
            self.service.log_summary_if_due()
            if self.failure is None and await self.sync.catch_up():
                self._start_height()
        if isinstance(self.failure, NodeHalted):
            raise self.failure
        raise NodeHalted(f"stopping: {self.failure}. This validator's signing state says it signed something "
                         f"else at this height and round; investigate before restarting it")

    def _start_height(self) -> None:
        height = self.chain.height + 1
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.gate.cancel()
        self._held = None
        self.wal.start_height(height)
        self._height_started = self._round_started = self._clock()
        self._arm_stall_timer(self.stall_after)
        self._engine(self.engine.start_height, height, self.chain.validators(height))
        # What was received for this height before the engine got here: logged when it came
        # while block sync was committing the heights below, or before a restart.
        for data in self.wal.messages(height, own=False):
            message = _decode_message(data)
            self._peer_started(message)
            self._feed(message)
        for kind, payload in self._ahead.take(height):  # heard while the heights below were synced
            self.on_frame(HELD_AHEAD, kind, payload)

    # -- the block production policy (node/blockpolicy.py) ------------------------------------
    def _hold_round0(self, timeout: Timeout) -> None:
        """The engine waits in new-height for ``timeout``: the gate says when to hand it over."""
        self._held = timeout
        self.gate.hold(block_needed=timeout.height == 1)

    def _start_round0(self) -> None:
        timeout, self._held = self._held, None
        if timeout is not None and timeout.height == self.chain.height + 1:
            self._round_started = self._clock()
            self._arm_stall_timer(self.stall_after)
            self._engine(self.engine.on_timeout, timeout)

    def _has_ready_txs(self) -> bool:
        mempool = self.service.mempool
        return len(mempool) > mempool.gapped_count

    def _peer_started(self, message: Proposal | Vote) -> None:
        """Another validator of this height started round 0: follow it at once."""
        sender = message.proposer if isinstance(message, Proposal) else message.validator
        if self._held is not None and self.chain.validators(message.height).by_address(sender) is not None:
            self.gate.peer_started()

    # -- from peers --------------------------------------------------------------------------
    def on_frame(self, peer: str, kind: int, payload: bytes) -> None:
        if kind == KIND_TXS:
            try:
                txs = msgpack.unpackb(payload, max_array_len=MAX_TXS_PER_FRAME, max_map_len=0,
                                      max_ext_len=0, max_str_len=0, max_bin_len=MAX_TX_BYTES)
            except (ValueError, msgpack.UnpackException):
                log.warning("malformed transaction batch from %s", peer)
                return
            for data in txs if isinstance(txs, list) else ():
                self._admit_gossiped(data if isinstance(data, bytes) else b"")
            return
        if kind not in (KIND_PROPOSAL, KIND_VOTE) or self._seen_key(kind, payload) in self._seen:
            return
        try:
            message = Proposal.from_bytes(payload) if kind == KIND_PROPOSAL else Vote.from_bytes(payload)
        except ValueError:
            log.warning("malformed consensus message from %s", peer)
            return
        if message.height > self.chain.height + 1:
            # This node is behind: it syncs first, and the engine may not be able to keep the
            # message. It is not remembered as seen, so the peers' re-sends of their messages
            # for that height still count once this node gets there (remembering it lost the
            # prevotes sent while a restarted validator caught up, and stalled the height).
            # It is relayed once, under its own key, so lagging nodes cannot bounce it forever.
            self.sync.wake.set()
            if self._first_time(kind | RELAYED_AHEAD, payload):
                self.network.broadcast(kind, payload, exclude=peer)
            self._ahead.keep(self._seen_key(kind, payload), message.height, kind, payload)
            self._feed(message)
            return
        self._first_time(kind, payload)
        self.votes_received += isinstance(message, Vote)
        if message.height == self.chain.height + 1:
            self.wal.append_received(message.height, _encode_message(message))
            self._peer_started(message)
        self.network.broadcast(kind, payload, exclude=peer)
        self._feed(message)

    def _feed(self, message: Proposal | Vote) -> None:
        self._engine(self.engine.on_proposal if isinstance(message, Proposal) else self.engine.on_vote, message)

    @staticmethod
    def _seen_key(kind: int, payload: bytes) -> bytes:
        return bytes([kind]) + payload[:4096]

    def _first_time(self, kind: int, payload: bytes) -> bool:
        key = self._seen_key(kind, payload)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)
        return True

    def _height_messages(self) -> list[tuple[int, bytes]]:
        """Every proposal and vote of the current height this node signed or received. A peer
        that was away needs the others' messages too, not only this node's: a validator frozen
        after its proposal and prevote cannot send them again (Tendermint's gossip likewise
        sends a peer every message of the height it lacks)."""
        height = self.chain.height + 1
        logged = dict.fromkeys(self.wal.messages(height, own=True) + self.wal.messages(height, own=False))
        return [(data[0], data[1:]) for data in logged]

    def _resend_to(self, peer: str) -> None:
        for kind, payload in self._height_messages():
            self.network.send(peer, kind, payload)

    def _rebroadcast(self) -> None:
        for kind, payload in self._height_messages():
            self.network.broadcast(kind, payload)

    def _admit_gossiped(self, data: bytes) -> None:
        """A peer's transaction: admitted and passed on to the other peers the first time it is
        seen, so a transaction sent to an observer, or to a validator that not every other
        validator links to, reaches every validator. One this node holds already costs only a hash."""
        if sha256(data) in self.service.mempool:
            return
        try:
            tx = self.service.check_and_add(data, gossip=False)
        except ApiError:
            return
        self._gossip_tx(tx)

    def _gossip_tx(self, tx: Transaction) -> None:
        """Queue an admitted tx for the peers; the queue goes out as one frame per loop turn."""
        if not self._outgoing_txs:
            asyncio.get_running_loop().call_soon(self._flush_txs)
        self._outgoing_txs.append(tx.to_bytes())
        self.gate.txs_ready()

    def _flush_txs(self) -> None:
        batch, self._outgoing_txs = self._outgoing_txs, []
        for start in range(0, len(batch), MAX_TXS_PER_FRAME):
            self.network.broadcast(KIND_TXS, msgpack.packb(batch[start:start + MAX_TXS_PER_FRAME], use_bin_type=True))

    # -- engine actions ------------------------------------------------------------------------
    def _engine(self, method, *args) -> None:
        """Call the engine and carry out its actions; a refused signature stops this node."""
        if self.failure is None:
            self._handle(self._guarded(method, *args))

    def _guarded(self, method, *args) -> list:
        """Call the engine; on a refused signature, record the failure (``run`` then stops) and act no more."""
        try:
            return method(*args)
        except DoubleSignRefused as exc:
            log.critical("refusing to double-sign: %s", exc)
            self.failure = exc
            self.sync.wake.set()
            return []

    def _handle(self, actions: list) -> None:
        queue = list(actions)
        while queue and self.failure is None:
            action = queue.pop(0)
            queue.extend(self._act(action))

    def _act(self, action) -> list:
        if isinstance(action, Broadcast):
            message = action.message
            if isinstance(message, (Proposal, Vote)):
                payload = message.to_bytes()
                self.wal.append_own(message.height, _encode_message(message))
                self._first_time(KIND_PROPOSAL if isinstance(message, Proposal) else KIND_VOTE, payload)
                self.network.broadcast(KIND_PROPOSAL if isinstance(message, Proposal) else KIND_VOTE, payload)
            return []
        if isinstance(action, ScheduleTimeout):
            if action.timeout.step == STEP_NEW_HEIGHT:
                self._hold_round0(action.timeout)
                return []
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(action.delay, self._on_timeout, action.timeout))
            return []
        if isinstance(action, BuildBlock):
            return self._build(action)
        if isinstance(action, CheckBlock):
            return self._check(action)
        if isinstance(action, Decide):
            self._decide(action)
            return []
        if isinstance(action, EvidenceFound):
            self._report(action.evidence)
            return []
        raise TypeError(f"unknown engine action {action!r}")

    def _on_timeout(self, timeout) -> None:
        if timeout.height == self.chain.height + 1:
            self._engine(self.engine.on_timeout, timeout)

    def _build(self, action: BuildBlock) -> list:
        txs = self.service.mempool.reap(self.chain.nonce, self.chain.params().max_block_txs)
        executed = self.chain.propose(txs, self.chain.next_timestamp(int(time.time() * 1000)), self.node_key.address,
                                      self.chain.store.commit(self.chain.height))
        block = executed.block
        return self._guarded(self.engine.on_block_built, action.height, action.round, block.hash, block.to_bytes())

    def _check(self, action: CheckBlock) -> list:
        valid = False
        try:
            mempool = self.service.mempool
            block = Block.from_bytes(action.block, known=mempool.get)
            if block.hash == action.block_hash:
                self.chain.execute_block(block, now_ms=int(time.time() * 1000), verified=mempool.__contains__)
                valid = True
        except (BlockFormatError, ChainError) as exc:
            log.warning("proposed block %s at height %d is invalid: %s", action.block_hash.hex()[:12],
                        action.height, exc)
        return self._guarded(self.engine.on_block_checked, action.height, action.round, action.block_hash, valid)

    def _decide(self, action: Decide) -> None:
        if action.height <= self.chain.height:
            # Block sync committed this height while the engine was still deciding it (the run
            # loop starts the next height once the sync returns): nothing left to do.
            return
        started = time.perf_counter()
        staged = self.chain.staged
        try:
            if staged is None or staged.block.hash != action.block_hash:
                staged = self.chain.execute_block(Block.from_bytes(action.block))
            self.chain.commit(staged, action.commit)
        except (BlockFormatError, ChainError) as exc:
            # More than 2/3 of the voting power decided a block this node cannot apply: its
            # state has diverged (or a quorum is faulty). Continuing could only make it worse.
            log.critical("cannot apply decided block %s at height %d: %s", action.block_hash.hex()[:12],
                         action.height, exc)
            self.failure = NodeHalted(f"decided block at height {action.height} cannot be applied here: {exc}")
            self.sync.wake.set()
            return
        self.service.after_commit(staged, (time.perf_counter() - started) * 1000, action.round)
        self._start_height()

    def _report(self, evidence: DuplicateVoteEvidence) -> None:
        log.warning("double-signing by %s at height %d; reporting evidence", evidence.vote_a.validator,
                    evidence.vote_a.height)
        nonce = self.service.next_nonce(self.node_key.address)
        tx = Transaction(self.chain.chain_id, self.node_key.public_key, nonce, EVIDENCE_GAS,
                         GovernancePayload("report_evidence", {"evidence": evidence.to_bytes()})).signed(self.node_key)
        try:
            self.service.check_and_add(tx.to_bytes())
        except ApiError as exc:
            log.warning("could not submit evidence: %s", exc.message)

    # -- status and diagnostics ------------------------------------------------------------------
    @property
    def target_block_time(self) -> float:
        """The block time the operator configured (``block_time`` in the node config)."""
        return self.gate.policy.block_time

    @property
    def stall_after(self) -> float:
        """Seconds from the start of round 0 before a height is logged as a stall:
        ``STALL_FACTOR`` times the target block time, but at least the round-0 timeouts
        (propose + prevote + precommit), so that a short block time does not report every
        height. Waiting for transactions before round 0 is no stall."""
        t = self.engine.timeouts
        return max(STALL_FACTOR * self.target_block_time, t.propose + t.prevote + t.precommit)

    def _arm_stall_timer(self, delay: float) -> None:
        self._timers.append(asyncio.get_running_loop().call_later(delay, self._on_stall_timer))

    def _on_stall_timer(self) -> None:
        if (self._held is None and not self.check_stall() and self._stall_warned != self.engine.height
                and self.failure is None):
            self._arm_stall_timer(max(self.stall_after - (self._clock() - self._round_started), 0.05))

    def check_stall(self) -> bool:
        """Log one WARNING per height once round 0 started longer than ``stall_after`` ago,
        naming the round, step and missing votes. True if it logged now."""
        state = self.engine.round_state()
        elapsed = self._clock() - self._round_started
        if (state is None or self._held is not None or self._stall_warned == state.height
                or elapsed <= self.stall_after):
            return False
        self._stall_warned = state.height
        log.warning("stall: %s; %.1f s since round 0 started, over the %g s limit (%dx the %g s block time, "
                    "block_time, and at least the round-0 timeouts)", describe_stall(state), elapsed,
                    self.stall_after, STALL_FACTOR, self.target_block_time)
        return True

    def status(self) -> dict:
        """The ``consensus`` section of ``/status``."""
        doc = {"height": self.engine.height, "round": self.engine.round, "step": self.engine.step_name,
               "since": round(self._clock() - self._height_started, 3), "peers": self.network.connected(),
               "votes": self.votes_received}
        round0_in = self.gate.round0_in()
        if round0_in is not None:
            doc["round0_in"] = round(round0_in, 3)  # held: waiting for the block time or for transactions
        state = self.engine.round_state()
        if state is not None:
            names = _names(state)
            validators = state.validators
            doc.update(validator=names.get(self.node_key.address), proposer=names[state.proposer],
                       proposal=state.proposal is not None,
                       proposal_block=_short(state.proposal) if state.proposal is not None else None,
                       total_power=validators.total_power, quorum=validators.quorum(),
                       prevotes=_votes(state.prevotes, names), prevote_power=state.power(state.prevotes),
                       missing_prevotes=[names[a] for a in state.missing(state.prevotes)],
                       precommits=_votes(state.precommits, names), precommit_power=state.power(state.precommits),
                       missing_precommits=[names[a] for a in state.missing(state.precommits)])
        return doc

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self.gate.cancel()
        self.wal.close()


def _loop_call_later(delay: float, callback) -> asyncio.TimerHandle:
    return asyncio.get_running_loop().call_later(delay, callback)


def _names(state: RoundState) -> dict[str, str]:
    return {v.address: v.name or v.address for v in state.validators.validators}


def _short(block_hash: bytes) -> str:
    return "nil" if block_hash == NIL else block_hash.hex()[:8]


def _votes(votes: dict[str, bytes], names: dict[str, str]) -> dict[str, str]:
    """Votes of one type in the round by validator name, in validator-set order: the block
    they are for (hash prefix, or nil)."""
    return {name: _short(votes[a]) for a, name in names.items() if a in votes}


def describe_stall(state: RoundState) -> str:
    """E.g. ``height 21 round 1 prevote: prevotes from dso, agg1 (nil); missing agg2, agg3 (power 20
    of 40, quorum 27); proposal from agg2 held``: the votes the current step waits for."""
    names = _names(state)
    kind, votes = (("precommits", state.precommits) if state.step in ("precommit", "commit")
                   else ("prevotes", state.prevotes))
    has = ", ".join(name + (" (nil)" if votes[a] == NIL else "") for a, name in names.items() if a in votes) or "none"
    missing = ", ".join(names[a] for a in state.missing(votes)) or "none"
    return (f"height {state.height} round {state.round} {state.step}: {kind} from {has}; missing {missing} "
            f"(power {state.power(votes)} of {state.validators.total_power}, quorum {state.validators.quorum()}); "
            f"proposal from {names[state.proposer]} {'held' if state.proposal is not None else 'missing'}")


def _encode_message(message: Proposal | Vote) -> bytes:
    return bytes([KIND_PROPOSAL if isinstance(message, Proposal) else KIND_VOTE]) + message.to_bytes()


def _decode_message(data: bytes) -> Proposal | Vote:
    return Proposal.from_bytes(data[1:]) if data[0] == KIND_PROPOSAL else Vote.from_bytes(data[1:])

