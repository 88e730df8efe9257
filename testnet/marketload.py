"""A market under faults: energy sessions opened, traded and cleared, one after another.

The DSO opens a short energy session, a buyer and a seller commit sealed orders, reveal them
in the reveal phase, and the DSO clears it; then the next session. Every transaction is
signed once with the actor's own nonce and submitted again, unchanged, to another node until
one answers with its receipt, so a retry can never commit twice. A session whose phase
passed while the chain was stalled is abandoned (its receipts say so) and the next one opens.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from market import sources
from market.client import MarketClient, gas_for
from market.orders import Order, commitment, new_salt
from market.token import TOKEN_NAME
from node.client import ClientError, NodeClient
from node.keys import KeyPair
from node.tx import CallPayload, Transaction
from testnet import actors

PHASES = {"commit": 6, "gate": 0, "reveal": 6, "settle": 3600}  # seconds of block time
PHASE_ORDER = ("commit", "gate_closure", "reveal", "clearing")
FEEDER, BUYER_DEVICE, SELLER_DEVICE = "r", "nemesis-load", "nemesis-gen"
FUNDS = 10**12
ALLOWANCE = 10**12
STEP_TIMEOUT = 120.0  # seconds one transaction may take to commit, faults included


class MarketStuck(Exception):
    """A market transaction did not commit on any node in time."""


@dataclass
class MarketTally:
    opened: int = 0
    cleared: int = 0
    abandoned: list[str] = field(default_factory=list)  # why each abandoned session was given up
    volume_wh: int = 0


@dataclass(frozen=True)
class Trader:
    key: KeyPair
    order: Order


class MarketActor:
    """Runs sessions in a thread until stopped; ``stop`` lets the session in progress finish."""

    def __init__(self, urls: list[str], chain_id: str, addresses: dict[str, str], dso: KeyPair, buyer: KeyPair,
                 seller: KeyPair, seed: int):
        self.urls, self.chain_id, self.addresses, self.dso = urls, chain_id, addresses, dso
        self.traders = [Trader(buyer, Order("buy", BUYER_DEVICE, 300_000, 1_000, 1, (0,))),
                        Trader(seller, Order("sell", SELLER_DEVICE, 100_000, 1_000, 1, (0,)))]
        self.tally = MarketTally()
        self.failure: Exception | None = None
        self._rng = random.Random(seed)
        self._nonces: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @classmethod
    def set_up(cls, market: MarketClient, issuer: KeyPair, urls: list[str], seed: int) -> "MarketActor":
        """Admit and fund a DSO, a buyer and a seller, register their devices, approve the market."""
        rng = random.Random(f"market actors {seed}")  # not the load generator's accounts
        dso, buyer, seller = (KeyPair(rng.randbytes(32)) for _ in range(3))
        for name, key, roles in (("nemesis dso", dso, ["dso"]), ("nemesis buyer", buyer, ["prosumer"]),
                                 ("nemesis seller", seller, ["prosumer"])):
            actors.fund(market, issuer, key.address, FUNDS)
            actors.admit(market, issuer, key, name, roles)
            market.send(key, TOKEN_NAME, "approve", market.address(sources.MARKET), ALLOWANCE)
        actors.register_device(market, buyer, BUYER_DEVICE, "load", "bus-r11", FEEDER, 40_000)
        actors.register_device(market, seller, SELLER_DEVICE, "generation", "bus-r1", FEEDER, 40_000)
        return cls(urls, market.node.status()["chain_id"], market.node.contracts(), dso, buyer, seller, seed)

    def holders(self) -> list[str]:
        """Accounts this actor's tokens can be in: its keys and the market's escrow."""
        return [self.dso.address] + [t.key.address for t in self.traders] + [self.addresses[sources.MARKET]]

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 3 * STEP_TIMEOUT) -> MarketTally:
        self._stop.set()
        self._thread.join(timeout)
        if self.failure is not None:
            raise self.failure
        return self.tally

    # -- one session -------------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._session()
                except MarketStuck as exc:  # the chain stalled: the liveness checker says why
                    self.tally.abandoned.append(str(exc))
        except Exception as exc:  # reported by stop()
            self.failure = exc

    def _session(self) -> None:
        status = self._read(lambda c: c.status())
        first_mtu = status["head_time_ms"] // 1000 // 900 + 96  # tomorrow at this time
        opened = self._send(self.dso, "open_energy", {"feeder": FEEDER, "first_mtu": first_mtu, "n_mtus": 1,
                                                      "max_price": 500_000, "max_qty": 10_000, "phases": PHASES})
        if opened["status"] != "ok":
            self.tally.abandoned.append(f"open: {opened.get('error')}")
            return
        sid = opened["result"]
        self.tally.opened += 1
        market = self.addresses[sources.MARKET]
        sealed = []
        for trader in self.traders:
            salt = new_salt()
            deposit = self._query(sources.MARKET, "check_order", sid, trader.key.address, trader.order.to_value())
            receipt = self._send(trader.key, "commit", sid,
                                 commitment(market, sid, trader.key.address, trader.order, salt), deposit)
            if receipt["status"] != "ok":
                self.tally.abandoned.append(f"session {sid} commit: {receipt.get('error')}")
                return
            sealed.append((trader, receipt["result"], salt))
        if not self._wait_phase(sid, "reveal"):
            return
        for trader, seq, salt in sealed:
            receipt = self._send(trader.key, "reveal", sid, seq, trader.order.to_value(), salt)
            if receipt["status"] != "ok":
                self.tally.abandoned.append(f"session {sid} reveal: {receipt.get('error')}")
                return
        if not self._wait_phase(sid, "clearing"):
            return
        cleared = self._send(self.dso, "clear", sid)
        if cleared["status"] != "ok":
            self.tally.abandoned.append(f"session {sid} clear: {cleared.get('error')}")
            return
        self.tally.cleared += 1
        self.tally.volume_wh += sum(row[4] for row in self._query(sources.MARKET, "results", sid))

    def _wait_phase(self, sid: int, phase: str) -> bool:
        """Wait until the session is in ``phase``; False (the session abandoned) if it went past
        it while this actor's transactions were waiting for a stalled chain."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            now = self._query(sources.MARKET, "session", sid)["phase"]
            if now == phase:
                return True
            if now not in PHASE_ORDER or PHASE_ORDER.index(now) > PHASE_ORDER.index(phase):
                self.tally.abandoned.append(f"session {sid} was in the {now} phase when its {phase} phase was due")
                return False
            if time.monotonic() > deadline:
                raise MarketStuck(f"session {sid} did not reach the {phase} phase within {STEP_TIMEOUT:g} s")
            time.sleep(0.5)

    # -- through any node that answers ---------------------------------------------------------
    def _read(self, read):
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            try:
                return read(NodeClient(self._rng.choice(self.urls), timeout=5))
            except (ClientError, OSError):
                if time.monotonic() > deadline:
                    raise MarketStuck(f"no node answered a read within {STEP_TIMEOUT:g} s") from None
                time.sleep(0.3)

    def _query(self, contract: str, function: str, *args):
        return self._read(lambda c: c.query(self.addresses[contract], function, list(args)))

    def _send(self, key: KeyPair, function: str, *args) -> dict:
        """The receipt of ``function`` called on the market by ``key``, submitted until it commits."""
        if key.address not in self._nonces:
            self._nonces[key.address] = self._read(lambda c: c.account(key.address))["nonce"]
        tx = Transaction(self.chain_id, key.public_key, self._nonces[key.address], gas_for(sources.MARKET, function),
                         CallPayload(self.addresses[sources.MARKET], function, list(args))).signed(key)
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            client = NodeClient(self._rng.choice(self.urls), timeout=15)
            try:
                receipt = client.submit(tx, wait="commit", timeout=10).get("receipt")
            except (ClientError, OSError):
                receipt = None
            if receipt is None:  # not committed yet, or the answer was lost: look it up, then try again
                try:
                    receipt = client.get(f"/tx/{tx.hash.hex()}").get("receipt")
                except (ClientError, OSError):
                    pass
            if receipt is not None:
                self._nonces[key.address] += 1
                return receipt
            time.sleep(0.3)
        del self._nonces[key.address]  # it may still commit: read the nonce from the chain next time
        raise MarketStuck(f"{function} by {key.address} was not committed within {STEP_TIMEOUT:g} s")
