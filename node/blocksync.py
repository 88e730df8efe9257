"""Block sync over the peer links: a node that is behind asks its linked peers for committed
blocks with their commit certificates, checks each certificate against the validator set in
force at that height, executes the block and commits it — then consensus resumes.

Two frame kinds on the encrypted links (node/p2p.py):

    KIND_SYNC_ASK     encode([start, count])               up to ``count`` blocks from ``start``, please
    KIND_SYNC_BLOCKS  encode([start, height, [[block bytes, commit], ...]])

The answer gives the peer's height and at most ``count`` (at most BATCH) blocks from ``start``,
and no more than SYNC_BATCH_BYTES of them unless the first alone is bigger, so it fits one
frame. Each catch-up first asks every peer for its height alone (count 0) within
PROBE_TIMEOUT, as the API's /health was asked before, so a paused or silent peer holds it up
for seconds, not for the ASK_TIMEOUT of a batch. A peer may be
malicious: answers are decoded with the bounded decoders and checked for shape; an answer
that cannot be used (malformed, not from the asked height, no block though the peer claims
to be ahead, a block or certificate the chain refuses) or an ask of the wrong shape drops
that peer's link (SyncError), never the node. Answers to one peer go out at most at
SYNC_BYTES_PER_SECOND: beyond it an answer waits its turn, and an ask that comes while it
waits is ignored (an honest node asks again only once answered), so a peer cannot make this
node read and send blocks without bound.

Consensus messages that reach a node while it is behind cannot count (its engine is at a
lower height), and its peers sent theirs when the link came up, before it could sync over
it. So an answer is committed as soon as it arrives, before the frames behind it, and a node
whose answer brings the asker to its head then sends it the messages of its current height
as to a new link (``network.on_link``, the BFT driver's re-send).
"""
from __future__ import annotations

import asyncio
import logging

from node.block import Block, BlockFormatError, commit_from_list
from node.chain import Chain, ChainError
from node.encoding import EncodingError, decode, encode
from node.p2p import PeerNetwork, TokenBucket
from node.service import NodeService

log = logging.getLogger("flexledger.sync")
KIND_SYNC_ASK, KIND_SYNC_BLOCKS = 16, 17  # node/bftdriver.py's frame kinds are below 16
BATCH = 100  # blocks per answer, at most
SYNC_BATCH_BYTES = 8 * 1024 * 1024  # an answer takes no further block once it would grow past this
MAX_ASK_BYTES = 16
PROBE_TIMEOUT = 2.0  # seconds to wait for a peer's height
ASK_TIMEOUT = 10.0  # seconds to wait for an answer with blocks
SYNC_BYTES_PER_SECOND = 32 * 1024 * 1024  # answers to one peer
SYNC_BURST_BYTES = 2 * SYNC_BATCH_BYTES  # of which two full answers may go at once


class SyncError(Exception):
    """A peer's sync frame that cannot be used: that peer's link is dropped."""


def blocks_from(chain: Chain, start: int, count: int = BATCH) -> list[list]:
    """[[block bytes, commit], ...] from ``start``: at most ``count`` blocks, and no more than
    SYNC_BATCH_BYTES of them unless the first alone is bigger."""
    out, size = [], 0
    for height in range(start, min(start + count, chain.height + 1)):
        commit = chain.store.commit(height)
        if commit is None:
            break
        block = chain.store.block(height).to_bytes()
        if out and size + len(block) > SYNC_BATCH_BYTES:
            break
        out.append([block, commit.to_list()])
        size += len(block)
    return out


def encode_blocks(chain: Chain, start: int, count: int = BATCH) -> bytes:
    """The answer to an ask for blocks from ``start``: [start, our height, blocks_from(...)]."""
    return encode([start, chain.height, blocks_from(chain, start, count)])


def decode_blocks(data: bytes) -> tuple[int, int, list[tuple[Block, object]]]:
    """The start, height, and blocks with commits of an answer; SyncError if it is not one."""
    try:
        answer = decode(data)
        if type(answer) is not list or len(answer) != 3 or type(answer[0]) is not int or type(answer[1]) is not int:
            raise SyncError("the answer is not [start, height, blocks]")
        start, height, items = answer
        if type(items) is not list or not all(type(item) is list and len(item) == 2 for item in items):
            raise SyncError("the answer's blocks are not a list of [block, commit] pairs")
        return start, height, [(Block.from_bytes(block), commit_from_list(commit)) for block, commit in items]
    except (EncodingError, BlockFormatError) as exc:
        raise SyncError(str(exc)) from None


def decode_ask(data: bytes) -> tuple[int, int]:
    """The start height and block count of an ask; SyncError if it is not one."""
    try:
        ask = decode(data, max_bytes=MAX_ASK_BYTES)
    except EncodingError as exc:
        raise SyncError(f"malformed ask: {exc}") from None
    if type(ask) is not list or len(ask) != 2 or not all(type(n) is int for n in ask) or ask[0] < 1 or not (
            0 <= ask[1] <= BATCH):
        raise SyncError(f"an ask must be [a height of at least 1, a count of 0 to {BATCH}], not {ask!r}")
    return ask[0], ask[1]


