"""Encrypted, mutually authenticated peer links between nodes (over aiohttp WebSockets).

Each node listens on its p2p port at ``/p2p`` and dials every configured peer it has no link
with. When two nodes dial each other at once, the link dialled by the smaller address is
kept. The handshake is CometBFT's SecretConnection (node/secretconn.py): ephemeral X25519
keys, session keys by HKDF, and each side's ed25519 node key signing the session's challenge.
The acceptor sends its signature only after checking the dialer's and its key against the
allowed list, so a node that is not allowed learns nothing of whom it reached. A key not on
the allowed list, a dialled peer presenting another key than its address, or a handshake that
fails is refused with its reason logged (a WARNING on the side that refuses; the dialer logs
"the peer closed the link during the handshake (refused)").

After the handshake each binary WebSocket message is one ChaCha20-Poly1305 frame holding a
msgpack ``[kind, payload]``; a frame that fails to open closes the link. Frames over
``max_frame_bytes`` close the link; a peer that sends more than its rate allows has the
excess dropped. Handshake messages and frames are decoded within explicit msgpack limits, and
a message of the wrong shape ends the handshake or the link. Frame kinds registered with
``handle`` (block sync, node/blocksync.py) go to their handler, all others to ``on_frame``.
Links that fail are redialled with exponential backoff. ``isolate`` cuts links to chosen
peers (used by testnets to inject partitions); ``drop`` closes a misbehaving peer's link.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable

import aiohttp
import msgpack
from aiohttp import WSMsgType, web

from consensus.types import address_of
from node.keys import KeyPair
from node.secretconn import TAG_SIZE, Cipher, FrameError, Handshake, HandshakeError, decode_fields

log = logging.getLogger("flexledger.p2p")

HANDSHAKE_TIMEOUT = 5.0
MAX_BACKOFF = 5.0
FRAME_OVERHEAD = TAG_SIZE + 16  # the AEAD tag and msgpack's array and length headers around a payload


@dataclass(frozen=True)
class PeerInfo:
    address: str   # the peer's node address (from its public key)
    url: str       # http://host:port of its p2p listener


class TokenBucket:
    """Allows ``rate`` events (or bytes) per second with bursts of ``burst``."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def allow(self) -> bool:
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def take(self, amount: float) -> float:
        """Take ``amount``, into debt if need be; the seconds until the debt is paid back (0 if none)."""
        self._refill()
        self.tokens -= amount
        return max(0.0, -self.tokens / self.rate)


@dataclass
class Link:
    """An established link: its WebSocket and the ciphers of both directions."""
    ws: web.WebSocketResponse | aiohttp.ClientWebSocketResponse
    sender: Cipher
    receiver: Cipher
    dialed_by: str

    def send(self, address: str, frame: bytes) -> None:
        """Seal and send ``frame``; sealing here, in call order, keeps the nonces in sending order."""
        if self.ws.closed:
            return
        task = asyncio.ensure_future(self.ws.send_bytes(self.sender.seal(frame)))
        task.add_done_callback(lambda t: t.cancelled() or t.exception() and log.debug("send to %s failed", address))


Handler = Callable[[str, int, bytes], None]


async def _dial_handshake(ws, handshake: Handshake) -> bytes:
    """The dialer's side: hello, auth, then the acceptor's auth; its verified node public key."""
    await ws.send_bytes(handshake.hello)
    await ws.send_bytes(handshake.respond(await _receive(ws)))
    return handshake.verify(await _receive(ws))


async def _accept_handshake(ws, handshake: Handshake, admit: Callable[[bytes], None]) -> bytes:
    """The acceptor's side: it sends its auth only once ``admit`` passed the dialer's verified key."""
    await ws.send_bytes(handshake.hello)
    auth = handshake.respond(await _receive(ws))
    public_key = handshake.verify(await _receive(ws))
    admit(public_key)
    await ws.send_bytes(auth)
    return public_key


async def _receive(ws) -> bytes:
    msg = await ws.receive(timeout=HANDSHAKE_TIMEOUT)
    if msg.type != WSMsgType.BINARY:
        raise HandshakeError(f"the peer closed the link during the handshake ({msg.extra or msg.type.name})")
    return msg.data


