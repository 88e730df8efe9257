"""Market participants acting over the API: what the demo and the multi-process tests script.

Each function is one signed transaction (or a commit/reveal pair) through
``market.client.MarketClient``, waiting for its receipt, exactly as a wallet would send it.
"""
from __future__ import annotations

from dataclasses import dataclass

from market import sources
from market.client import MarketClient
from market.orders import Order, new_salt
from market.token import TOKEN_NAME
from node.keys import KeyPair


@dataclass(frozen=True)
class Sealed:
    """A committed order and what its reveal needs."""

    session: int
    seq: int
    order: Order
    salt: str
    deposit: int


def admit(market: MarketClient, authority: KeyPair, key: KeyPair, name: str, roles: list[str]) -> None:
    market.send(authority, sources.REGISTRY, "admit", key.address, name, sorted(roles), key.public_key.hex())


def fund(market: MarketClient, issuer: KeyPair, address: str, amount: int) -> None:
    market.send(issuer, TOKEN_NAME, "transfer", address, amount)


def register_device(market: MarketClient, owner: KeyPair, device_id: str, kind: str, bus: str, feeder: str,
                    max_power: int, capacity: int = 0, aggregator: str | None = None) -> None:
    market.send(owner, sources.REGISTRY, "register_device",
                {"id": device_id, "type": kind, "max_power": max_power, "min_power": 0, "capacity": capacity,
                 "bus": bus, "feeder": feeder, "aggregator": aggregator})


def commit(market: MarketClient, key: KeyPair, sid: int, order: Order) -> Sealed:
    """Check the order, approve and escrow its deposit, and commit it."""
    deposit = market.needed_deposit(key, sid, order)
    market.ensure_allowance(key, deposit)
    salt = new_salt()
    receipt = market.send(key, sources.MARKET, "commit", sid, market.commitment(key, sid, order, salt), deposit)
    return Sealed(sid, receipt["result"], order, salt, deposit)


def reveal(market: MarketClient, key: KeyPair, sealed: Sealed) -> None:
    market.send(key, sources.MARKET, "reveal", sealed.session, sealed.seq, sealed.order.to_value(), sealed.salt)
