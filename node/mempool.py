"""The mempool: admission checks for incoming transactions, and ordering for proposals.

Checks, each with its own error code: size (``tx_too_large``), decoding (``malformed_tx``),
chain id (``wrong_chain_id``), signature (``bad_signature``), gas limit (``gas_limit_too_high``,
``gas_limit_too_low``), nonce (``nonce_too_low`` for a replayed or old nonce,
``nonce_taken`` when another tx with that nonce is pending, ``nonce_too_high`` beyond the
allowed gap), duplicates (``already_known``), deploy source (the compiler's code, e.g.
``float_not_allowed``) and capacity (``mempool_full``).

Transactions are kept per sender by nonce; a proposal takes, sender by sender in arrival
order, each sender's run of consecutive nonces starting at its account nonce.
"""
from __future__ import annotations

from typing import Callable

from contracts.errors import CompileError
from node.errors import ApiError
from node.params import ChainParams
from node.tx import DeployPayload, Transaction, TxFormatError

NonceLookup = Callable[[str], int]


class Mempool:
    def __init__(self, chain_id: str, capacity: int = 10_000, max_nonce_gap: int = 64,
                 compile_check: Callable[[str], object] | None = None):
        self.chain_id = chain_id
        self.capacity = capacity
        self.max_nonce_gap = max_nonce_gap
        self.compile_check = compile_check
        self._by_sender: dict[str, dict[int, Transaction]] = {}
        self._hashes: dict[bytes, Transaction] = {}

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._hashes

    def get(self, tx_hash: bytes) -> Transaction | None:
        return self._hashes.get(tx_hash)

    def check(self, data: bytes, params: ChainParams, nonce_of: NonceLookup) -> Transaction:
        """Decode and check raw bytes against the head state; raise ApiError if rejected."""
        if len(data) > params.max_tx_bytes:
            raise ApiError("tx_too_large", f"transaction is {len(data)} bytes, the limit is {params.max_tx_bytes}", 413)
        try:
            tx = Transaction.from_bytes(data)
        except TxFormatError as exc:
            raise ApiError("malformed_tx", f"malformed transaction: {exc}") from None
        if tx.chain_id != self.chain_id:
            raise ApiError("wrong_chain_id", f"transaction is for chain {tx.chain_id!r}, this is {self.chain_id!r}")
        if not tx.signature_valid():
            raise ApiError("bad_signature", "signature does not match the sender key and contents", 401)
        if tx.hash in self._hashes:
            raise ApiError("already_known", "transaction is already in the mempool", 409)
        if tx.gas_limit > params.max_tx_gas:
            raise ApiError("gas_limit_too_high", f"gas limit {tx.gas_limit} exceeds the maximum {params.max_tx_gas}")
        source = tx.payload.source if isinstance(tx.payload, DeployPayload) else ""
        intrinsic = params.intrinsic_gas(len(data), len(source.encode()))
        if tx.gas_limit < intrinsic:
            raise ApiError("gas_limit_too_low", f"gas limit {tx.gas_limit} is below the intrinsic cost {intrinsic}")
        self._check_nonce(tx, nonce_of(tx.sender_address))
        if source and self.compile_check is not None:
            try:
                self.compile_check(source)
            except CompileError as exc:
                raise ApiError(exc.code, str(exc), 422) from None
        if len(self._hashes) >= self.capacity:
            raise ApiError("mempool_full", f"mempool is full ({self.capacity} transactions); retry later", 503)
        return tx

    def _check_nonce(self, tx: Transaction, account_nonce: int) -> None:
        if tx.nonce < account_nonce:
            raise ApiError("nonce_too_low", f"nonce {tx.nonce} was already used; the account's next nonce is {account_nonce}", 409)
        pending = self._by_sender.get(tx.sender_address, {})
        if tx.nonce in pending:
            raise ApiError("nonce_taken", f"another transaction with nonce {tx.nonce} is pending", 409)
        if tx.nonce > account_nonce + self.max_nonce_gap:
            raise ApiError("nonce_too_high", f"nonce {tx.nonce} is more than {self.max_nonce_gap} ahead of "
                                             f"the account's next nonce {account_nonce}")

    def add(self, tx: Transaction) -> None:
        self._by_sender.setdefault(tx.sender_address, {})[tx.nonce] = tx
        self._hashes[tx.hash] = tx

    def next_nonce(self, address: str, account_nonce: int) -> int:
        """The nonce a new transaction from ``address`` should use, counting pending ones."""
        pending = self._by_sender.get(address, {})
        nonce = account_nonce
        while nonce in pending:
            nonce += 1
        return nonce

    def reap(self, nonce_of: NonceLookup, max_txs: int) -> list[Transaction]:
        out: list[Transaction] = []
        for sender, pending in self._by_sender.items():
            nonce = nonce_of(sender)
            while nonce in pending and len(out) < max_txs:
                out.append(pending[nonce])
                nonce += 1
        return out

    def remove_committed(self, nonce_of: NonceLookup) -> None:
        """Drop every transaction whose nonce is now used (committed, or replaced by one that was)."""
        for sender in list(self._by_sender):
            pending = self._by_sender[sender]
            floor = nonce_of(sender)
            for nonce in [n for n in pending if n < floor]:
                self._hashes.pop(pending.pop(nonce).hash, None)
            if not pending:
                del self._by_sender[sender]
