"""Peer links over real sockets on 127.0.0.1: handshake, refusal of unknown keys, gossip, cuts."""
import asyncio

from aiohttp import web

from node.keys import KeyPair
from node.p2p import PeerInfo, PeerNetwork
from testnet.devnode import free_port

CHAIN = "p2p-test"


class Node:
    def __init__(self, key, port, allowed_keys):
        self.key, self.port = key, port
        self.received = []
        self.allowed_keys = allowed_keys
        self.network = None
        self.runner = None

    async def start(self, peers):
        self.network = PeerNetwork(CHAIN, self.key, peers, lambda pk: pk in self.allowed_keys,
                                   lambda peer, kind, payload: self.received.append((peer, kind, payload)))
        app = web.Application()
        app.add_routes(self.network.routes())
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        await self.network.start()

    async def stop(self):
        await self.network.stop()
        await self.runner.cleanup()


async def _until(predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


async def _mesh(count, allowed_extra=()):
    keys = [KeyPair.generate() for _ in range(count)]
    ports = [free_port() for _ in keys]
    allowed = {k.public_key for k in keys} | set(allowed_extra)
    nodes = [Node(k, p, allowed) for k, p in zip(keys, ports)]
    infos = [PeerInfo(k.address, f"http://127.0.0.1:{p}") for k, p in zip(keys, ports)]
    for node in nodes:
        await node.start(infos)
    return nodes


async def test_mesh_links_once_per_pair_and_delivers_broadcasts():
    nodes = await _mesh(3)
    try:
        await _until(lambda: all(len(n.network.connected()) == 2 for n in nodes))
        nodes[0].network.broadcast(7, b"hello")
        await _until(lambda: all((nodes[0].key.address, 7, b"hello") in n.received for n in nodes[1:]))
        await asyncio.sleep(0.3)
        assert all(len(n.network.connected()) == 2 for n in nodes)  # crossing dials settled on one link
    finally:
        for node in nodes:
            await node.stop()


async def test_unknown_key_is_refused():
    nodes = await _mesh(2)
    intruder_key = KeyPair.generate()
    intruder = Node(intruder_key, free_port(), {n.key.public_key for n in nodes})
    await intruder.start([PeerInfo(n.key.address, f"http://127.0.0.1:{n.port}") for n in nodes])
    try:
        await asyncio.sleep(1.0)
        assert intruder.network.connected() == []
        assert all(intruder_key.address not in n.network.connected() for n in nodes)
    finally:
        await intruder.stop()
        for node in nodes:
            await node.stop()


async def test_isolate_cuts_and_heal_restores():
    nodes = await _mesh(3)
    try:
        await _until(lambda: all(len(n.network.connected()) == 2 for n in nodes))
        a, b, c = nodes
        a.network.isolate({c.key.address})
        c.network.isolate({a.key.address})
        await _until(lambda: c.key.address not in a.network.connected())
        c.received.clear()
        a.network.broadcast(1, b"x")
        await asyncio.sleep(0.3)
        assert not any(peer == a.key.address for peer, _, _ in c.received)
        a.network.isolate(set())
        c.network.isolate(set())
        await _until(lambda: c.key.address in a.network.connected(), timeout=15)
    finally:
        for node in nodes:
            await node.stop()
