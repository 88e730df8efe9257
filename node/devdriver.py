"""Block production for a single authority (``flexledger node start --dev``).

Every ``interval`` seconds the node proposes a block from its mempool, signs the precommit
for it as the only validator, and commits it. This runs the same execute/commit path as
BFT consensus; a single authority is a validator set of one, so the commit certificate is
that one signature.
"""
from __future__ import annotations

import asyncio
import logging
import time

from consensus.types import PRECOMMIT, Commit, CommitSignature, vote_sign_bytes
from node.keys import KeyPair
from node.service import NodeService

log = logging.getLogger("flexledger.dev")


class DevDriver:
    def __init__(self, service: NodeService, key: KeyPair, interval: float):
        validators = service.chain.validators()
        if validators.by_address(key.address) is None or validators.quorum() > validators.by_address(key.address).power:
            raise ValueError("dev mode needs the node key to hold a quorum of the voting power alone")
        self.service = service
        self.key = key
        self.interval = interval

    def produce_block(self) -> None:
        chain = self.service.chain
        started = time.perf_counter()
        txs = self.service.mempool.reap(chain.nonce, chain.params().max_block_txs)
        executed = chain.propose(txs, chain.next_timestamp(int(time.time() * 1000)), self.key.address,
                                 chain.store.commit(chain.height))
        block = executed.block
        signature = self.key.sign(vote_sign_bytes(chain.chain_id, PRECOMMIT, block.height, 0, block.hash))
        chain.commit(executed, Commit(block.height, 0, block.hash, (CommitSignature(self.key.address, signature),)))
        self.service.after_commit(executed, (time.perf_counter() - started) * 1000)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.produce_block()
