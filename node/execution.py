"""Executing transactions and blocks: the one path used by block production and consensus.

Each transaction runs in its own overlay over the block's overlay. A failure (out of gas,
``require``, any VM error, a failed governance action) drops the transaction's writes but
still records its gas and bumps the sender's nonce. A transaction whose nonce is not the
account's next nonce is *invalid*: a proposer leaves it out, a validator rejects the block.

Admission (node/admission.py) holds here as in the mempool, since a proposer can include
anything:

- a transaction from an account that is not admitted is *invalid*, like a wrong nonce. It
  was never admitted to send anything, so it gets no receipt, no nonce and no room in a
  block: otherwise a faulty proposer could fill blocks, receipts and the tx index of every
  node with an outsider's transactions at no cost, and outsiders could move their nonces;
- a deploy from an admitted account that is not on the deployer list *fails* with
  ``deploy_not_permitted``, charged its intrinsic gas, like any other failing transaction:
  the sender is admitted and answerable, and its right to deploy may have been withdrawn
  after the mempool took the transaction, so it learns why from the receipt.

A deploy whose source does not compile also fails, with the compiler's code, charged the
intrinsic gas (which grows with the source size) before compiling.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from contracts.errors import CompileError, VMError
from contracts.gas import GasMeter
from contracts.vm import run_call
from node import admission, governance, statekeys, validators
from node.encoding import decode, encode
from node.host import ChainHost, ProgramCache
from node.keys import contract_address, is_address
from node.params import ChainParams
from node.receipt import STATUS_FAILED, STATUS_OK, Receipt
from node.state import Overlay
from node.tx import CallPayload, DeployPayload, GovernancePayload, Transaction


HOST_ERROR = "host_error"


class InvalidTransaction(Exception):
    """The transaction may not be in a block at all (wrong nonce, sender not admitted)."""


@dataclass(frozen=True)
class BlockContext:
    chain_id: str
    height: int
    timestamp_ms: int

    @property
    def time(self) -> int:
        return self.timestamp_ms // 1000


@dataclass
class ExecutionResult:
    txs: list[Transaction] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    touched: dict[bytes, list[str]] = field(default_factory=dict)
    skipped: list[tuple[Transaction, str]] = field(default_factory=list)
    gas_used: int = 0


def account_nonce(state, address: str) -> int:
    raw = state.get(statekeys.account(address))
    return 0 if raw is None else decode(raw)


def load_params(state) -> ChainParams:
    return ChainParams.from_bytes(state.get(statekeys.PARAMS))


class Executor:
    def __init__(self, programs: ProgramCache | None = None):
        self.programs = programs or ProgramCache()

    def host(self, overlay: Overlay, ctx: BlockContext, origin: str, params: ChainParams,
             read_only: bool = False) -> ChainHost:
        return ChainHost(overlay, self.programs, height=ctx.height, time=ctx.time, origin=origin,
                         max_value_bytes=params.max_value_bytes, read_only=read_only)

    def deploy(self, overlay: Overlay, ctx: BlockContext, params: ChainParams, address: str,
               source: str, args: list, deployer: str, gas: GasMeter) -> ChainHost:
        """Store ``source`` at ``address`` and run its ``init`` with ``args`` if it has one."""
        if overlay.get(statekeys.code(address)) is not None:
            raise VMError("contract_exists", f"a contract already exists at {address}")
        program = self.programs.get(source)
        overlay.set(statekeys.code(address), source.encode())
        host = self.host(overlay, ctx, deployer, params)
        if program.has_init():
            run_call(host, address, "init", args, deployer, gas, deploy=True)
        elif args:
            raise VMError("bad_argument", "the contract has no init function but deploy args were given")
        return host

    def execute_tx(self, block_overlay: Overlay, tx: Transaction, ctx: BlockContext, index: int,
                   params: ChainParams) -> tuple[Receipt, list[str]]:
        sender = tx.sender_address
        expected = account_nonce(block_overlay, sender)
        if tx.nonce != expected:
            raise InvalidTransaction(f"nonce {tx.nonce}, account expects {expected}")
        if not admission.is_admitted(block_overlay, sender):
            raise InvalidTransaction(f"account {sender} is not admitted")
        tx_bytes = tx.to_bytes()
        if len(tx_bytes) > params.max_tx_bytes:
            raise InvalidTransaction(f"transaction of {len(tx_bytes)} bytes, the limit is {params.max_tx_bytes}")
        source_size = len(tx.payload.source.encode()) if isinstance(tx.payload, DeployPayload) else 0
        gas = GasMeter(tx.gas_limit)
        overlay = Overlay(block_overlay)
        touched = [sender]
        result, events, created = None, (), ""
        try:
            gas.charge(params.intrinsic_gas(len(tx_bytes), source_size))
            payload = tx.payload
            if isinstance(payload, CallPayload):
                touched.append(payload.to)
                host = self.host(overlay, ctx, sender, params)
                result = run_call(host, payload.to, payload.function, payload.args, sender, gas)
                events = tuple(host.events)
            elif isinstance(payload, DeployPayload):
                admission.check_deployer(overlay, sender)
                created = contract_address(sender, tx.nonce)
                host = self.deploy(overlay, ctx, params, created, payload.source, payload.args, sender, gas)
                events = tuple(host.events)
            elif isinstance(payload, GovernancePayload):
                result = governance.approve(overlay, ctx.chain_id, ctx.height, sender, payload.action, payload.params)
            status, code, message = STATUS_OK, "", ""
        except (VMError, CompileError, governance.GovernanceError, admission.NotPermitted) as exc:
            if exc.code == HOST_ERROR:
                raise  # the node itself failed: stop rather than record a result others may not share
            status, code, message = STATUS_FAILED, exc.code, exc.message
            result, events, created = None, (), ""
        if status == STATUS_OK:
            overlay.merge_into_parent()
            touched += [v for e in events for v in e.data.values() if is_address(v)]
        block_overlay.set(statekeys.account(sender), encode(tx.nonce + 1))
        receipt = Receipt(tx.hash, status, gas.used, events, code, message, result, ctx.height, index, created)
        return receipt, list(dict.fromkeys(touched))

    def execute_block(self, overlay: Overlay, txs: list[Transaction], ctx: BlockContext,
                      *, skip_invalid: bool) -> ExecutionResult:
        """Run ``txs`` in order over ``overlay``.

        With ``skip_invalid`` (the proposer), invalid transactions and those that would pass
        the block gas or size limits are left out; otherwise (a validator) they raise
        InvalidTransaction.
        """
        validators.promote_due(overlay, ctx.height)
        params = load_params(overlay)
        out = ExecutionResult()
        for tx in txs:
            if len(out.txs) >= params.max_block_txs or out.gas_used + tx.gas_limit > params.block_gas_limit:
                if not skip_invalid:
                    raise InvalidTransaction("block exceeds its gas or transaction limit")
                out.skipped.append((tx, "block_full"))
                continue
            try:
                receipt, touched = self.execute_tx(overlay, tx, ctx, len(out.txs), params)
            except InvalidTransaction as exc:
                if not skip_invalid:
                    raise
                out.skipped.append((tx, str(exc)))
                continue
            out.txs.append(tx)
            out.receipts.append(receipt)
            out.touched[tx.hash] = touched
            out.gas_used += tx.gas_limit
        return out
