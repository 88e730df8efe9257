"""Invariants of a testnet after faults: no fork, nothing acknowledged lost, supply conserved."""
from __future__ import annotations

from node.client import NodeClient


class InvariantViolation(AssertionError):
    """A safety property does not hold; the message says which and where."""


def check_no_fork(clients: dict[str, NodeClient]) -> int:
    """Every node has the same block hash and state root at every height they share."""
    heights = {name: c.get("/health")["height"] for name, c in clients.items()}
    common = min(heights.values())
    for height in range(1, common + 1):
        seen: dict[tuple[str, str], list[str]] = {}
        for name, client in clients.items():
            block = client.get(f"/block/{height}", txs="hashes")
            seen.setdefault((block["hash"], block["header"]["state_root"]), []).append(name)
        if len(seen) > 1:
            raise InvariantViolation(f"fork at height {height}: {seen}")
    return common


def check_acknowledged(clients: dict[str, NodeClient], tx_hashes: list[bytes]) -> None:
    for name, client in clients.items():
        for tx_hash in tx_hashes:
            if client.get(f"/tx/{tx_hash.hex()}").get("status") != "committed":
                raise InvariantViolation(f"acknowledged tx {tx_hash.hex()} is not committed on {name}")


def check_supply(client: NodeClient, token: str, holders: list[str], expected_supply: int) -> None:
    supply = client.query(token, "total_supply")
    if supply != expected_supply:
        raise InvariantViolation(f"total supply {supply}, expected {expected_supply}")
    held = sum(client.query(token, "balance_of", [h]) for h in holders)
    if held != supply:
        raise InvariantViolation(f"balances of all holders sum to {held}, total supply is {supply}")
