"""Block sync: a node that is behind fetches committed blocks with their commit certificates
from its peers' APIs, checks each certificate against the validator set in force at that
height, executes the block and commits it — then consensus resumes at the new height.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

import aiohttp
import msgpack

from consensus.types import Commit
from node.block import Block, BlockFormatError
from node.chain import Chain, ChainError
from node.service import NodeService

log = logging.getLogger("flexledger.sync")
BATCH = 50


def encode_blocks(chain: Chain, start: int, count: int) -> bytes:
    """The ``/sync/blocks`` answer: [[block bytes, commit], ...] from ``start``."""
    out = []
    for height in range(start, min(start + count, chain.height + 1)):
        commit = chain.store.commit(height)
        if commit is None:
            break
        out.append([chain.store.block(height).to_bytes(), commit.to_list()])
    return msgpack.packb(out, use_bin_type=True)


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
            return (await response.json())["height"]

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
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError, KeyError, ValueError) as exc:
                    log.debug("sync from %s failed: %s", url, exc)
        return added

    async def _fetch_batch(self, session: aiohttp.ClientSession, url: str) -> int:
        params = {"from": str(self.chain.height + 1), "count": str(BATCH)}
        async with session.get(url + "/sync/blocks", params=params, timeout=aiohttp.ClientTimeout(total=30)) as response:
            items = msgpack.unpackb(await response.read())
        for block_bytes, commit_list in items:
            try:
                block = Block.from_bytes(block_bytes)
                commit = Commit.from_list(commit_list)
                executed = self.chain.execute_block(block)
                self.chain.commit(executed, commit)
            except (BlockFormatError, ChainError, ValueError, TypeError, IndexError) as exc:
                self.chain.abandon()
                log.warning("block from %s refused: %s", url, exc)
                return 0
            self.service.after_commit(executed, 0.0)
            log.info("synced block %d from %s", block.height, url)
        return len(items)
