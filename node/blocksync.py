"""Block sync over the peer links: a node that is behind asks its linked peers for committed
blocks with their commit certificates, checks each certificate against the validator set in
force at that height, executes the block and commits it — then consensus resumes.

Two frame kinds on the encrypted links (node/p2p.py):

    KIND_SYNC_ASK     encode(start)                        blocks from height ``start``, please
    KIND_SYNC_BLOCKS  encode([start, height, [[block bytes, commit], ...]])

The answer gives the peer's height and at most BATCH blocks from ``start``, and no more than
SYNC_BATCH_BYTES of them unless the first alone is bigger, so it fits one frame. A peer may be
malicious: answers are decoded with the bounded decoders and checked for shape; an answer
that cannot be used (malformed, not from the asked height, no block though the peer claims
to be ahead, a block or certificate the chain refuses) or an ask of the wrong shape drops
that peer's link (SyncError), never the node. Asks beyond ASKS_PER_SECOND per peer are
ignored, so a peer cannot make this node read and send blocks without bound.

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
ASK_TIMEOUT = 10.0  # seconds to wait for a peer's answer
ASKS_PER_SECOND = 20


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


def decode_ask(data: bytes) -> int:
    """The start height of an ask; SyncError if it is not one."""
    try:
        start = decode(data, max_bytes=MAX_ASK_BYTES)
    except EncodingError as exc:
        raise SyncError(f"malformed ask: {exc}") from None
    if type(start) is not int or start < 1:
        raise SyncError(f"an ask must give a height of at least 1, not {start!r}")
    return start


class BlockSync:
    def __init__(self, service: NodeService, network: PeerNetwork):
        self.service = service
        self.chain = service.chain
        self.network = network
        self.wake = asyncio.Event()
        self._waiting: dict[str, tuple[int, asyncio.Future]] = {}
        self._ask_buckets: dict[str, TokenBucket] = {}
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
        added = 0
        while True:
            height, got = await self._ask(address, self.chain.height + 1)
            added += got
            if height <= self.chain.height:
                return added

    async def _ask(self, address: str, start: int) -> tuple[int, int]:
        """The peer's height and how many of its blocks from ``start`` were committed."""
        if address not in self.network.links:
            raise ConnectionError("the link closed")
        answer = asyncio.get_running_loop().create_future()
        self._waiting[address] = (start, answer)
        try:
            self.network.send(address, KIND_SYNC_ASK, encode(start))
            return await asyncio.wait_for(answer, ASK_TIMEOUT)
        finally:
            self._waiting.pop(address, None)

    def _commit(self, address: str, start: int, height: int, items: list[tuple[Block, object]]) -> int:
        """Execute and commit the blocks of an answer from ``start`` that are above our height; how many."""
        if not items and height >= start:
            raise SyncError(f"the peer is at height {height} but sent no block from {start}")
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
            start = decode_ask(payload)
        except SyncError as exc:
            self.network.drop(peer, f"block sync: {exc}")
            return
        if not self._ask_buckets.setdefault(peer, TokenBucket(ASKS_PER_SECOND, ASKS_PER_SECOND)).allow():
            return
        blocks = blocks_from(self.chain, start)
        self.network.send(peer, KIND_SYNC_BLOCKS, encode([start, self.chain.height, blocks]))
        if blocks and start + len(blocks) > self.chain.height:
            self.network.on_link(peer)  # brought to our head: send it this height's messages, as to a new link

    def _on_blocks(self, peer: str, kind: int, payload: bytes) -> None:
        """Commit the blocks of an answer at once, before the peer's next frames (its messages for
        the height after them) are handled, so those count."""
        start, answer = self._waiting.get(peer, (None, None))
        if answer is None or answer.done():
            log.debug("an answer from %s that was not asked for (or came too late)", peer)
            return
        try:
            their_start, height, items = decode_blocks(payload)
            if their_start != start:
                raise SyncError(f"an answer from height {their_start} to an ask from {start}")
            answer.set_result((height, self._commit(peer, start, height, items)))
        except SyncError as exc:
            answer.set_exception(exc)

    def _on_unlink(self, peer: str) -> None:
        self._ask_buckets.pop(peer, None)
        start, answer = self._waiting.get(peer, (None, None))
        if answer is not None and not answer.done():
            answer.set_exception(ConnectionError("the link closed"))