class PeerNetwork:
    def __init__(self, chain_id: str, key: KeyPair, peers: list[PeerInfo], allowed: Callable[[bytes], bool],
                 on_frame: Handler, max_frame_bytes: int = 16 * 1024 * 1024, rate: float = 5000, burst: float = 20000):
        self.chain_id = chain_id
        self.key = key
        self.peers = {p.address: p for p in peers if p.address != key.address}
        self.allowed = allowed
        self.on_frame = on_frame
        self.handlers: dict[int, Handler] = {}
        self.max_frame_bytes = max_frame_bytes
        self.rate, self.burst = rate, burst
        self.links: dict[str, Link] = {}
        self.on_link: Callable[[str], None] = lambda address: None
        self.on_unlink: Callable[[str], None] = lambda address: None
        self.isolated: set[str] = set()
        self._last_failure: dict[str, str] = {}
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
        for link in list(self.links.values()):
            await link.ws.close()
        if self._session:
            await self._session.close()

    def handle(self, kind: int, handler: Handler) -> None:
        """Frames of ``kind`` go to ``handler`` instead of ``on_frame``."""
        self.handlers[kind] = handler

    # -- sending -------------------------------------------------------------------------
    def broadcast(self, kind: int, payload: bytes, exclude: str | None = None) -> None:
        frame = msgpack.packb([kind, payload], use_bin_type=True)
        for address, link in list(self.links.items()):
            if address != exclude:
                link.send(address, frame)

    def send(self, address: str, kind: int, payload: bytes) -> None:
        link = self.links.get(address)
        if link is not None:
            link.send(address, msgpack.packb([kind, payload], use_bin_type=True))

    def isolate(self, addresses: set[str]) -> None:
        """Cut links to ``addresses`` and refuse them until ``isolate`` is called without them."""
        self.isolated = set(addresses)
        for address in self.isolated & set(self.links):
            asyncio.ensure_future(self.links[address].ws.close())

    def drop(self, address: str, reason: str) -> None:
        """Close the link of a peer that misbehaved (it may link again)."""
        link = self.links.get(address)
        if link is not None:
            log.warning("dropped peer %s: %s", address, reason)
            asyncio.ensure_future(link.ws.close(message=b"dropped"))

    def connected(self) -> list[str]:
        return sorted(self.links)

    # -- handshake -----------------------------------------------------------------------
    async def _accept(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=self.max_frame_bytes + FRAME_OVERHEAD, heartbeat=10, compress=False)
        await ws.prepare(request)
        handshake = Handshake(self.chain_id, self.key)
        try:
            public_key = await asyncio.wait_for(_accept_handshake(ws, handshake, self._admit), HANDSHAKE_TIMEOUT)
        except (HandshakeError, asyncio.TimeoutError) as exc:
            log.warning("refused peer at %s: %s", request.remote, str(exc) or "the handshake timed out")
            await ws.close(message=b"refused")
            return ws
        address = address_of(public_key)
        await self._serve(address, Link(ws, handshake.sender, handshake.receiver, dialed_by=address))
        return ws

    def _admit(self, public_key: bytes) -> None:
        address = address_of(public_key)
        if not self.allowed(public_key):
            raise HandshakeError(f"key {address} is not allowed")
        if address in self.isolated:
            raise HandshakeError(f"{address} is cut off (isolated)")

    async def _dial(self, peer: PeerInfo) -> None:
        assert self._session is not None
        async with self._session.ws_connect(peer.url.rstrip("/") + "/p2p", compress=0, heartbeat=10,
                                            max_msg_size=self.max_frame_bytes + FRAME_OVERHEAD,
                                            timeout=aiohttp.ClientWSTimeout(ws_close=HANDSHAKE_TIMEOUT)) as ws:
            handshake = Handshake(self.chain_id, self.key)
            public_key = await asyncio.wait_for(_dial_handshake(ws, handshake), HANDSHAKE_TIMEOUT)
            if address_of(public_key) != peer.address:
                raise HandshakeError(f"the peer at {peer.url} is {address_of(public_key)}, not {peer.address}")
            self._last_failure.pop(peer.address, None)
            await self._serve(peer.address, Link(ws, handshake.sender, handshake.receiver, dialed_by=self.key.address))

    async def _dial_forever(self, peer: PeerInfo) -> None:
        backoff = 0.1
        while True:
            if peer.address not in self.isolated and peer.address not in self.links:
                started = time.monotonic()
                try:
                    await self._dial(peer)
                except HandshakeError as exc:
                    self._log_refusal(peer, str(exc))
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                    log.debug("link to %s failed: %s", peer.address, exc)
                if time.monotonic() - started > 5:
                    backoff = 0.1  # the link was up for a while: reconnect quickly
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _log_refusal(self, peer: PeerInfo, reason: str) -> None:
        """A failed handshake with a dialled peer: a WARNING when the reason is new, then DEBUG while it lasts."""
        level = logging.DEBUG if self._last_failure.get(peer.address) == reason else logging.WARNING
        self._last_failure[peer.address] = reason
        log.log(level, "handshake with %s at %s failed: %s", peer.address, peer.url, reason)

    # -- receiving -----------------------------------------------------------------------
    async def _serve(self, address: str, link: Link) -> None:
        ws = link.ws
        if address in self.links:
            preferred = min(address, self.key.address)
            if self.links[address].dialed_by == preferred != link.dialed_by:
                await ws.close(message=b"duplicate link")  # keep the link the smaller address dialled
                return
            await self.links[address].ws.close()  # a crossing link to keep, or a reconnect replacing a stale one
        self.links[address] = link
        bucket = TokenBucket(self.rate, self.burst)
        log.info("linked with peer %s", address)
        self.on_link(address)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY:
                    break
                if address in self.isolated:
                    break
                try:
                    frame = link.receiver.open(msg.data)
                except FrameError as exc:
                    log.warning("%s from %s; closing the link", exc, address)
                    break
                if not bucket.allow():
                    continue
                try:
                    kind, payload = decode_fields(frame, (int, bytes), max_bin_len=self.max_frame_bytes)
                except ValueError:
                    log.warning("malformed frame from %s; closing the link", address)
                    break
                self.handlers.get(kind, self.on_frame)(address, kind, payload)
        finally:
            if self.links.get(address) is link:
                del self.links[address]
                self.on_unlink(address)
            await ws.close()
            log.info("link with peer %s closed", address)
