"""A market chain for tests: LocalChain with the market contracts, a block clock the test
moves, participants with keys, roles, devices and tokens, and sealed orders.

Blocks go through the real mempool and ``DevDriver.produce_block``; only the driver's clock
is the test's (``MarketChain.now``, unix seconds), so phases that last minutes pass at once.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from market import meterdata, sources
from market.genesis import MarketConfig
from market.orders import Order, commitment, new_salt
from node import devdriver
from node.keys import KeyPair
from node.tx import CallPayload, Payload
from tests.chainkit import TOKEN, LocalChain, key_of

MARKET = sources.address(sources.MARKET)
REGISTRY = sources.address(sources.REGISTRY)
METER = sources.address(sources.METER)
GRID = sources.address(sources.GRID)
GENESIS_S = 1_767_225_600
ORACLE_NAME = "grid-oracle"   # the genesis oracle key of every test chain: key_of(ORACLE_NAME)
PHASES = MarketConfig(commit=100, gate=10, reveal=100, settle=1000,
                      oracle=key_of(ORACLE_NAME).address, meter_lead=3 * 86400)  # meter data for tomorrow, today
BIG_GAS = 50_000_000
SMALL_GAS = 100_000
FUNDS = 1_000_000_000
NONCE_WINDOW = 60   # the mempool takes at most 64 pending transactions per sender


class _Clock:
    """Stands in for the ``time`` module inside node.devdriver while a block is produced."""

    perf_counter = staticmethod(time.perf_counter)

    def __init__(self, seconds: int):
        self.seconds = seconds

    def time(self) -> float:
        return self.seconds + 0.5


@dataclass(frozen=True)
class Sealed:
    session: int
    seq: int
    order: Order
    salt: str


class MarketChain(LocalChain):
    def __init__(self, directory: Path, config: MarketConfig = PHASES, **kw):
        super().__init__(directory, market_config=config, **kw)
        self.now = GENESIS_S + 10

    # -- blocks and time --------------------------------------------------------------
    def produce(self) -> None:
        with mock.patch.object(devdriver, "time", _Clock(self.now)):
            self.driver.produce_block()

    def run(self, key: KeyPair, payload: Payload, gas: int = BIG_GAS):
        tx = self.tx(key, payload, gas)
        self.submit(tx)
        self.produce()
        return self.chain.store.receipt(tx.hash)

    def call(self, key: KeyPair, contract: str, function: str, *args, gas: int = BIG_GAS):
        return self.run(key, CallPayload(contract, function, list(args)), gas)

    def batch(self, calls: list[tuple[KeyPair, str, str, list]], gas: int = 2_000_000) -> list:
        """Submit many calls, produce one block, return their receipts in order."""
        txs = []
        for key, contract, function, args in calls:
            txs.append(self.tx(key, CallPayload(contract, function, list(args)), gas))
            self.submit(txs[-1])   # one at a time: the next nonce counts the pending ones
        self.produce()
        return [self.chain.store.receipt(tx.hash) for tx in txs]

    def run_all(self, calls: list[tuple[KeyPair, str, str, list]], gas: int = SMALL_GAS) -> list:
        """Submit every call, as many per block as the mempool and the block limits take
        (many senders at once); returns the receipts in order."""
        queues = defaultdict(list)
        for index, (key, contract, function, args) in enumerate(calls):
            queues[key.address].append((index, key, CallPayload(contract, function, list(args))))
        hashes = [b""] * len(calls)
        while any(queues.values()):
            for address, queue in queues.items():
                while queue and self.service.next_nonce(address) - self.chain.nonce(address) < NONCE_WINDOW:
                    index, key, payload = queue.pop(0)
                    tx = self.tx(key, payload, gas)
                    self.submit(tx)
                    hashes[index] = tx.hash
            self.produce()
        while len(self.service.mempool):
            self.produce()
        return [self.chain.store.receipt(h) for h in hashes]

    def goto(self, sid: int, phase: str) -> None:
        """Set the clock to the start of a session phase: gate, reveal, reveal_end or settle_by."""
        self.now = max(self.now, self.session(sid)["times"][phase])

    # -- participants -----------------------------------------------------------------
    def participant(self, name: str, *roles: str, funds: int = FUNDS) -> KeyPair:
        key = key_of(name)
        ok(self.call(self.issuer, REGISTRY, "admit", key.address, name, sorted(roles), key.public_key.hex()))
        if funds:
            ok(self.call(self.issuer, TOKEN, "transfer", key.address, funds))
            ok(self.call(key, TOKEN, "approve", MARKET, funds))
        return key

    def device(self, owner: KeyPair, device_id: str, kind: str = "load", max_power: int = 40_000,
               bus: str = "bus1", feeder: str = "f1", aggregator: KeyPair | None = None, capacity: int = 0):
        spec = {"id": device_id, "type": kind, "max_power": max_power, "min_power": 0, "capacity": capacity,
                "bus": bus, "feeder": feeder, "aggregator": aggregator.address if aggregator else None}
        ok(self.call(owner, REGISTRY, "register_device", spec))
        return device_id

    # -- sessions and orders ------------------------------------------------------------
    def open_session(self, dso: KeyPair, function: str, **spec) -> int:
        """Open a session; a flexibility request needs its feeder in YELLOW, so for one on a
        feeder that is not, the DSO first declares YELLOW for the request's MTUs."""
        spec.setdefault("feeder", "f1")
        spec.setdefault("first_mtu", self.now // 900 + 96)
        spec.setdefault("n_mtus", 4)
        if function == "request_flex" and self.query(GRID, "regime", spec["feeder"])["state"] != "YELLOW":
            ok(self.call(dso, GRID, "set_regime", spec["feeder"], "YELLOW",
                         list(range(spec["first_mtu"], spec["first_mtu"] + spec["n_mtus"])), "flexibility request", ""))
        return ok(self.call(dso, MARKET, function, spec))

    def session(self, sid: int) -> dict:
        return self.query(MARKET, "session", sid)

    def seal(self, key: KeyPair, sid: int, order: Order, deposit: int | None = None):
        """Commit to ``order``; the deposit defaults to what the order needs (at least the
        session minimum).  Returns (receipt, Sealed or None)."""
        if deposit is None:
            needed = self.query(MARKET, "check_order", sid, key.address, order.to_value())
            deposit = max(needed, self.session(sid)["min_deposit"])
        salt = new_salt()
        receipt = self.call(key, MARKET, "commit", sid, commitment(MARKET, sid, key.address, order, salt), deposit)
        return receipt, (Sealed(sid, receipt.result, order, salt) if receipt.ok else None)

    def reveal(self, key: KeyPair, sealed: Sealed, order: Order | None = None, salt: str | None = None):
        return self.call(key, MARKET, "reveal", sealed.session, sealed.seq, (order or sealed.order).to_value(),
                         salt or sealed.salt)

    def trade_and_clear(self, sid: int, orders: list[tuple[KeyPair, Order]], clearer: KeyPair) -> None:
        """Commit every (trader, order), reveal them all, and have ``clearer`` clear the session."""
        sealed = [(key, self.seal(key, sid, order)[1]) for key, order in orders]
        self.goto(sid, "reveal")
        for key, s in sealed:
            ok(self.reveal(key, s))
        self.goto(sid, "reveal_end")
        ok(self.call(clearer, MARKET, "clear", sid))

    def rows(self, sid: int, table: str) -> list:
        out, chunk = [], 0
        while True:
            page = self.query(MARKET, "rows", sid, table, chunk)
            if not page:
                return out
            out += page
            chunk += 1


def ok(receipt):
    assert receipt.ok, f"{receipt.error_code}: {receipt.error}"
    return receipt.result


def rejected(receipt, message: str) -> None:
    assert (receipt.error_code, receipt.error) == ("require_failed", message), (receipt.error_code, receipt.error)


@dataclass
class World:
    """A market chain with a DSO, a meter data manager, an aggregator and two prosumers.

    Devices on feeder f1: alice-load (load), alice-pv (generation), bob-pv (generation),
    bob-battery (storage, managed by the aggregator); on feeder f2: bob-hp (heat pump,
    managed by the aggregator).
    """

    chain: MarketChain
    dso: KeyPair
    mdm: KeyPair
    agg: KeyPair
    alice: KeyPair
    bob: KeyPair

    @classmethod
    def build(cls, directory: Path, **kw) -> "World":
        chain = MarketChain(directory, **kw)
        world = cls(chain, chain.participant("dso", "dso"), chain.participant("mdm", "meter_data_manager", funds=0),
                    chain.participant("agg", "aggregator"), chain.participant("alice", "prosumer"),
                    chain.participant("bob", "prosumer"))
        chain.device(world.alice, "alice-load", "load", max_power=40_000, bus="bus1")
        chain.device(world.alice, "alice-pv", "generation", max_power=20_000, bus="bus1")
        chain.device(world.bob, "bob-pv", "generation", max_power=40_000, bus="bus2")
        chain.device(world.bob, "bob-battery", "storage", max_power=10_000, bus="bus2", aggregator=world.agg,
                     capacity=20_000)
        chain.device(world.bob, "bob-hp", "heat_pump", max_power=8_000, bus="bus9", feeder="f2",
                     aggregator=world.agg)
        return world

    def meter(self, readings: list[tuple[str, int, int]]):
        """Submit readings signed by the meter data manager; returns the receipt."""
        return self.chain.call(self.alice, METER, "submit", self.mdm.address, [list(r) for r in readings],
                               meterdata.sign(self.mdm, METER, readings))


def assert_replays_identically(source: "MarketChain", directory) -> None:
    """A fresh node replaying ``source``'s blocks ends with the same receipts and state root."""
    replica = MarketChain(directory, validator=source.validator, issuer=source.issuer)
    try:
        replay(source, replica)
        assert replica.chain.state.root() == source.chain.state.root()
    finally:
        replica.close()


def replay(source: LocalChain, replica: LocalChain) -> None:
    """Execute every block of ``source`` on ``replica`` through the validator path; the
    headers (state roots included) and receipts must match."""
    for height in range(replica.chain.height + 1, source.chain.height + 1):
        block = source.chain.store.block(height)
        replica.chain.commit(replica.chain.execute_block(block), source.chain.store.commit(height))
        assert replica.chain.head.header == block.header
        for tx in block.txs:
            assert replica.chain.store.receipt(tx.hash) == source.chain.store.receipt(tx.hash)
