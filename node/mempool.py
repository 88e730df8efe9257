"""The mempool: admission checks for incoming transactions, bounds on what waits, and
ordering for proposals.

Checks, each with its own error code: size (``tx_too_large``), decoding (``malformed_tx``),
chain id (``wrong_chain_id``), admission of the sender (``account_not_permitted``, HTTP 403;
before the signature, so outsiders cost no signature check), signature (``bad_signature``),
duplicates (``already_known``), gas limit (``gas_limit_too_high``, ``gas_limit_too_low``),
nonce (``nonce_too_low`` for a replayed or old nonce, ``nonce_taken`` when another tx with
that nonce is pending, ``nonce_too_high`` beyond the allowed gap), the right to deploy
(``deploy_not_permitted``, 403) and the bounds below. Admission rules: node/admission.py.
A deploy's source is compiled off the event loop by the node before it calls ``admit``
(node/deploycheck.py); the mempool itself only bounds its size, by ``max_tx_bytes``.

A chain without fees cannot price its mempool, so it bounds it:

- ``capacity`` transactions in all (``DEFAULT_CAPACITY`` = 10,000; node config
  ``mempool_capacity``); beyond it, ``mempool_full`` (503);
- ``MAX_PENDING_PER_SENDER`` = 64 transactions per sender (``too_many_pending``, 429);
- ``MAX_NONCE_GAP`` = 64: a nonce at most 64 above the account's next nonce (``nonce_too_high``);
- a transaction is *ready* when it belongs to its sender's run of consecutive nonces from
  the account's next nonce, *gapped* when it waits behind a missing nonce. Gapped
  transactions may fill at most ``capacity // GAPPED_SHARE_DIVISOR`` (``GAPPED_SHARE_DIVISOR`` = 4,
  so a quarter) of the mempool (``nonce_gap_full``, 503), so ready senders always find room;
- a ready transaction that finds the mempool full evicts the transaction that has been
  gapped longest, if there is one;
- a transaction gapped for ``GAP_TIMEOUT_S`` = 30 s is evicted;
- any transaction pending for ``TX_TTL_S`` = 600 s expires.

Evictions and expiry happen on the next admission and after each committed block
(``evict_stale``); time comes from the ``clock`` callable (``time.monotonic`` by default),
which tests replace.

Transactions are kept per sender by nonce; a proposal takes, sender by sender in arrival
order, each sender's run of consecutive nonces starting at its account nonce.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from node import admission
from node.errors import ApiError
from node.execution import account_nonce
from node.params import ChainParams
from node.state import StateReader
from node.tx import DeployPayload, Transaction, TxFormatError

NonceLookup = Callable[[str], int]

DEFAULT_CAPACITY = 10_000
MAX_PENDING_PER_SENDER = 64
MAX_NONCE_GAP = 64
GAPPED_SHARE_DIVISOR = 4
GAP_TIMEOUT_S = 30.0
TX_TTL_S = 600.0


@dataclass
class _Pending:
    tx: Transaction
    arrived: float


@dataclass
class _SenderQueue:
    """One sender's pending transactions by nonce, and the account nonce last seen for it."""

    account_nonce: int
    by_nonce: dict[int, _Pending] = field(default_factory=dict)

    def first_missing(self) -> int:
        """The first nonce after the run of consecutive pending nonces from the account nonce."""
        nonce = self.account_nonce
        while nonce in self.by_nonce:
            nonce += 1
        return nonce


