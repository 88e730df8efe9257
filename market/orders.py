"""Sealed orders on the client side: the order value, its canonical text, salts, commitments.

The market contract recomputes the commitment on reveal (``_canonical`` in
market/contracts/market.py), so the text built here must match it byte for byte::

    flexledger-order-v1|<market>|<session>|<trader>|<side>|<device>|<price>|<qty>|<min_qty>|<mtus>|<baseline>

with ``mtus`` the offsets joined by commas and ``baseline`` "-" when there is none.  The
commitment is sha256(text UTF-8 + the 32 salt bytes), in hex.  Numbers are decimal and
device ids use only ``a-z 0-9 . _ -``, so the text is unambiguous.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

ORDER_DOMAIN = "flexledger-order-v1"
SIDES = {"energy": ("buy", "sell"), "flex": ("offer",), "capacity": ("bid",)}


@dataclass(frozen=True)
class Order:
    """One sealed order.  Energy: Wh per MTU and price per kWh; flexibility and capacity: W.

    ``mtus`` are offsets in the session window (energy and capacity; empty for a
    flexibility offer, which covers the whole request window); ``baseline`` is a declared
    flexibility baseline in Wh per MTU, or None to use the meter history.
    """

    side: str
    device: str
    price: int
    qty: int
    min_qty: int
    mtus: tuple[int, ...] = field(default=())
    baseline: int | None = None

    def to_value(self) -> dict:
        """The order as the contract receives it (a dict of plain values)."""
        return {"side": self.side, "device": self.device, "price": self.price, "qty": self.qty,
                "min_qty": self.min_qty, "mtus": list(self.mtus), "baseline": self.baseline}

    @classmethod
    def from_value(cls, value: dict) -> "Order":
        return cls(value["side"], value["device"], value["price"], value["qty"], value["min_qty"],
                   tuple(value["mtus"]), value["baseline"])

    def canonical(self, market: str, session: int, trader: str) -> str:
        baseline = "-" if self.baseline is None else str(self.baseline)
        return "|".join([ORDER_DOMAIN, market, str(session), trader, self.side, self.device, str(self.price),
                         str(self.qty), str(self.min_qty), ",".join(str(m) for m in self.mtus), baseline])


def new_salt() -> str:
    """32 random bytes as 64 hex digits; kept secret until the reveal."""
    return secrets.token_hex(32)


def commitment(market: str, session: int, trader: str, order: Order, salt: str) -> str:
    """sha256 of the canonical order text and the salt bytes, as 64 hex digits."""
    return hashlib.sha256(order.canonical(market, session, trader).encode() + bytes.fromhex(salt)).hexdigest()
