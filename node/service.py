"""One running node: the chain, the mempool, subscribers, and the block driver behind them.

The block driver is whatever decides which block is committed next: ``DevDriver`` (a single
authority producing blocks on a timer) today, the BFT engine's driver with more validators.
Both commit through ``Chain.commit`` and then call ``NodeService.after_commit``.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Protocol

from node.block import Block
from node.blocklog import BlockLog
from node.chain import Chain, ExecutedBlock
from node.encoding import sha256
from node.errors import ApiError
from node.deploycheck import DeployCompiler
from node.mempool import DEFAULT_CAPACITY, Mempool
from node.metrics import Metrics
from node.receipt import Receipt
from node.params import ChainParams
from node.tx import DeployPayload, Transaction

log = logging.getLogger("flexledger.node")


class Subscriber:
    """A WebSocket client's queue of block and event messages, with its filter."""

    MAX_QUEUED = 10_000

    def __init__(self, blocks: bool, contract: str | None, event: str | None):
        self.blocks, self.contract, self.event = blocks, contract, event
        self.queue: asyncio.Queue = asyncio.Queue()
        self.overflowed = False

    def wants(self, message: dict) -> bool:
        if message["type"] == "block":
            return self.blocks
        return (not self.blocks and (self.contract is None or message["contract"] == self.contract)
                and (self.event is None or message["name"] == self.event))

    def deliver(self, messages: list[dict]) -> None:
        for message in messages:
            if self.queue.qsize() >= self.MAX_QUEUED:
                self.overflowed = True  # too slow to keep up: the API closes the connection
                return
            if self.wants(message):
                self.queue.put_nowait(message)


class BlockDriver(Protocol):
    async def run(self) -> None: ...


class NodeService:
    def __init__(self, chain: Chain, mempool_capacity: int = DEFAULT_CAPACITY):
        self.chain = chain
        self.mempool = Mempool(chain.chain_id, chain.state, mempool_capacity)
        self.deploy_compiler = DeployCompiler(chain.executor.programs.get)
        self._waiters: dict[bytes, list[asyncio.Future]] = {}
        self.subscribers: set[Subscriber] = set()
        self.started_at = time.time()
        self.last_block_ms = 0.0
        self.on_tx_admitted: Callable[[Transaction], None] | None = None
        self.consensus_status: Callable[[], dict] | None = None
        self.isolate: Callable[[set[str]], None] | None = None
        self.peer_count: Callable[[], int] | None = None  # linked peers; set by the BFT driver
        self.metrics = Metrics()
        self.block_log = BlockLog(self.metrics)

    # -- transactions ----------------------------------------------------------------------
    async def submit(self, data: bytes) -> Transaction:
        """Admit a client's transaction: the mempool's checks and, for a deploy, compiling its
        source off the event loop (node/deploycheck.py) before it is added."""
        tx = self._mempool_call(self.mempool.check, data)
        if isinstance(tx.payload, DeployPayload):
            await self.deploy_compiler.check_compiles(tx.payload.source)
            return self.check_and_add(data)  # every check again: the head may have moved while it compiled
        return self.check_and_add(data, decoded=tx)   # same head: its signature is not verified twice

    def check_and_add(self, data: bytes, gossip: bool = True, decoded: Transaction | None = None) -> Transaction:
        """Admit a transaction without compiling a deploy's source: for peers' gossip (their node
        compiled it) and callers that cannot wait. A deploy that does not compile still fails
        in its block, charged its gas. ``decoded``: what ``mempool.check`` made of ``data``
        against the current head."""
        tx = self._mempool_call(self.mempool.admit, data, decoded=decoded)
        if gossip and self.on_tx_admitted is not None:
            self.on_tx_admitted(tx)
        return tx

    def _mempool_call(self, check: Callable[..., Transaction], data: bytes, **options) -> Transaction:
        try:
            return check(data, self.chain.params(), **options)
        except ApiError as exc:
            if exc.code == "nonce_too_low" and self.chain.store.receipt(sha256(data)) is not None:
                raise ApiError("already_committed", "this exact transaction is already committed", 409) from None
            raise

    async def wait_for_commit(self, tx_hash: bytes, timeout: float) -> Receipt:
        receipt = self.chain.store.receipt(tx_hash)
        if receipt is not None:
            return receipt
        future = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(tx_hash, []).append(future)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise ApiError("commit_timeout", commit_timeout_message(tx_hash, timeout), 504) from None
        finally:
            waiters = self._waiters.get(tx_hash, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiters.pop(tx_hash, None)

    def next_nonce(self, address: str) -> int:
        return self.mempool.next_nonce(address, self.chain.nonce(address))

    # -- after each block ------------------------------------------------------------------
    def after_commit(self, executed: ExecutedBlock, execution_ms: float, round_: int = 0) -> None:
        """``round_``: the consensus round that decided the block (0 for a dev node)."""
        self.last_block_ms = execution_ms
        self.metrics.block_committed(len(executed.block.txs), execution_ms, round_)
        self.mempool.remove_committed(self.chain.nonce)
        self.mempool.evict_stale()
        for receipt in executed.result.receipts:
            for future in self._waiters.pop(receipt.tx_hash, []):
                if not future.done():
                    future.set_result(receipt)
        block = executed.block
        if self.subscribers:  # the messages cost a dict per event: build them only for someone
            messages = _block_messages(block, executed.result.receipts)
            for subscriber in list(self.subscribers):
                subscriber.deliver(messages)
        self.block_log.committed(block.height, round_, len(block.txs), execution_ms)
        self.log_summary_if_due()

    def log_summary_if_due(self) -> None:
        """The block log's INFO summary, once a minute (node/blocklog.py)."""
        self.block_log.summarize_if_due(self.chain.height, None if self.peer_count is None else self.peer_count())


def commit_timeout_message(tx_hash: bytes, timeout: float) -> str:
    """What a client waiting for a commit is told when it gives up: what to check next."""
    return (f"transaction {tx_hash.hex()} is not committed within {timeout:g} s; this node admitted it and "
            f"it may still commit: look it up later with 'flexledger chain tx {tx_hash.hex()}'; if it stays "
            f"pending, check that this node links to the validators ('peers' in the consensus section of "
            f"GET /status; an observer needs its node key admitted on the chain, see docs/block-production.md)")


def _block_messages(block: Block, receipts: list[Receipt]) -> list[dict]:
    """What WebSocket subscribers are told about a committed block: the block, then its events."""
    messages = [{"type": "block", "height": block.height, "hash": block.hash.hex(),
                 "tx_count": len(block.txs), "timestamp_ms": block.header.timestamp_ms,
                 "state_root": block.header.state_root.hex()}]
    for receipt in receipts:
        messages += [{"type": "event", "height": block.height, "tx_hash": receipt.tx_hash.hex(),
                      "contract": e.contract, "name": e.name, "data": e.data} for e in receipt.events]
    return messages
