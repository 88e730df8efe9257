"""Peer links: the SecretConnection handshake's time and what encryption costs in throughput.

Over loopback in one process: ``--links`` times, a fresh dialer links with a listening node
(TCP + WebSocket upgrade + the handshake, until both sides count the link), and the median and
95th percentile are printed, with the handshake's CPU alone (both sides, no sockets). Then, in
the same run, frames of each ``--sizes`` go one way over a PeerNetwork link, once with its
ciphers swapped for none after the handshake (plain) and once as it is (encrypted): frames/s
and MB/s of both (the best of ``--repeat`` alternating runs), the cost of encryption, and
ChaCha20-Poly1305 seal + open alone. Last, block sync over such a link: a fresh chain fetches
``--sync-blocks`` empty blocks from a peer (asks, answers, certificate checks, execution and
commits, both nodes in this one process), in blocks/s.

Reproduce: .venv/bin/python bench/bench_p2p.py --links 100 --frames 20000 --sizes 200 4096 65536 --repeat 3 \
           --sync-blocks 2000
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import msgpack
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.blocksync import BlockSync  # noqa: E402
from node.keys import KeyPair  # noqa: E402
from node.p2p import PeerInfo, PeerNetwork  # noqa: E402
from node.secretconn import Cipher, Handshake  # noqa: E402
from testnet.devnode import free_port  # noqa: E402
from tests.chainkit import CHAIN_ID, LocalChain  # noqa: E402
from tests.linkkit import LinkNode, until  # noqa: E402

CHAIN = "bench-p2p"
KIND = 7
UNLIMITED = 1e12  # frames per second: the bench measures the link, not the rate limit


async def _site(routes: list[web.RouteDef], port: int) -> web.AppRunner:
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def handshake_times(links: int) -> list[float]:
    """Seconds from a dialer's start until both sides count the link, ``links`` times."""
    listener_key, port = KeyPair.generate(), free_port()
    listener = PeerNetwork(CHAIN, listener_key, [], lambda key: True, lambda *frame: None)
    runner = await _site(listener.routes(), port)
    times = []
    for _ in range(links):
        linked = asyncio.Event()
        dialer = PeerNetwork(CHAIN, KeyPair.generate(), [PeerInfo(listener_key.address, f"http://127.0.0.1:{port}")],
                             lambda key: True, lambda *frame: None)
        listener.on_link = lambda address: linked.set()
        started = time.perf_counter()
        await dialer.start()
        await linked.wait()
        while not dialer.connected():
            await asyncio.sleep(0)
        times.append(time.perf_counter() - started)
        await dialer.stop()
        while listener.connected():
            await asyncio.sleep(0.001)
    await runner.cleanup()
    return times


def handshake_cpu(rounds: int = 200) -> float:
    """Seconds of CPU for one handshake, both sides, without sockets."""
    alice, bob = KeyPair.generate(), KeyPair.generate()
    started = time.perf_counter()
    for _ in range(rounds):
        a, b = Handshake(CHAIN, alice), Handshake(CHAIN, bob)
        auth_a, auth_b = a.respond(b.hello), b.respond(a.hello)
        a.verify(auth_b), b.verify(auth_a)
    return (time.perf_counter() - started) / rounds


class NoCipher:
    """Frames in the clear: swapped into an established link to measure it without encryption."""

    def seal(self, frame: bytes) -> bytes:
        return frame

    def open(self, frame: bytes) -> bytes:
        return frame