class Mempool:
    def __init__(self, chain_id: str, head: StateReader, capacity: int = DEFAULT_CAPACITY,
                 clock: Callable[[], float] = time.monotonic):
        """``head``: the committed state that admission and nonces are checked against."""
        self.chain_id = chain_id
        self.head = head
        self.capacity = capacity
        self.clock = clock
        self._senders: dict[str, _SenderQueue] = {}
        self._by_hash: dict[bytes, _Pending] = {}   # in arrival order: the oldest expire first
        self._gapped: dict[bytes, float] = {}       # hash -> when it became gapped, in that order
        self._admitted: set[str] = set()            # senders admitted by the head state, until the next commit

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._by_hash

    def get(self, tx_hash: bytes) -> Transaction | None:
        pending = self._by_hash.get(tx_hash)
        return None if pending is None else pending.tx

    @property
    def gapped_count(self) -> int:
        return len(self._gapped)

    @property
    def gapped_limit(self) -> int:
        return self.capacity // GAPPED_SHARE_DIVISOR

    # -- admission -----------------------------------------------------------------------
    def check(self, data: bytes, params: ChainParams) -> Transaction:
        """Decode and check raw bytes against the head state; raise ApiError if rejected."""
        return self._checked(data, params)[0]

    def admit(self, data: bytes, params: ChainParams, decoded: Transaction | None = None) -> Transaction:
        """Check ``data`` and add the transaction; raise ApiError if rejected. ``decoded``: the
        transaction ``check`` returned for these bytes against the same head (its decoding,
        chain id, admission and signature are not checked again)."""
        self.evict_stale()
        tx, floor, ready = self._checked(data, params, decoded)
        self._add(tx, floor, ready)
        return tx

    def _checked(self, data: bytes, params: ChainParams,
                 decoded: Transaction | None = None) -> tuple[Transaction, int, bool]:
        """The transaction, its sender's account nonce and whether it is ready, if every check passes."""
        tx = decoded or decode_checked(data, params, self.chain_id, self._check_sender)
        if tx.hash in self._by_hash:
            raise ApiError("already_known", "transaction is already in the mempool", 409)
        check_gas_limit(tx, len(data), params)
        sender = tx.sender_address
        floor = account_nonce(self.head, sender)
        queue = self._senders.get(sender)
        check_nonce(tx, floor, queue.by_nonce if queue else {})
        if queue is not None and len(queue.by_nonce) >= MAX_PENDING_PER_SENDER:
            raise ApiError("too_many_pending", f"the sender already has {MAX_PENDING_PER_SENDER} pending "
                                               f"transactions; wait for some to commit", 429)
        if isinstance(tx.payload, DeployPayload):
            _refuse_if_not_permitted(admission.check_deployer, self.head, sender)
        ready = tx.nonce == self.next_nonce(sender, floor)
        self._check_room(ready)
        return tx, floor, ready

    def _check_sender(self, address: str) -> None:
        """Admission of ``address`` by the head state (remembered until the head moves)."""
        if address not in self._admitted:
            _refuse_if_not_permitted(admission.check_sender, self.head, address)
            self._admitted.add(address)

    def _check_room(self, ready: bool) -> None:
        if not ready and self.gapped_count >= self.gapped_limit:
            raise ApiError("nonce_gap_full", f"transactions waiting behind a nonce gap already fill their share "
                                             f"of the mempool ({self.gapped_limit}); send the missing nonces "
                                             f"first", 503)
        if len(self) >= self.capacity and not (ready and self._gapped):
            raise ApiError("mempool_full", f"mempool is full ({self.capacity} transactions); retry later", 503)

    def _add(self, tx: Transaction, floor: int, ready: bool) -> None:
        if len(self) >= self.capacity:
            self._remove(next(iter(self._gapped)))  # _check_room allowed it: a ready tx takes a gapped one's place
        queue = self._senders.setdefault(tx.sender_address, _SenderQueue(floor))
        queue.account_nonce = floor
        pending = _Pending(tx, self.clock())
        queue.by_nonce[tx.nonce] = pending
        self._by_hash[tx.hash] = pending
        if not ready:
            self._gapped[tx.hash] = pending.arrived
            return
        nonce = tx.nonce + 1    # it filled the gap its successors waited behind: they are ready now
        while nonce in queue.by_nonce:
            self._gapped.pop(queue.by_nonce[nonce].tx.hash, None)
            nonce += 1

    # -- what waits, and for how long ------------------------------------------------------
    def _mark_gapped(self, queue: _SenderQueue) -> None:
        """Bring ``_gapped`` up to date for one sender's transactions."""
        first_missing = queue.first_missing()
        for nonce, pending in queue.by_nonce.items():
            tx_hash = pending.tx.hash
            if nonce > first_missing and tx_hash not in self._gapped:
                self._gapped[tx_hash] = self.clock()
            elif nonce < first_missing:
                self._gapped.pop(tx_hash, None)

    def _drop(self, tx_hash: bytes) -> _SenderQueue:
        """Remove a transaction without updating which of its sender's others are gapped."""
        pending = self._by_hash.pop(tx_hash)
        self._gapped.pop(tx_hash, None)
        queue = self._senders[pending.tx.sender_address]
        del queue.by_nonce[pending.tx.nonce]
        return queue

    def _settle(self, sender: str, queue: _SenderQueue) -> None:
        """After removals: forget an empty sender, or update which of its transactions are gapped."""
        if queue.by_nonce:
            self._mark_gapped(queue)
        else:
            del self._senders[sender]

    def _remove(self, tx_hash: bytes) -> None:
        sender = self._by_hash[tx_hash].tx.sender_address
        self._settle(sender, self._drop(tx_hash))

    def evict_stale(self) -> None:
        """Expire transactions older than ``TX_TTL_S``; evict those gapped for ``GAP_TIMEOUT_S``."""
        now = self.clock()
        while self._by_hash:
            oldest = next(iter(self._by_hash))
            if self._by_hash[oldest].arrived > now - TX_TTL_S:
                break
            self._remove(oldest)
        while self._gapped:
            oldest = next(iter(self._gapped))
            if self._gapped[oldest] > now - GAP_TIMEOUT_S:
                break
            self._remove(oldest)

    # -- proposals and commits -----------------------------------------------------------
    def next_nonce(self, address: str, account_nonce: int) -> int:
        """The nonce a new transaction from ``address`` should use, counting pending ones."""
        queue = self._senders.get(address)
        if queue is None:
            return account_nonce
        return _SenderQueue(account_nonce, queue.by_nonce).first_missing()

    def reap(self, nonce_of: NonceLookup, max_txs: int) -> list[Transaction]:
        out: list[Transaction] = []
        for sender, queue in self._senders.items():
            nonce = nonce_of(sender)
            while nonce in queue.by_nonce and len(out) < max_txs:
                out.append(queue.by_nonce[nonce].tx)
                nonce += 1
        return out

    def remove_committed(self, nonce_of: NonceLookup) -> None:
        """Drop every transaction whose nonce is now used (committed, or replaced by one that was).
        Called after each commit: the head moved, so admissions are judged again."""
        self._admitted.clear()
        for sender, queue in list(self._senders.items()):
            floor = nonce_of(sender)
            if floor == queue.account_nonce:
                continue   # nothing of this sender's was committed: nothing changes
            queue.account_nonce = floor
            for nonce in [n for n in queue.by_nonce if n < floor]:
                self._drop(queue.by_nonce[nonce].tx.hash)
            self._settle(sender, queue)

