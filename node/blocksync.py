"""Block sync: a node that is behind fetches committed blocks with their commit certificates
from its peers' APIs, checks each certificate against the validator set in force at that
height, executes the block and commits it — then consensus resumes at the new height.

A peer may be malicious: its answers are read up to a size limit (MAX_SYNC_RESPONSE_BYTES,
MAX_HEALTH_BYTES), decoded with the bounded decoders, and checked for shape; anything else
ends the sync from that peer (SyncError), never the node.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

import aiohttp

from node.block import Block, BlockFormatError, commit_from_list
from node.chain import Chain, ChainError
from node.encoding import MAX_DECODE_BYTES, EncodingError, decode, encode
from node.jsonvalues import JsonValueError, parse_json
from node.service import NodeService

log = logging.getLogger("flexledger.sync")
BATCH = 50  # blocks per /sync/blocks answer, at most
SYNC_BATCH_BYTES = 8 * 1024 * 1024  # an answer takes no further block once it would grow past this
MAX_SYNC_RESPONSE_BYTES = MAX_DECODE_BYTES + 1024 * 1024  # one block as large as any decodes, and its commit
MAX_HEALTH_BYTES = 4096


class SyncError(Exception):
    """A peer's answer that cannot be used: the sync from that peer stops."""


def encode_blocks(chain: Chain, start: int, count: int) -> bytes:
    """The ``/sync/blocks`` answer: [[block bytes, commit], ...] from ``start``.

    At most ``count`` blocks, and no more than SYNC_BATCH_BYTES of them unless the first alone is bigger.
    """
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
    return encode(out)


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body of a 200 answer, refusing one of more than ``limit`` bytes before reading it all."""
    if response.status != 200:
        raise SyncError(f"HTTP {response.status}")
    if response.content_length is not None and response.content_length > limit:
        raise SyncError(f"an answer of {response.content_length} bytes; the limit is {limit}")
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise SyncError(f"an answer of more than {limit} bytes")
    return bytes(body)


def _decode_batch(data: bytes) -> list[tuple[Block, object]]:
    """The blocks and commits of a ``/sync/blocks`` answer; SyncError if it is not one."""
    try:
        items = decode(data, max_bytes=MAX_SYNC_RESPONSE_BYTES)
        if type(items) is not list or not all(type(item) is list and len(item) == 2 for item in items):
            raise SyncError("the answer is not a list of [block, commit] pairs")
        return [(Block.from_bytes(block), commit_from_list(commit)) for block, commit in items]
    except (EncodingError, BlockFormatError) as exc:
        raise SyncError(str(exc)) from None


class BlockSync:
    def __init__(self, service: NodeService, peers: dict[str, str], cut_off: Callable[[str], bool]):
        """``peers`` maps peer address to API URL; ``cut_off(address)`` hides peers a partition cut."""
        self.service = service
        self.chain = service.chain
        self.peers = peers
        self.cut_off = cut_off
        self.wake = asyncio.Event()

    async def _peer_height(self, session: aiohttp.ClientSession, url: str) -> int:
        async with session.get(url + "/health", timeout=aiohttp.ClientTimeout(total=2)) as response:
            try:
                height = parse_json(await _read_capped(response, MAX_HEALTH_BYTES)).get("height")
            except (JsonValueError, AttributeError):
                raise SyncError("/health did not answer a JSON object") from None
        if type(height) is not int:
            raise SyncError("/health has no height")
        return height

    async def catch_up(self) -> int:
        """Fetch and commit blocks until no reachable peer is ahead; returns how many were added."""
        added = 0
        async with aiohttp.ClientSession() as session:
            for address, url in self.peers.items():
                if self.cut_off(address):
                    continue
                try:
                    while await self._peer_height(session, url) > self.chain.height:
                        got = await self._fetch_batch(session, url)
                        if got == 0:
                            break
                        added += got
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError, SyncError) as exc:
                    log.debug("sync from %s failed: %s", url, exc)
        return added

    async def _fetch_batch(self, session: aiohttp.ClientSession, url: str) -> int:
        params = {"from": str(self.chain.height + 1), "count": str(BATCH)}
        async with session.get(url + "/sync/blocks", params=params, timeout=aiohttp.ClientTimeout(total=30)) as response:
            items = _decode_batch(await _read_capped(response, MAX_SYNC_RESPONSE_BYTES))
        for block, commit in items:
            try:
                executed = self.chain.execute_block(block)
                self.chain.commit(executed, commit)
            except (ChainError, ValueError, TypeError, IndexError) as exc:
                self.chain.abandon()
                log.warning("block from %s refused: %s", url, exc)
                return 0
            self.service.after_commit(executed, 0.0)
            log.info("synced block %d from %s", block.height, url)
        return len(items)
