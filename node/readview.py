"""A consistent, read-only view of one head: its block, a snapshot of its state, its parameters.

``Chain.read_view`` takes one on the thread that commits blocks (the event loop), so the head
and the snapshot belong together. Nothing in it changes when later blocks are committed, so it
can be read on any thread; read-only queries run against one (node/queries.py). The sparse
Merkle tree is not part of it: a query reads values, never proofs.
"""
from __future__ import annotations

from dataclasses import dataclass

from contracts.gas import GasMeter
from contracts.vm import run_call
from node.block import Block
from node.execution import BlockContext, Executor
from node.params import ChainParams
from node.state import Overlay, StoredState
from node.store import StateSnapshot


@dataclass(frozen=True)
class ReadView:
    head: Block
    state: StoredState
    params: ChainParams
    executor: Executor
    snapshot: StateSnapshot

    def call(self, contract: str, function: str, args: list, caller: str, gas: GasMeter) -> object:
        """Run ``function`` of ``contract`` read-only on this head's state, charging ``gas``."""
        header = self.head.header
        ctx = BlockContext(header.chain_id, header.height, header.timestamp_ms)
        host = self.executor.host(Overlay(self.state), ctx, caller, self.params, read_only=True)
        return run_call(host, contract, function, args, caller, gas, read_only=True)

    def close(self) -> None:
        """Release the snapshot (LevelDB keeps old values alive while it is open)."""
        self.snapshot.close()

    def __enter__(self) -> "ReadView":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
