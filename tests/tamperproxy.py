"""A p2p relay for tests: it sits between a dialling node and the node it means to reach,
passes every WebSocket message on, and may change one of them on its way (a man in the middle)."""
from __future__ import annotations

import asyncio
from typing import Callable

import aiohttp
from aiohttp import WSMsgType, web

# (direction "to_acceptor" or "to_dialer", index of the message in that direction, bytes) -> bytes
Tamper = Callable[[str, int, bytes], bytes]


class TamperProxy:
    def __init__(self, target_url: str, tamper: Tamper):
        self.target_url = target_url.rstrip("/") + "/p2p"
        self.tamper = tamper
        self.runner: web.AppRunner | None = None

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.add_routes([web.get("/p2p", self._relay)])
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, host, port).start()

    async def stop(self) -> None:
        await self.runner.cleanup()

    async def _relay(self, request: web.Request) -> web.WebSocketResponse:
        dialer = web.WebSocketResponse(compress=False, max_msg_size=0)
        await dialer.prepare(request)
        async with aiohttp.ClientSession() as session, session.ws_connect(self.target_url, compress=0,
                                                                          max_msg_size=0) as acceptor:
            await asyncio.gather(self._pump(dialer, acceptor, "to_acceptor"),
                                 self._pump(acceptor, dialer, "to_dialer"))
        return dialer

    async def _pump(self, source, sink, direction: str) -> None:
        index = 0
        async for msg in source:
            if msg.type != WSMsgType.BINARY or sink.closed:
                break
            await sink.send_bytes(self.tamper(direction, index, msg.data))
            index += 1
        await sink.close()


def flip_byte(direction: str, index: int, position: int = -1) -> Tamper:
    """Change one byte (``position``) of message ``index`` going ``direction``; pass the rest unchanged."""
    def tamper(going: str, number: int, data: bytes) -> bytes:
        if (going, number) != (direction, index):
            return data
        spot = position % len(data)
        return data[:spot] + bytes([data[spot] ^ 0x01]) + data[spot + 1:]
    return tamper