class BlockSync:
    def __init__(self, service: NodeService, network: PeerNetwork):
        self.service = service
        self.chain = service.chain
        self.network = network
        self.wake = asyncio.Event()
        self._waiting: dict[str, tuple[int, int, asyncio.Future]] = {}  # peer: start, count, answer
        self._pacers: dict[str, TokenBucket] = {}  # peer: the bytes of answers it may still get at once
        self._answering: set[str] = set()  # peers whose answer waits its turn
        network.handle(KIND_SYNC_ASK, self._on_ask)
        network.handle(KIND_SYNC_BLOCKS, self._on_blocks)
        network.on_unlink = self._on_unlink

    async def catch_up(self) -> int:
        """Fetch and commit blocks until no linked peer is ahead; returns how many were added."""
        added = 0
        for address in self.network.connected():
            if address in self.network.isolated:
                continue
            try:
                added += await self._catch_up_from(address)
            except SyncError as exc:
                self.network.drop(address, f"block sync: {exc}")
            except (asyncio.TimeoutError, ConnectionError) as exc:
                log.debug("sync from %s stopped: %s", address, str(exc) or "no answer in time")
        return added

    async def _catch_up_from(self, address: str) -> int:
        height, added = await self._ask(address, 0, PROBE_TIMEOUT)
        while height > self.chain.height:
            height, got = await self._ask(address, BATCH, ASK_TIMEOUT)
            added += got
        return added

    async def _ask(self, address: str, count: int, timeout: float) -> tuple[int, int]:
        """The peer's height, and how many of its (up to ``count``) blocks above ours were committed."""
        if address not in self.network.links:
            raise ConnectionError("the link closed")
        start = self.chain.height + 1
        answer = asyncio.get_running_loop().create_future()
        self._waiting[address] = (start, count, answer)
        try:
            self.network.send(address, KIND_SYNC_ASK, encode([start, count]))
            return await asyncio.wait_for(answer, timeout)
        finally:
            self._waiting.pop(address, None)

    def _commit(self, address: str, start: int, items: list[tuple[Block, object]]) -> int:
        """Execute and commit the blocks of an answer from ``start`` that are above our height; how many."""
        added = 0
        for due, (block, commit) in enumerate(items, start):
            if block.height != due:
                raise SyncError(f"block {block.height} where {due} was due")
            if block.height <= self.chain.height:
                continue  # committed by consensus while the answer was on its way
            try:
                executed = self.chain.execute_block(block)
                self.chain.commit(executed, commit)
            except (ChainError, ValueError, TypeError, IndexError) as exc:
                self.chain.abandon()
                raise SyncError(f"block {block.height} refused: {exc}") from None
            self.service.after_commit(executed, 0.0)
            log.debug("synced block %d from %s", block.height, address)
            added += 1
        return added

    # -- frames from peers -------------------------------------------------------------------
    def _on_ask(self, peer: str, kind: int, payload: bytes) -> None:
        try:
            start, count = decode_ask(payload)
        except SyncError as exc:
            self.network.drop(peer, f"block sync: {exc}")
            return
        if peer in self._answering:
            log.debug("an ask from %s while its last answer waits its turn; ignored", peer)
            return
        blocks = blocks_from(self.chain, start, count)
        answer = encode([start, self.chain.height, blocks])
        to_head = bool(blocks) and start + len(blocks) > self.chain.height
        pacer = self._pacers.setdefault(peer, TokenBucket(SYNC_BYTES_PER_SECOND, SYNC_BURST_BYTES))
        wait = pacer.take(len(answer))
        if wait:
            self._answering.add(peer)
            asyncio.get_running_loop().call_later(wait, self._answer, peer, answer, to_head)
        else:
            self._answer(peer, answer, to_head)

    def _answer(self, peer: str, answer: bytes, to_head: bool) -> None:
        self._answering.discard(peer)
        self.network.send(peer, KIND_SYNC_BLOCKS, answer)
        if to_head:
            self.network.on_link(peer)  # brought to our head: send it this height's messages, as to a new link

    def _on_blocks(self, peer: str, kind: int, payload: bytes) -> None:
        """Commit the blocks of an answer at once, before the peer's next frames (its messages for
        the height after them) are handled, so those count."""
        start, count, answer = self._waiting.get(peer, (None, None, None))
        if answer is None or answer.done():
            log.debug("an answer from %s that was not asked for (or came too late)", peer)
            return
        try:
            their_start, height, items = decode_blocks(payload)
            if their_start != start:
                raise SyncError(f"an answer from height {their_start} to an ask from {start}")
            if len(items) > count or (count and not items and height >= start):
                raise SyncError(f"{len(items)} blocks from {start} to an ask for {count}, the peer being at "
                                f"height {height}")
            answer.set_result((height, self._commit(peer, start, items)))
        except SyncError as exc:
            answer.set_exception(exc)

    def _on_unlink(self, peer: str) -> None:
        self._pacers.pop(peer, None)
        start, count, answer = self._waiting.get(peer, (None, None, None))
        if answer is not None and not answer.done():
            answer.set_exception(ConnectionError("the link closed"))
