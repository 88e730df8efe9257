"""The market from a wallet: genesis contract addresses, queries and signed calls over the API.

Used by the CLI.  A transaction that fails raises ``MarketError`` with the receipt's error
code and the contract's own message (e.g. ``require_failed``: "offer price above the price
cap"), so callers can show the rejection as it is.
"""
from __future__ import annotations

import time
from typing import Any

from market import sources
from market.orders import Order, commitment
from market.token import TOKEN_NAME
from node.client import NodeClient
from node.keys import KeyPair

CALL_GAS = 2_000_000
HEAVY_GAS = 50_000_000  # clearing and settling a big session; the chain's per-tx maximum by default
HEAVY = ("clear", "settle", "release", "attest", "override", "withdraw")
PAGE = 200  # the most records the market and registry return per read


def gas_for(contract: str, function: str) -> int:
    """The gas limit to send with a call: clearing and settling may need a transaction's maximum."""
    return HEAVY_GAS if contract == sources.MARKET and function in HEAVY else CALL_GAS


class MarketError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class MarketClient:
    def __init__(self, node: NodeClient):
        self.node = node
        self._addresses: dict[str, str] | None = None

    def address(self, name: str) -> str:
        if self._addresses is None:
            self._addresses = self.node.contracts()
        if name not in self._addresses:
            raise MarketError("no_market", f"this chain has no {name!r} contract (genesis without the market)")
        return self._addresses[name]

    def query(self, contract: str, function: str, *args: Any) -> Any:
        return self.node.query(self.address(contract), function, list(args))

    def send(self, key: KeyPair, contract: str, function: str, *args: Any) -> dict:
        """Call ``function`` in a transaction and wait for its receipt; MarketError if it failed."""
        response = self.node.call(key, self.address(contract), function, list(args),
                                  gas_limit=gas_for(contract, function))
        receipt = response.get("receipt") or {}
        if receipt.get("status") != "ok":
            raise MarketError(receipt.get("error_code", "not_committed"), receipt.get("error", "no receipt"))
        return receipt

    # -- reads ----------------------------------------------------------------------------
    def session(self, sid: int) -> dict:
        return self.query(sources.MARKET, "session", sid)

    def pages(self, contract: str, function: str, *args: Any, cursor: str, start: Any) -> list[dict]:
        """Every record of a paged read, PAGE at a time, continuing after the last record's ``cursor``."""
        found, last = [], start
        while True:
            page = self.query(contract, function, *args, last, PAGE)
            found += page
            if len(page) < PAGE:
                return found
            last = page[-1][cursor]

    def sessions(self) -> list[dict]:
        return self.pages(sources.MARKET, "sessions", cursor="id", start=0)

    def commitments(self, sid: int) -> list[dict]:
        return self.pages(sources.MARKET, "commitments", sid, cursor="seq", start=0)

    def devices_by_seq(self, sid: int) -> dict[int, str]:
        """The device of every revealed order of a session, by commitment seq."""
        return {c["seq"]: c["order"]["device"] for c in self.commitments(sid) if c["order"]}

    def rows(self, sid: int, table: str) -> list[list]:
        found, chunk = [], 0
        while page := self.query(sources.MARKET, "rows", sid, table, chunk):
            found += page
            chunk += 1
        return found

    def wait_for_phase(self, sid: int, phases: tuple[str, ...], timeout: float, poll: float = 0.5) -> dict:
        """Poll until the session (as of the head block) is in one of ``phases``."""
        deadline = time.monotonic() + timeout
        while True:
            session = self.session(sid)
            if session["phase"] in phases:
                return session
            if time.monotonic() >= deadline:
                raise MarketError("timeout", f"session {sid} is still in phase {session['phase']} "
                                             f"after {timeout:g} s")
            time.sleep(poll)

    # -- sealed orders --------------------------------------------------------------------
    def ensure_allowance(self, key: KeyPair, amount: int) -> None:
        """Let the market pull ``amount`` from ``key``'s balance (approve when needed)."""
        market = self.address(sources.MARKET)
        if amount > 0 and self.query(TOKEN_NAME, "allowance", key.address, market) < amount:
            self.send(key, TOKEN_NAME, "approve", market, amount)

    def needed_deposit(self, key: KeyPair, sid: int, order: Order) -> int:
        """What the order must escrow: the contract's check (reveal's own rejections come
        back here, before anything is committed), and at least the session minimum."""
        collateral = self.query(sources.MARKET, "check_order", sid, key.address, order.to_value())
        return max(collateral, self.session(sid)["min_deposit"])

    def commitment(self, key: KeyPair, sid: int, order: Order, salt: str) -> str:
        return commitment(self.address(sources.MARKET), sid, key.address, order, salt)