def decode_checked(data: bytes, params: ChainParams, chain_id: str,
                   check_sender: Callable[[str], None]) -> Transaction:
    """The transaction in ``data`` if its size, encoding, chain id, sender (``check_sender``
    raises ApiError if it is not admitted) and signature pass."""
    if len(data) > params.max_tx_bytes:
        raise ApiError("tx_too_large", f"transaction is {len(data)} bytes, the limit is {params.max_tx_bytes}", 413)
    try:
        tx = Transaction.from_bytes(data)
    except TxFormatError as exc:
        raise ApiError("malformed_tx", f"malformed transaction: {exc}") from None
    if tx.chain_id != chain_id:
        raise ApiError("wrong_chain_id", f"transaction is for chain {tx.chain_id!r}, this is {chain_id!r}")
    check_sender(tx.sender_address)
    if not tx.signature_valid():
        raise ApiError("bad_signature", "signature does not match the sender key and contents", 401)
    return tx


def check_gas_limit(tx: Transaction, size: int, params: ChainParams) -> None:
    if tx.gas_limit > params.max_tx_gas:
        raise ApiError("gas_limit_too_high", f"gas limit {tx.gas_limit} exceeds the maximum {params.max_tx_gas}")
    source = tx.payload.source if isinstance(tx.payload, DeployPayload) else ""
    intrinsic = params.intrinsic_gas(size, len(source.encode()))
    if tx.gas_limit < intrinsic:
        raise ApiError("gas_limit_too_low", f"gas limit {tx.gas_limit} is below the intrinsic cost {intrinsic}")


def check_nonce(tx: Transaction, floor: int, pending: dict[int, object]) -> None:
    """``floor``: the account's next nonce in the head state; ``pending``: its pending nonces."""
    if tx.nonce < floor:
        raise ApiError("nonce_too_low", f"nonce {tx.nonce} was already used; the account's next nonce is {floor}", 409)
    if tx.nonce in pending:
        raise ApiError("nonce_taken", f"another transaction with nonce {tx.nonce} is pending", 409)
    if tx.nonce > floor + MAX_NONCE_GAP:
        raise ApiError("nonce_too_high", f"nonce {tx.nonce} is more than {MAX_NONCE_GAP} ahead of "
                                         f"the account's next nonce {floor}")


def _refuse_if_not_permitted(rule: Callable[[StateReader, str], None], head: StateReader, address: str) -> None:
    try:
        rule(head, address)
    except admission.NotPermitted as exc:
        raise ApiError(exc.code, exc.message, 403) from None
