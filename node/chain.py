"""The chain of one node: genesis, executing and committing blocks, queries and proofs.

Both block production paths go through here: the proposer calls ``propose`` (execute the
mempool's transactions, build the header), a validator calls ``execute_block`` on a block it
received; either way the executed block is staged and then ``commit`` writes it with its
commit certificate in one atomic batch, or ``abandon`` drops it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from consensus.types import Commit, ValidatorSet
from contracts.errors import CompileError, VMError
from contracts.gas import GasMeter
from contracts.vm import run_call
from node import admission, statekeys, validators as validator_sets
from node.block import ZERO_HASH, Block, Header, tx_root
from node.encoding import decode, encode
from node.execution import (BlockContext, ExecutionResult, Executor, InvalidTransaction, account_nonce,
                            load_params)
from node.genesis import Genesis
from node.keys import genesis_contract_address
from node.params import ChainParams
from node.receipt import receipts_root
from node.smt import Proof
from node.readview import ReadView
from node.state import CommittedState, Overlay, StoredState
from node.store import ChainStore
from node.tx import Transaction

GENESIS_GAS = 10**12
ZERO_ADDRESS = "0x" + "00" * 20


class ChainError(Exception):
    """A block that cannot be accepted, or a store that does not match its genesis."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ExecutedBlock:
    block: Block
    result: ExecutionResult
    writes: dict[bytes, bytes | None]


