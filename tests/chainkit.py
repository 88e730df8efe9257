"""Helpers for tests that run a real chain in-process: genesis, signing, producing blocks.

Blocks are produced by the real ``DevDriver`` from the real mempool, so tests exercise the
same path as a running node; a second chain can replay those blocks as a validator would.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

from consensus.types import Validator, ValidatorSet
from market.genesis import MarketConfig, market_genesis
from market.token import TOKEN_NAME
from node.chain import Chain
from node.devdriver import DevDriver
from node.genesis import Genesis
from node.keys import KeyPair, genesis_contract_address
from node.params import ChainParams
from node.service import NodeService
from node.tx import CallPayload, DeployPayload, Payload, Transaction

CHAIN_ID = "flexledger-test"
TOKEN = genesis_contract_address(TOKEN_NAME)
SUPPLY = 1_000_000_000_000


def key_of(name: str) -> KeyPair:
    """The test key named ``name`` (the same key in every test)."""
    return KeyPair(hashlib.sha256(name.encode()).digest())


ALICE, BOB, CAROL, DAVE = (key_of(name) for name in ("alice", "bob", "carol", "dave"))
GUESTS = (ALICE, BOB, CAROL, DAVE)  # on the allow list of every test chain; ALICE may also deploy


def make_genesis(validator: KeyPair, issuer: KeyPair, params: ChainParams | None = None,
                 market_config: MarketConfig | None = None, allowed: tuple[KeyPair, ...] = ()) -> Genesis:
    """A single-validator chain with the market contracts; the issuer, the guests and
    ``allowed`` are admitted by the allow list, the issuer and ALICE may deploy."""
    contracts, calls = market_genesis(issuer.address, {issuer.address: SUPPLY}, market_config)
    return Genesis(CHAIN_ID, 1_767_225_600_000, ValidatorSet((Validator("dso", validator.public_key, 10, "dso"),)),
                   params or ChainParams(), contracts, calls,
                   allowed_accounts=tuple(k.address for k in (issuer, *GUESTS, *allowed)),
                   deployers=(issuer.address, ALICE.address))


class LocalChain:
    """A chain in a temp dir with its validator and token issuer keys."""

    def __init__(self, directory: Path, validator: KeyPair | None = None, issuer: KeyPair | None = None,
                 params: ChainParams | None = None, mempool_capacity: int = 10_000,
                 market_config: MarketConfig | None = None, allowed: tuple[KeyPair, ...] = ()):
        self.directory = Path(directory)
        self.validator = validator or KeyPair.generate()
        self.issuer = issuer or KeyPair.generate()
        self.genesis = make_genesis(self.validator, self.issuer, params, market_config, allowed)
        self.mempool_capacity = mempool_capacity
        self.open()

    def open(self) -> None:
        self.chain = Chain(self.directory, self.genesis)
        self.service = NodeService(self.chain, self.mempool_capacity)
        self.driver = DevDriver(self.service, self.validator, interval=1.0)

    def reopen(self) -> None:
        self.chain.close()
        self.open()

    def tx(self, key: KeyPair, payload: Payload, gas: int = 2_000_000, nonce: int | None = None) -> Transaction:
        if nonce is None:
            nonce = self.service.next_nonce(key.address)
        return Transaction(CHAIN_ID, key.public_key, nonce, gas, payload).signed(key)

    def submit(self, *txs: Transaction) -> None:
        for tx in txs:
            self.service.check_and_add(tx.to_bytes())

    def run(self, key: KeyPair, payload: Payload, gas: int = 2_000_000):
        """Submit one tx, produce a block, return its receipt."""
        tx = self.tx(key, payload, gas)
        self.submit(tx)
        self.driver.produce_block()
        return self.chain.store.receipt(tx.hash)

    def call(self, key: KeyPair, contract: str, function: str, *args, gas: int = 2_000_000):
        return self.run(key, CallPayload(contract, function, list(args)), gas)

    def deploy(self, key: KeyPair, source: str, *args, gas: int = 20_000_000):
        return self.run(key, DeployPayload(source, list(args)), gas)

    def query(self, contract: str, function: str, *args):
        return self.chain.query(contract, function, list(args), 50_000_000)[0]

    def balance(self, address: str) -> int:
        return self.query(TOKEN, "balance_of", address)

    def close(self) -> None:
        self.chain.close()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not reached in time")
