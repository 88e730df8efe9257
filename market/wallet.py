"""Sealed orders kept in the wallet directory until they are revealed.

Each order's secret salt is written (mode 0600, atomically) *before* its commitment is
sent, under ``<home>/market/sealed/<commitment>.json``: losing it would make the order
impossible to reveal and forfeit its deposit.  The file then gets the commitment's seq
once the commit is in a block, and is marked revealed after the reveal.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from market.orders import Order
from node.atomicfile import write_json_atomic


@dataclass(frozen=True)
class SealedOrder:
    market: str
    session: int
    key_name: str
    trader: str
    order: Order
    salt: str
    commitment: str
    deposit: int
    seq: int | None = None
    revealed: bool = False

    def to_json(self) -> dict:
        doc = asdict(self)
        doc["order"] = self.order.to_value()
        return doc

    @classmethod
    def from_json(cls, doc: dict) -> "SealedOrder":
        return cls(**{**doc, "order": Order.from_value(doc["order"])})


class SealedOrderStore:
    def __init__(self, home: Path):
        self.directory = Path(home) / "market" / "sealed"

    def save(self, sealed: SealedOrder) -> SealedOrder:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{sealed.commitment}.json"
        write_json_atomic(path, sealed.to_json(), mode=0o600)
        return sealed

    def update(self, sealed: SealedOrder, **changes) -> SealedOrder:
        return self.save(replace(sealed, **changes))

    def discard(self, sealed: SealedOrder) -> None:
        """Forget an order whose commitment was rejected (so it never reached the chain)."""
        (self.directory / f"{sealed.commitment}.json").unlink(missing_ok=True)

    def all(self) -> list[SealedOrder]:
        if not self.directory.is_dir():
            return []
        found = [SealedOrder.from_json(json.loads(p.read_text())) for p in sorted(self.directory.glob("*.json"))]
        return sorted(found, key=lambda s: (s.market, s.session, s.seq or 0, s.commitment))

    def pending(self, market: str, key_name: str, session: int | None = None) -> list[SealedOrder]:
        """Committed, not yet revealed orders of ``key_name`` (in one session if given)."""
        return [s for s in self.all() if s.market == market and s.key_name == key_name and s.seq is not None
                and not s.revealed and (session is None or s.session == session)]
