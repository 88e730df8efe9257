"""Authenticated peer-to-peer links between validators (aiohttp WebSockets).

Each node listens on its p2p port at ``/p2p`` and dials every configured peer it has no link
with. When two nodes dial each other at once, the link dialled by the smaller address is
kept. The handshake proves possession of the node key on both sides:

    acceptor -> dialer:  [chain_id, challenge_a]
    dialer   -> acceptor: [dialer public key, challenge_d, sign(b"p2p" + chain_id + challenge_a)]
    acceptor -> dialer:  [acceptor public key, sign(b"p2p" + chain_id + challenge_d)]

Keys not on the allowed list are refused. After the handshake each binary frame is a msgpack
``[kind, payload]``. Frames over ``max_frame_bytes`` close the link; a peer that sends more
than its rate allows has the excess dropped. Handshake messages and frames are decoded within
explicit msgpack limits (field counts, key, challenge and signature sizes), and a message of
the wrong shape ends the handshake or the link. Links that fail are redialled with exponential
backoff. ``isolate`` cuts links to chosen peers (used by testnets to inject partitions).
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Callable

import aiohttp
import msgpack
from aiohttp import WSMsgType, web

from consensus.types import address_of, verify_signature
from node.keys import KeyPair

log = logging.getLogger("flexledger.p2p")

HANDSHAKE_TIMEOUT = 5.0
MAX_BACKOFF = 5.0
MAX_CHAIN_ID_LEN = 256  # characters of the chain id in the acceptor's greeting
KEY_SIZE, CHALLENGE_SIZE, SIGNATURE_SIZE = 32, 32, 64


@dataclass(frozen=True)
class PeerInfo:
    address: str   # the peer's node address (from its public key)
    url: str       # http://host:port of its p2p listener


class TokenBucket:
    """Allows ``rate`` events per second with bursts of ``burst``."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _proof_message(chain_id: str, challenge: bytes) -> bytes:
    return b"p2p" + chain_id.encode() + challenge


def _fields(data: object, sizes: tuple[int | type, ...], max_bin_len: int = SIGNATURE_SIZE) -> list:
    """The fields of a msgpack array message: ``sizes`` gives each field's byte length, or its type.

    Raises ValueError for anything else; msgpack decodes nothing larger than such a message.
    """
    if not isinstance(data, bytes):
        raise ValueError("expected a binary message")
    try:
        fields = msgpack.unpackb(data, raw=False, use_list=True, max_array_len=len(sizes), max_map_len=0,
                                 max_ext_len=0, max_str_len=MAX_CHAIN_ID_LEN, max_bin_len=max_bin_len)
    except (ValueError, msgpack.UnpackException) as exc:
        raise ValueError(f"malformed message: {exc}") from None
    if type(fields) is not list or len(fields) != len(sizes) or not all(
            type(value) is size if isinstance(size, type) else type(value) is bytes and len(value) == size
            for value, size in zip(fields, sizes)):
        raise ValueError("message fields of the wrong type or size")
    return fields


Handler = Callable[[str, int, bytes], None]