class Chain:
    def __init__(self, data_dir: Path, genesis: Genesis):
        self.chain_id = genesis.chain_id
        self.store = ChainStore(Path(data_dir) / "chain.db")
        self.executor = Executor()
        try:
            if self.store.head_height() is None:
                self._write_genesis(genesis)
            self.state = CommittedState(self.store)
            self.head = self.store.block(self.store.head_height())
            self._check_matches(genesis)
        except BaseException:
            self.store.close()
            raise
        self._staged: ExecutedBlock | None = None
        self._params_head: Block | None = None
        self._params: ChainParams | None = None

    def close(self) -> None:
        self.store.close()

    def _check_matches(self, genesis: Genesis) -> None:
        first = self.store.block(0)
        if (first.header.chain_id, first.header.timestamp_ms, first.header.validators_hash) != (
                genesis.chain_id, genesis.genesis_time_ms, genesis.validators.hash()):
            raise ChainError("wrong_genesis", f"data dir holds chain {first.header.chain_id!r} from another "
                                              f"genesis file than the one given")
        if self.state.root() != self.head.header.state_root:
            raise ChainError("state_corrupt", f"state root of the stored state does not match block "
                                              f"{self.head.height}: the data dir is damaged")

    # -- genesis -------------------------------------------------------------------------
    def _write_genesis(self, genesis: Genesis) -> None:
        state = CommittedState(self.store)
        overlay = Overlay(state)
        overlay.set(statekeys.PARAMS, genesis.params.to_bytes())
        overlay.set(statekeys.VALIDATORS, encode(genesis.validators.to_list()))
        overlay.set(statekeys.GENESIS_CONTRACTS, encode({c.name: genesis_contract_address(c.name)
                                                         for c in genesis.contracts}))
        admission.seed_genesis_lists(overlay, genesis.allowed_accounts, genesis.deployers)
        ctx = BlockContext(genesis.chain_id, 0, genesis.genesis_time_ms)
        gas = GasMeter(GENESIS_GAS)
        try:
            for contract in genesis.contracts:
                self.executor.deploy(overlay, ctx, genesis.params, genesis_contract_address(contract.name),
                                     contract.source, contract.init_args, contract.deployer, gas)
            for call in genesis.calls:
                host = self.executor.host(overlay, ctx, call.caller, genesis.params)
                run_call(host, genesis_contract_address(call.contract), call.function, call.args, call.caller, gas)
        except (VMError, CompileError) as exc:
            raise ChainError("bad_genesis", f"genesis contracts failed: {exc.code}: {exc}") from None
        header = Header(genesis.chain_id, 0, genesis.genesis_time_ms, ZERO_HASH, tx_root([]),
                        state.stage(overlay.writes), receipts_root([]), genesis.validators.hash(), "")
        self.store.write_block(Block(header, (), None), None, [], overlay.writes, {})
        state.commit_staged()

    # -- reads ---------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.head.height

    def validators(self, height: int | None = None) -> ValidatorSet:
        """The validator set that signs block ``height`` (default: the next block)."""
        return validator_sets.for_height(self.state, self.height + 1 if height is None else height)

    def params(self) -> ChainParams:
        """The chain parameters of the head state (decoded once per head: every admission reads them)."""
        if self._params_head is not self.head:
            self._params = load_params(self.state)
            self._params_head = self.head
        return self._params

    def genesis_contracts(self) -> dict[str, str]:
        """Name -> address of the contracts deployed at genesis."""
        return decode(self.state.get(statekeys.GENESIS_CONTRACTS))

    def nonce(self, address: str) -> int:
        return account_nonce(self.state, address)

    def read_view(self) -> ReadView:
        """The head as it is now, readable on any thread; take it on the thread that commits
        blocks (so the head and the snapshot match) and close it when done."""
        snapshot = self.store.snapshot()
        state = StoredState(snapshot)
        return ReadView(self.head, state, load_params(state), self.executor, snapshot)

    def query(self, contract: str, function: str, args: list, gas_limit: int,
              caller: str = ZERO_ADDRESS) -> tuple[object, int]:
        """Run a contract function read-only against the head state, here and now; returns
        (result, gas used). The API runs queries off the event loop instead (node/queries.py)."""
        gas = GasMeter(gas_limit)
        with self.read_view() as view:
            return view.call(contract, function, args, caller, gas), gas.used

    def prove(self, key: bytes) -> tuple[bytes | None, Proof, Header]:
        value, proof = self.state.prove(key)
        return value, proof, self.head.header

    # -- producing and executing blocks --------------------------------------------------
    def next_timestamp(self, now_ms: int) -> int:
        return max(now_ms, self.head.header.timestamp_ms + 1)

    def propose(self, txs: list[Transaction], timestamp_ms: int, proposer: str,
                last_commit: Commit | None) -> ExecutedBlock:
        """Execute ``txs`` (leaving out invalid ones) on the head state and build the block."""
        overlay = Overlay(self.state)
        ctx = BlockContext(self.chain_id, self.height + 1, timestamp_ms)
        result = self.executor.execute_block(overlay, txs, ctx, skip_invalid=True)
        header = Header(self.chain_id, ctx.height, timestamp_ms, self.head.hash, tx_root(result.txs),
                        self._stage(overlay), receipts_root(result.receipts), self.validators(ctx.height).hash(), proposer)
        self._staged = ExecutedBlock(Block(header, tuple(result.txs), last_commit), result, overlay.writes)
        return self._staged

    def execute_block(self, block: Block, now_ms: int | None = None,
                      verified: Callable[[bytes], bool] = lambda tx_hash: False) -> ExecutedBlock:
        """Check and execute a block proposed by someone else; stage it if it is valid.

        With ``now_ms`` (a live validator's clock), the proposer's timestamp may be at most
        ``max_clock_drift_ms`` ahead of it; block sync replays old blocks without it. Every
        transaction must be signed for this chain; ``verified(tx_hash)`` names those whose
        signature was already checked (the mempool's), which are not checked again.
        """
        h = block.header
        for tx in block.txs:
            if tx.chain_id != self.chain_id or not (verified(tx.hash) or tx.signature_valid()):
                raise ChainError("invalid_tx", f"block has a transaction {tx.hash.hex()} with a bad signature "
                                               f"or another chain id")
        drift = self.params().max_clock_drift_ms
        if now_ms is not None and h.timestamp_ms > now_ms + drift:
            raise ChainError("bad_timestamp", f"timestamp {h.timestamp_ms} is more than {drift} ms ahead of ours")
        expected = [(h.chain_id == self.chain_id, "wrong_chain_id", "block is for another chain"),
                    (h.height == self.height + 1, "wrong_height", f"expected height {self.height + 1}"),
                    (h.prev_hash == self.head.hash, "wrong_parent", "block does not extend the head"),
                    (h.timestamp_ms > self.head.header.timestamp_ms, "bad_timestamp", "timestamp not after parent"),
                    (h.validators_hash == self.validators(h.height).hash(), "wrong_validators", "validator set hash differs"),
                    (h.tx_root == tx_root(block.txs), "bad_tx_root", "tx root does not match the txs")]
        for ok, code, message in expected:
            if not ok:
                raise ChainError(code, message)
        overlay = Overlay(self.state)
        try:
            result = self.executor.execute_block(overlay, list(block.txs), BlockContext(self.chain_id, h.height, h.timestamp_ms),
                                                 skip_invalid=False)
        except InvalidTransaction as exc:
            raise ChainError("invalid_tx", f"block has an invalid transaction: {exc}") from None
        root = self._stage(overlay)
        if root != h.state_root or receipts_root(result.receipts) != h.receipts_root:
            self.state.discard()
            raise ChainError("state_mismatch", f"executing block {h.height} gives a different state or receipts root")
        self._staged = ExecutedBlock(block, result, overlay.writes)
        return self._staged

    def _stage(self, overlay: Overlay) -> bytes:
        self.abandon()
        return self.state.stage(overlay.writes)

    @property
    def staged(self) -> ExecutedBlock | None:
        """The executed block waiting to be committed or abandoned, if any."""
        return self._staged

    def abandon(self) -> None:
        """Drop the staged block (it was not committed)."""
        self.state.discard()
        self._staged = None

    def commit(self, executed: ExecutedBlock, commit: Commit) -> None:
        """Persist the staged block with its commit certificate, atomically."""
        if executed is not self._staged:
            raise ChainError("not_staged", "only the staged block can be committed")
        block = executed.block
        if commit.height != block.height or commit.block_hash != block.hash:
            raise ChainError("bad_commit", "commit certificate is for another block")
        problem = commit.verify(self.chain_id, self.validators(block.height))
        if problem:
            raise ChainError("bad_commit", problem)
        self.store.write_block(block, commit, executed.result.receipts, executed.writes, executed.result.touched)
        self.state.commit_staged()
        self._staged = None
        self.head = block
