"""Block sync over encrypted peer links on 127.0.0.1: a fresh node fetches a peer's chain in
batches; a peer answering nonsense, or asking nonsense, is dropped with the reason logged;
answers beyond the byte rate wait their turn, and an ask meanwhile is ignored."""
import asyncio

import pytest

from node import blocksync
from node.blocksync import KIND_SYNC_ASK, KIND_SYNC_BLOCKS, BlockSync, decode_ask, encode_blocks
from node.encoding import encode
from tests.chainkit import CHAIN_ID, LocalChain
from tests.linkkit import LinkNode, until


@pytest.fixture
def chains(tmp_path):
    source = LocalChain(tmp_path / "source")
    follower = LocalChain(tmp_path / "follower", validator=source.validator, issuer=source.issuer)
    yield source, follower
    source.close()
    follower.close()


async def _linked(serving: LinkNode, asking: LinkNode):
    await serving.start()
    await asking.start([serving.info])
    await until(lambda: serving.key.address in asking.network.connected())


async def test_a_fresh_node_fetches_the_chain_in_batches(chains, monkeypatch):
    monkeypatch.setattr(blocksync, "BATCH", 7)
    source, follower = chains
    for _ in range(30):
        source.driver.produce_block()
    serving, asking = LinkNode(chain=CHAIN_ID), LinkNode(chain=CHAIN_ID)
    BlockSync(source.service, serving.network)
    sync = BlockSync(follower.service, asking.network)
    await _linked(serving, asking)
    try:
        assert await sync.catch_up() == 30
        assert follower.chain.head.hash == source.chain.head.hash
        assert await sync.catch_up() == 0  # nothing more: the peer is not ahead
    finally:
        await asking.stop()
        await serving.stop()


def _blocks_from_two(source: LocalChain) -> bytes:
    """An answer to the ask from 1 holding blocks from 2."""
    _, height, items = blocksync.decode_blocks(encode_blocks(source.chain, 2))
    return encode([1, height, [[block.to_bytes(), commit.to_list()] for block, commit in items]])


def _forged_commit(source: LocalChain) -> bytes:
    """Block 1 with the commit certificate of block 2."""
    start, height, items = blocksync.decode_blocks(encode_blocks(source.chain, 1, 2))
    return encode([1, height, [[items[0][0].to_bytes(), items[1][1].to_list()]]])


def to_batches(nonsense):
    """An answer of ``nonsense`` to asks for blocks; the ask for the height alone (the probe) answered well."""
    return lambda source, count: nonsense(source) if count else encode([1, source.chain.height, []])


@pytest.mark.parametrize("answer,reason", [
    (to_batches(lambda source: encode(5)), "the answer is not [start, height, blocks]"),
    (to_batches(lambda source: encode([1, 9, []])), "0 blocks from 1 to an ask for 100, the peer being at height 9"),
    (to_batches(lambda source: encode([4, 9, []])), "an answer from height 4 to an ask from 1"),
    (to_batches(_blocks_from_two), "block 2 where 1 was due"),
    (to_batches(_forged_commit), "block 1 refused: commit certificate is for another block"),
    (lambda source, count: encode_blocks(source.chain, 1), "3 blocks from 1 to an ask for 0, the peer being at "
                                                           "height 3"),
], ids=["malformed", "empty-though-ahead", "other-start", "not-from-the-start", "forged-commit", "blocks-to-probe"])
async def test_a_peer_answering_nonsense_is_dropped(chains, caplog, answer, reason):
    source, follower = chains
    for _ in range(3):
        source.driver.produce_block()
    liar, asking = LinkNode(chain=CHAIN_ID), LinkNode(chain=CHAIN_ID)
    liar.network.handle(KIND_SYNC_ASK, lambda peer, kind, payload: liar.network.send(
        peer, KIND_SYNC_BLOCKS, answer(source, decode_ask(payload)[1])))
    sync = BlockSync(follower.service, asking.network)
    await _linked(liar, asking)
    try:
        assert await sync.catch_up() == 0
        assert follower.chain.height == 0
        assert f"dropped peer {liar.key.address}: block sync: {reason}" in caplog.messages
        await until(lambda: liar.key.address not in asking.network.connected())
    finally:
        await asking.stop()
        await liar.stop()


@pytest.mark.parametrize("ask,shown", [(encode(0), "0"), (encode([0, 5]), "[0, 5]"), (encode([1, 101]), "[1, 101]"),
                                       (encode([1, -1]), "[1, -1]"), (encode([1, 2, 3]), "[1, 2, 3]")])
async def test_a_peer_asking_nonsense_is_dropped(chains, caplog, ask, shown):
    source, _ = chains
    serving, asking = LinkNode(chain=CHAIN_ID), LinkNode(chain=CHAIN_ID)
    BlockSync(source.service, serving.network)
    await _linked(serving, asking)
    try:
        asking.network.send(serving.key.address, KIND_SYNC_ASK, ask)
        await until(lambda: f"dropped peer {asking.key.address}: block sync: an ask must be [a height of at least "
                             f"1, a count of 0 to 100], not {shown}" in caplog.messages)
    finally:
        await asking.stop()
        await serving.stop()


async def test_answers_beyond_the_byte_rate_wait_their_turn(chains, monkeypatch):
    source, _ = chains
    for _ in range(5):
        source.driver.produce_block()
    answer_bytes = len(encode_blocks(source.chain, 1))
    monkeypatch.setattr(blocksync, "SYNC_BURST_BYTES", answer_bytes)  # one answer at once
    monkeypatch.setattr(blocksync, "SYNC_BYTES_PER_SECOND", answer_bytes * 2)  # then one answer per 0.5 s
    serving, asking = LinkNode(chain=CHAIN_ID), LinkNode(chain=CHAIN_ID)
    BlockSync(source.service, serving.network)
    await _linked(serving, asking)
    try:
        started = asyncio.get_running_loop().time()
        arrivals = []
        asking.network.handle(KIND_SYNC_BLOCKS, lambda *frame: arrivals.append(
            asyncio.get_running_loop().time() - started))
        for _ in range(3):  # the first is answered at once, the second waits, the third is ignored
            asking.network.send(serving.key.address, KIND_SYNC_ASK, encode([1, 100]))
        await until(lambda: len(arrivals) == 2)
        await asyncio.sleep(0.7)
        assert len(arrivals) == 2 and arrivals[0] < 0.3 and 0.4 < arrivals[1] < 1.0, arrivals
    finally:
        await asking.stop()
        await serving.stop()
