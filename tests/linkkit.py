"""Helpers for tests of peer links on loopback: a node's PeerNetwork on its own port, and waiting."""
from __future__ import annotations

import asyncio
from typing import Callable

from aiohttp import web

from node.keys import KeyPair
from node.p2p import PeerInfo, PeerNetwork
from testnet.devnode import free_port

CHAIN = "p2p-test"


class LinkNode:
    """A PeerNetwork listening on its own port of ``host``; ``received`` holds what its ``on_frame`` got."""

    def __init__(self, key: KeyPair | None = None, allowed: Callable[[bytes], bool] = lambda public_key: True,
                 chain: str = CHAIN, host: str = "127.0.0.1"):
        self.key = key or KeyPair.generate()
        self.host, self.port = host, free_port()
        self.info = PeerInfo(self.key.address, f"http://{host}:{self.port}")
        self.received: list[tuple[str, int, bytes]] = []
        self.network = PeerNetwork(chain, self.key, [], allowed,
                                   lambda peer, kind, payload: self.received.append((peer, kind, payload)))
        self.runner: web.AppRunner | None = None

    async def start(self, peers: list[PeerInfo] = ()) -> None:
        """Listen, and dial ``peers`` (itself left out)."""
        self.network.peers = {p.address: p for p in peers if p.address != self.key.address}
        app = web.Application()
        app.add_routes(self.network.routes())
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.host, self.port).start()
        await self.network.start()

    async def stop(self) -> None:
        await self.network.stop()
        await self.runner.cleanup()


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)
