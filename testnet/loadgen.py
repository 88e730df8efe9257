"""A load generator: token transfers between funded accounts, submitted to live nodes.

Each sender thread owns one account and sends transfers with consecutive nonces to a node
picked at random among those that answer, waiting for each commit. A transfer counts as
acknowledged only when a node answered with its committed receipt; those are what the
invariant checker later requires on every node.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from node.client import ClientError, NodeClient
from node.keys import KeyPair
from node.tx import CallPayload, Transaction

TRANSFER_GAS = 30_000  # a transfer uses ~10k (docs/benchmarks.md); blocks are filled by gas *limits*


@dataclass
class LoadResult:
    acknowledged: list[bytes] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


ADMIT_GAS = 50_000  # a registry admission uses ~13,000
FUNDING_BATCH = 30  # accounts per batch, two txs each: below the mempool's 64 pending txs per sender


def _admit_and_fund(registry: str, token: str, account: KeyPair, amount: int) -> list[tuple[CallPayload, int]]:
    """The issuer's two calls for one load account: admit it to the registry (so the chain
    accepts its transactions), then send it ``amount``."""
    admit = CallPayload(registry, "admit", [account.address, "load " + account.address[2:10], ["prosumer"],
                                            account.public_key.hex()])
    return [(admit, ADMIT_GAS), (CallPayload(token, "transfer", [account.address, amount]), TRANSFER_GAS)]


def fund(client: NodeClient, issuer: KeyPair, token: str, accounts: list[KeyPair], amount: int) -> None:
    """Admit every account as a market participant and give it ``amount`` micro-tokens (the
    issuer is the registry authority of testnets); returns once all are committed."""
    chain_id = client.status()["chain_id"]
    registry = client.contracts()["registry"]
    for start in range(0, len(accounts), FUNDING_BATCH):
        nonce = client.account(issuer.address)["next_nonce"]
        calls = [call for a in accounts[start:start + FUNDING_BATCH] for call in _admit_and_fund(registry, token, a, amount)]
        txs = [Transaction(chain_id, issuer.public_key, nonce + i, gas, payload).signed(issuer)
               for i, (payload, gas) in enumerate(calls)]
        for tx in txs[:-1]:
            client.submit(tx, wait="check")
        client.submit(txs[-1], wait="commit", timeout=60)


class LoadGenerator:
    def __init__(self, urls: list[str], chain_id: str, token: str, senders: list[KeyPair], seed: int = 1):
        self.urls, self.chain_id, self.token, self.senders = urls, chain_id, token, senders
        self.random = random.Random(seed)
        self.result = LoadResult()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index, key in enumerate(self.senders):
            rng = random.Random(self.random.random())
            thread = threading.Thread(target=self._send_loop, args=(key, index, rng), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> LoadResult:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        return self.result

    def _note_error(self, code: str) -> None:
        with self.result.lock:
            self.result.errors[code] = self.result.errors.get(code, 0) + 1

    def _send_loop(self, key: KeyPair, index: int, rng: random.Random) -> None:
        to = self.senders[(index + 1) % len(self.senders)].address
        nonce = None
        while not self._stop.is_set():
            client = NodeClient(rng.choice(self.urls), timeout=20)
            try:
                if nonce is None:
                    nonce = client.account(key.address)["nonce"]
                tx = Transaction(self.chain_id, key.public_key, nonce, TRANSFER_GAS,
                                 CallPayload(self.token, "transfer", [to, 1])).signed(key)
                started = time.monotonic()
                client.submit(tx, wait="commit", timeout=15)
            except ClientError as exc:
                self._note_error(exc.code)
                if exc.code in ("nonce_too_low", "already_committed", "nonce_taken", "nonce_too_high"):
                    nonce = None  # resynchronise with the chain
                time.sleep(0.2)
                continue
            with self.result.lock:
                self.result.acknowledged.append(tx.hash)
                self.result.latencies.append(time.monotonic() - started)
            nonce += 1