class PeerNetwork:
    def __init__(self, chain_id: str, key: KeyPair, peers: list[PeerInfo], allowed: Callable[[bytes], bool],
                 on_frame: Handler, max_frame_bytes: int = 16 * 1024 * 1024, rate: float = 5000, burst: float = 20000):
        self.chain_id = chain_id
        self.key = key
        self.peers = {p.address: p for p in peers if p.address != key.address}
        self.allowed = allowed
        self.on_frame = on_frame
        self.max_frame_bytes = max_frame_bytes
        self.rate, self.burst = rate, burst
        self.links: dict[str, web.WebSocketResponse | aiohttp.ClientWebSocketResponse] = {}
        self._dialers: dict[str, str] = {}
        self.on_link: Callable[[str], None] = lambda address: None
        self.isolated: set[str] = set()
        self._tasks: list[asyncio.Task] = []
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [web.get("/p2p", self._accept)]

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        for address in sorted(self.peers):
            self._tasks.append(asyncio.create_task(self._dial_forever(self.peers[address])))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for ws in list(self.links.values()):
            await ws.close()
        if self._session:
            await self._session.close()

    # -- sending -------------------------------------------------------------------------
    def broadcast(self, kind: int, payload: bytes, exclude: str | None = None) -> None:
        frame = msgpack.packb([kind, payload], use_bin_type=True)
        for address, ws in list(self.links.items()):
            if address != exclude:
                self._send_frame(address, ws, frame)

    def send(self, address: str, kind: int, payload: bytes) -> None:
        ws = self.links.get(address)
        if ws is not None:
            self._send_frame(address, ws, msgpack.packb([kind, payload], use_bin_type=True))

    def _send_frame(self, address: str, ws, frame: bytes) -> None:
        if ws.closed:
            return
        task = asyncio.ensure_future(ws.send_bytes(frame))
        task.add_done_callback(lambda t: t.cancelled() or t.exception() and log.debug("send to %s failed", address))

    def isolate(self, addresses: set[str]) -> None:
        """Cut links to ``addresses`` and refuse them until ``isolate`` is called without them."""
        self.isolated = set(addresses)
        for address in self.isolated & set(self.links):
            asyncio.ensure_future(self.links[address].close())

    def connected(self) -> list[str]:
        return sorted(self.links)

    # -- handshake -----------------------------------------------------------------------
    async def _accept(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=self.max_frame_bytes, heartbeat=10)
        await ws.prepare(request)
        try:
            challenge = os.urandom(32)
            await ws.send_bytes(msgpack.packb([self.chain_id, challenge], use_bin_type=True))
            msg = await ws.receive(timeout=HANDSHAKE_TIMEOUT)
            public_key, their_challenge, signature = _fields(msg.data, (KEY_SIZE, CHALLENGE_SIZE, SIGNATURE_SIZE))
            address = address_of(public_key)
            if not self.allowed(public_key) or address in self.isolated or not verify_signature(
                    public_key, _proof_message(self.chain_id, challenge), signature):
                log.warning("refused peer %s: unknown key or bad handshake", address)
                await ws.close(message=b"refused")
                return ws
            await ws.send_bytes(msgpack.packb([self.key.public_key, self.key.sign(
                _proof_message(self.chain_id, their_challenge))], use_bin_type=True))
        except (asyncio.TimeoutError, ValueError):
            await ws.close(message=b"bad handshake")
            return ws
        await self._serve(address, ws, dialed_by=address)
        return ws

    async def _dial(self, peer: PeerInfo) -> None:
        assert self._session is not None
        async with self._session.ws_connect(peer.url.rstrip("/") + "/p2p", max_msg_size=self.max_frame_bytes,
                                            heartbeat=10,
                                            timeout=aiohttp.ClientWSTimeout(ws_close=HANDSHAKE_TIMEOUT)) as ws:
            msg = await ws.receive(timeout=HANDSHAKE_TIMEOUT)
            chain_id, challenge = _fields(msg.data, (str, CHALLENGE_SIZE))
            if chain_id != self.chain_id:
                raise ConnectionError(f"peer {peer.address} is on chain {chain_id!r}")
            mine = os.urandom(32)
            await ws.send_bytes(msgpack.packb([self.key.public_key, mine, self.key.sign(
                _proof_message(self.chain_id, challenge))], use_bin_type=True))
            msg = await ws.receive(timeout=HANDSHAKE_TIMEOUT)
            if msg.type != WSMsgType.BINARY:
                raise ConnectionError(f"peer {peer.address} refused the handshake")
            public_key, signature = _fields(msg.data, (KEY_SIZE, SIGNATURE_SIZE))
            if address_of(public_key) != peer.address or not verify_signature(
                    public_key, _proof_message(self.chain_id, mine), signature):
                raise ConnectionError(f"peer at {peer.url} is not {peer.address}")
            await self._serve(peer.address, ws, dialed_by=self.key.address)

    async def _dial_forever(self, peer: PeerInfo) -> None:
        backoff = 0.1
        while True:
            if peer.address not in self.isolated and peer.address not in self.links:
                started = time.monotonic()
                try:
                    await self._dial(peer)
                except (aiohttp.ClientError, ConnectionError, asyncio.TimeoutError, OSError, ValueError) as exc:
                    log.debug("link to %s failed: %s", peer.address, exc)
                if time.monotonic() - started > 5:
                    backoff = 0.1  # the link was up for a while: reconnect quickly
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    # -- receiving -----------------------------------------------------------------------
    async def _serve(self, address: str, ws, dialed_by: str) -> None:
        if address in self.links:
            preferred = min(address, self.key.address)
            if self._dialers[address] == preferred != dialed_by:
                await ws.close(message=b"duplicate link")  # keep the link the smaller address dialled
                return
            await self.links[address].close()  # a crossing link to keep, or a reconnect replacing a stale one
        self.links[address] = ws
        self._dialers[address] = dialed_by
        bucket = TokenBucket(self.rate, self.burst)
        log.info("linked with peer %s", address)
        self.on_link(address)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY:
                    break
                if address in self.isolated:
                    break
                if not bucket.allow():
                    continue
                try:
                    kind, payload = _fields(msg.data, (int, bytes), max_bin_len=self.max_frame_bytes)
                except ValueError:
                    log.warning("malformed frame from %s; closing the link", address)
                    break
                self.on_frame(address, kind, payload)
        finally:
            if self.links.get(address) is ws:
                del self.links[address]
            await ws.close()
            log.info("link with peer %s closed", address)
