"""Block sync over encrypted peer links on 127.0.0.1: a fresh node fetches a peer's chain in
batches; a peer answering nonsense, or asking nonsense, is dropped with the reason logged;
asks beyond the rate are ignored."""
import asyncio

import pytest

from node import blocksync
from node.blocksync import KIND_SYNC_ASK, KIND_SYNC_BLOCKS, BlockSync, encode_blocks
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


@pytest.mark.parametrize("answer,reason", [
    (lambda source: encode(5), "the answer is not [start, height, blocks]"),
    (lambda source: encode([1, 9, []]), "the peer is at height 9 but sent no block from 1"),
    (lambda source: encode([4, 9, []]), "an answer from height 4 to an ask from 1"),
    (_blocks_from_two, "block 2 where 1 was due"),
    (_forged_commit, "block 1 refused: commit certificate is for another block"),
], ids=["malformed", "empty-though-ahead", "other-start", "not-from-the-start", "forged-commit"])
async def test_a_peer_answering_nonsense_is_dropped(chains, caplog, answer, reason):
    source, follower = chains
    for _ in range(3):
        source.driver.produce_block()
    liar, asking = LinkNode(chain=CHAIN_ID), LinkNode(chain=CHAIN_ID)
    liar.network.handle(KIND_SYNC_ASK, lambda peer, kind, payload: liar.network.send(
        peer, KIND_SYNC_BLOCKS, answer(source)))
    sync = BlockSync(follower.service, asking.network)
    await _linked(liar, asking)
    try:
        assert await sync.catch_up() == 0
        assert follower.chain.height == 0
        dropped = f"dropped peer {liar.key.address}: block sync: {reason}"
        assert dropped in caplog.messages
        await until(lambda: liar.key.address not in asking.network.connected())
    finally:
        await asking.stop()
        await liar.stop()


async def test_a_peer_asking_nonsense_is_dropped(chains, caplog):
    source, _ = chains
    serving, asking = LinkNode(chain=CHAIN_ID), LinkNode(chain=CHAIN_ID)
    BlockSync(source.service, serving.network)
    await _linked(serving, asking)
    try:
        asking.network.send(serving.key.address, KIND_SYNC_ASK, encode(0))
        await until(lambda: f"dropped peer {asking.key.address}: block sync: an ask must give a height of at "
                             f"least 1, not 0" in caplog.messages)
    finally:
        await asking.stop()
        await serving.stop()


async def test_asks_beyond_the_rate_are_ignored(chains):
    source, _ = chains
    source.driver.produce_block()
    serving, asking = LinkNode(chain=CHAIN_ID), LinkNode(chain=CHAIN_ID)
    BlockSync(source.service, serving.network)
    await _linked(serving, asking)
    try:
        for _ in range(3 * blocksync.ASKS_PER_SECOND):
            asking.network.send(serving.key.address, KIND_SYNC_ASK, encode(1))
        await until(lambda: len(asking.received) >= blocksync.ASKS_PER_SECOND)
        await asyncio.sleep(0.3)
        answers = [payload for _, kind, payload in asking.received if kind == KIND_SYNC_BLOCKS]
        assert blocksync.ASKS_PER_SECOND <= len(answers) < blocksync.ASKS_PER_SECOND + 8
    finally:
        await asking.stop()
        await serving.stop()
