"""Peer links over real sockets on 127.0.0.1: handshake, refusal of unknown keys, of other chains, of a
peer with another key than dialled, of a handshake or frame changed in transit (each with the
reason logged), gossip, cuts."""
import asyncio
import logging

import pytest

from node.keys import KeyPair
from node.p2p import PeerInfo
from tests.linkkit import CHAIN, LinkNode, until
from tests.tamperproxy import TamperProxy, flip_byte
from testnet.devnode import free_port


async def _mesh(count, allowed_extra=()):
    keys = [KeyPair.generate() for _ in range(count)]
    allowed = {k.public_key for k in keys} | set(allowed_extra)
    nodes = [LinkNode(k, allowed.__contains__) for k in keys]
    for node in nodes:
        await node.start([n.info for n in nodes])
    return nodes


async def test_mesh_links_once_per_pair_and_delivers_broadcasts():
    nodes = await _mesh(3)
    try:
        await until(lambda: all(len(n.network.connected()) == 2 for n in nodes))
        nodes[0].network.broadcast(7, b"hello")
        await until(lambda: all((nodes[0].key.address, 7, b"hello") in n.received for n in nodes[1:]))
        await asyncio.sleep(0.3)
        assert all(len(n.network.connected()) == 2 for n in nodes)  # crossing dials settled on one link
    finally:
        for node in nodes:
            await node.stop()


async def test_unknown_key_is_refused(caplog):
    nodes = await _mesh(2)
    intruder_key = KeyPair.generate()
    intruder = LinkNode(intruder_key, {n.key.public_key for n in nodes}.__contains__)
    await intruder.start([n.info for n in nodes])
    try:
        await asyncio.sleep(1.0)
        assert intruder.network.connected() == []
        assert all(intruder_key.address not in n.network.connected() for n in nodes)
        assert f"refused peer at 127.0.0.1: key {intruder_key.address} is not allowed" in caplog.messages
        assert any(m.startswith("handshake with ") and m.endswith(
            "failed: the peer closed the link during the handshake (refused)") for m in caplog.messages)
    finally:
        await intruder.stop()
        for node in nodes:
            await node.stop()


async def _pair(acceptor_chain=CHAIN):
    """A dialer knowing an acceptor, which knows no peers; both allow each other's key."""
    keys = [KeyPair.generate(), KeyPair.generate()]
    allowed = {k.public_key for k in keys}
    dialer, acceptor = LinkNode(keys[0], allowed.__contains__), LinkNode(keys[1], allowed.__contains__, acceptor_chain)
    await acceptor.start([])
    return dialer, acceptor


async def test_another_chain_is_refused(caplog):
    dialer, acceptor = await _pair(acceptor_chain="other-chain")
    await dialer.start([acceptor.info])
    try:
        await until(lambda: "refused peer at 127.0.0.1: the peer is on chain 'p2p-test', not 'other-chain'"
                     in caplog.messages)
        assert dialer.network.connected() == acceptor.network.connected() == []
    finally:
        await dialer.stop()
        await acceptor.stop()


async def test_a_dialled_peer_with_another_key_is_refused(caplog):
    dialer, acceptor = await _pair()
    url = f"http://127.0.0.1:{acceptor.port}"
    expected = KeyPair.generate().address
    await dialer.start([PeerInfo(expected, url)])
    try:
        await until(lambda: f"handshake with {expected} at {url} failed: the peer at {url} is "
                             f"{acceptor.key.address}, not {expected}" in caplog.messages)
        await asyncio.sleep(0.2)
        assert dialer.network.connected() == []
    finally:
        await dialer.stop()
        await acceptor.stop()


AUTH_FAILED = "the auth message failed authentication (changed, replayed or from another session)"


@pytest.mark.parametrize("direction,index,refused_by", [
    ("to_acceptor", 0, "acceptor"),   # the dialer's hello: its ephemeral key's last byte
    ("to_acceptor", 1, "acceptor"),   # the dialer's auth message
    ("to_dialer", 0, "acceptor"),     # the acceptor's hello: the dialer's keys then differ from its own
    ("to_dialer", 1, "dialer"),       # the acceptor's auth message
], ids=["dialer-hello", "dialer-auth", "acceptor-hello", "acceptor-auth"])
async def test_a_handshake_changed_in_transit_is_refused(caplog, direction, index, refused_by):
    dialer, acceptor = await _pair()
    proxy = TamperProxy(f"http://127.0.0.1:{acceptor.port}", flip_byte(direction, index))
    proxy_port = free_port()
    await proxy.start("127.0.0.1", proxy_port)
    url = f"http://127.0.0.1:{proxy_port}"
    await dialer.start([PeerInfo(acceptor.key.address, url)])
    try:
        reason = (f"refused peer at 127.0.0.1: {AUTH_FAILED}" if refused_by == "acceptor"
                  else f"handshake with {acceptor.key.address} at {url} failed: {AUTH_FAILED}")
        await until(lambda: reason in caplog.messages)
        assert dialer.key.address not in acceptor.network.connected()
    finally:
        await dialer.stop()
        await proxy.stop()
        await acceptor.stop()


async def test_a_frame_changed_in_transit_closes_the_link(caplog):
    dialer, acceptor = await _pair()
    proxy = TamperProxy(f"http://127.0.0.1:{acceptor.port}", flip_byte("to_acceptor", 2))
    proxy_port = free_port()
    await proxy.start("127.0.0.1", proxy_port)
    await dialer.start([PeerInfo(acceptor.key.address, f"http://127.0.0.1:{proxy_port}")])
    try:
        await until(lambda: dialer.key.address in acceptor.network.connected())
        caplog.set_level(logging.INFO, "flexledger.p2p")
        dialer.network.broadcast(7, b"changed on its way")
        await until(lambda: f"frame 1 failed authentication from {dialer.key.address}; closing the link"
                     in caplog.messages)
        await until(lambda: f"link with peer {dialer.key.address} closed" in caplog.messages)
        assert (dialer.key.address, 7, b"changed on its way") not in acceptor.received
    finally:
        await dialer.stop()
        await proxy.stop()
        await acceptor.stop()


async def test_isolate_cuts_and_heal_restores():
    nodes = await _mesh(3)
    try:
        await until(lambda: all(len(n.network.connected()) == 2 for n in nodes))
        a, b, c = nodes
        a.network.isolate({c.key.address})
        c.network.isolate({a.key.address})
        await until(lambda: c.key.address not in a.network.connected())
        c.received.clear()
        a.network.broadcast(1, b"x")
        await asyncio.sleep(0.3)
        assert not any(peer == a.key.address for peer, _, _ in c.received)
        a.network.isolate(set())
        c.network.isolate(set())
        await until(lambda: c.key.address in a.network.connected(), timeout=15)
    finally:
        for node in nodes:
            await node.stop()