async def link_rate(size: int, frames: int, encrypted: bool) -> float:
    """Seconds to carry ``frames`` frames of ``size`` bytes one way over a PeerNetwork link."""
    done, received = asyncio.Event(), 0

    def on_frame(peer, kind, payload):
        nonlocal received
        received += 1
        if received == frames:
            done.set()

    keys, port = (KeyPair.generate(), KeyPair.generate()), free_port()
    receiver = PeerNetwork(CHAIN, keys[1], [], lambda key: True, on_frame, rate=UNLIMITED, burst=UNLIMITED)
    sender = PeerNetwork(CHAIN, keys[0], [PeerInfo(keys[1].address, f"http://127.0.0.1:{port}")],
                         lambda key: True, lambda *frame: None, rate=UNLIMITED, burst=UNLIMITED)
    runner = await _site(receiver.routes(), port)
    await sender.start()
    while not (sender.connected() and receiver.connected()):
        await asyncio.sleep(0.01)
    if not encrypted:
        sender.links[keys[1].address].sender = receiver.links[keys[0].address].receiver = NoCipher()
    payload = b"x" * size
    started = time.perf_counter()
    for _ in range(frames):
        sender.send(keys[1].address, KIND, payload)
        await asyncio.sleep(0)  # let the send task write
    await done.wait()
    elapsed = time.perf_counter() - started
    await sender.stop()
    await runner.cleanup()
    return elapsed


def cipher_rate(size: int, frames: int) -> float:
    """Seconds to seal and open ``frames`` frames of ``size`` bytes, no sockets."""
    sender, receiver = Cipher(b"k" * 32), Cipher(b"k" * 32)
    frame = msgpack.packb([KIND, b"x" * size], use_bin_type=True)
    started = time.perf_counter()
    for _ in range(frames):
        receiver.open(sender.seal(frame))
    return time.perf_counter() - started


async def sync_rate(blocks: int) -> float:
    """Blocks per second that a fresh chain syncs from a peer holding ``blocks`` empty blocks."""
    with tempfile.TemporaryDirectory() as directory:
        source = LocalChain(Path(directory) / "source")
        for _ in range(blocks):
            source.driver.produce_block()
        follower = LocalChain(Path(directory) / "follower", validator=source.validator, issuer=source.issuer)
        serving, asking = LinkNode(chain=CHAIN_ID), LinkNode(chain=CHAIN_ID)
        BlockSync(source.service, serving.network)
        sync = BlockSync(follower.service, asking.network)
        await serving.start()
        await asking.start([serving.info])
        await until(lambda: serving.key.address in asking.network.connected())
        started = time.perf_counter()
        assert await sync.catch_up() == blocks
        elapsed = time.perf_counter() - started
        await asking.stop()
        await serving.stop()
        source.close()
        follower.close()
    return blocks / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=100)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 4096, 65536])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sync-blocks", type=int, default=2000)
    args = parser.parse_args()
    times = sorted(await handshake_times(args.links))
    print(f"link set-up (TCP + WebSocket + handshake), {args.links} links: median "
          f"{statistics.median(times) * 1000:.2f} ms, p95 {times[int(0.95 * (len(times) - 1))] * 1000:.2f} ms; "
          f"handshake CPU alone (both sides) {handshake_cpu() * 1000:.2f} ms")
    print(f"{'frame bytes':>11} | {'plain frames/s':>14} {'MB/s':>7} | {'encrypted frames/s':>18} {'MB/s':>7} | "
          f"{'cost':>5} | {'seal+open alone MB/s':>20}")
    for size in args.sizes:
        frames = max(200, min(args.frames, args.frames * 4096 // size))
        plain, encrypted = float("inf"), float("inf")
        for _ in range(args.repeat):  # alternating, the best of each: the machine is shared
            plain = min(plain, await link_rate(size, frames, False))
            encrypted = min(encrypted, await link_rate(size, frames, True))
        cipher = cipher_rate(size, frames)
        print(f"{size:>11} | {frames / plain:>14,.0f} {frames * size / plain / 1e6:>7.1f} | "
              f"{frames / encrypted:>18,.0f} {frames * size / encrypted / 1e6:>7.1f} | "
              f"{encrypted / plain - 1:>+5.0%} | {frames * size / cipher / 1e6:>20.0f}")
    print(f"block sync over an encrypted link: {args.sync_blocks} empty blocks at "
          f"{await sync_rate(args.sync_blocks):,.0f} blocks/s")


if __name__ == "__main__":
    asyncio.run(main())
