"""Sending many participants' transactions at once, and measuring how long finality takes.

Each participant's calls go to one node in order, with consecutive nonces, as soon as the
node has checked the previous one (``wait=check``), :data:`CHUNK` at a time; participants
run in parallel threads.
Then the new blocks are read (``GET /block/<height>``, every :data:`POLL` seconds) until
every transaction is in one; the time from submission to the read that finds it is the
transaction's **finality latency** (to within the poll interval): a block is final as soon
as it is committed.  The receipts are read last.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from market.client import MarketError
from node.client import NodeClient
from node.keys import KeyPair
from node.tx import CallPayload, Transaction

POLL = 0.1
CHUNK = 60  # a node keeps at most 64 pending transactions per sender


@dataclass(frozen=True)
class Call:
    contract: str  # address
    function: str
    args: list
    gas: int  # the limit counts against the block's gas whatever the call uses: keep it tight


@dataclass
class Latencies:
    """Finality latencies (seconds) of every transaction sent through ``send_all``."""

    samples: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _submit(client: NodeClient, key: KeyPair, calls: Sequence[Call], chain_id: str) -> list[tuple[str, float]]:
    nonce = client.account(key.address)["next_nonce"]
    sent = []
    for k, call in enumerate(calls):
        tx = Transaction(chain_id, key.public_key, nonce + k, call.gas,
                         CallPayload(call.contract, call.function, list(call.args))).signed(key)
        started = time.monotonic()
        sent.append((client.submit(tx, wait="check")["tx_hash"], started))
    return sent


def _follow_blocks(client: NodeClient, sent: dict[str, float], height: int, timeout: float,
                   latencies: Latencies) -> int:
    """Read new blocks until every hash in ``sent`` is in one; the last height read."""
    deadline = time.monotonic() + timeout
    waiting = set(sent)
    while waiting:
        if time.monotonic() > deadline:
            raise MarketError("timeout", f"{len(waiting)} transactions not committed within {timeout:g} s")
        head = client.status()["height"]
        for h in range(height + 1, head + 1):
            seen = time.monotonic()
            for tx_hash in client.get(f"/block/{h}", txs="hashes")["txs"]:
                if tx_hash in waiting:
                    waiting.discard(tx_hash)
                    latencies.samples.append(seen - sent[tx_hash])
        height = head
        if waiting:
            time.sleep(POLL)
    return height


def send_all(client_of: Callable[[int], NodeClient], jobs: Sequence[tuple[KeyPair, Sequence[Call]]],
             latencies: Latencies, timeout: float = 120.0, check: bool = True) -> list[list[dict]]:
    """Send every job's calls (a job: one key and its calls, in order); the receipts per job.

    ``client_of(n)`` is the node client for job ``n`` (spread the jobs over the nodes).  With
    ``check``, a failed receipt raises MarketError with the contract's message."""
    if not jobs:
        return []
    watcher = client_of(0)
    chain_id = watcher.status()["chain_id"]
    hashes: list[list[str]] = [[] for _ in jobs]
    with ThreadPoolExecutor(max_workers=min(16, len(jobs))) as pool:
        for start in range(0, max(len(calls) for _key, calls in jobs), CHUNK):
            height = watcher.status()["height"]
            chunks = list(pool.map(lambda n: _submit(client_of(n), jobs[n][0], jobs[n][1][start:start + CHUNK],
                                                     chain_id), range(len(jobs))))
            for n, chunk in enumerate(chunks):
                hashes[n] += [tx_hash for tx_hash, _started in chunk]
            _follow_blocks(watcher, {h: t for chunk in chunks for h, t in chunk}, height, timeout, latencies)
        results = list(pool.map(lambda n: [watcher.get(f"/tx/{h}")["receipt"] for h in hashes[n]], range(len(jobs))))
    if check:
        for receipts in results:
            for receipt in receipts:
                if receipt["status"] != "ok":
                    raise MarketError(receipt["error_code"], receipt["error"])
    return results
