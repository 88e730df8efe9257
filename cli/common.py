"""What every CLI command shares: where the wallet lives, the node client, amounts, errors."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.client import DEFAULT_NODE, NodeClient
from node.keys import KeyPair, is_address
from node.keystore import Keystore, read_password

TOKEN_DECIMALS = 6


class CliError(Exception):
    """An error shown to the user as one line; ``code`` is the node's error code if any."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


@dataclass
class Context:
    home: Path
    node_url: str
    ca_file: str | None = None  # for https:// nodes; None: $FLEXLEDGER_CA_FILE or the system's CAs

    @classmethod
    def from_args(cls, args) -> "Context":
        home = Path(args.home or os.environ.get("FLEXLEDGER_HOME") or Path.home() / ".flexledger")
        return cls(home, args.node or os.environ.get("FLEXLEDGER_NODE") or DEFAULT_NODE, args.ca_file)

    @property
    def keystore(self) -> Keystore:
        return Keystore(self.home / "keys")

    @property
    def client(self) -> NodeClient:
        return NodeClient(self.node_url, ca_file=self.ca_file)

    def unlock(self, name: str) -> KeyPair:
        return self.keystore.load(name, read_password())

    def resolve_address(self, who: str) -> str:
        """An address as given, or the address of the key with that name."""
        if is_address(who):
            return who
        if who.startswith("0x"):
            raise CliError(f"not an address: {who!r} (expected 0x and 40 lowercase hex digits)")
        return self.keystore.info(who)["address"]

    def token(self) -> str:
        return self.client.contracts()["token"]


def parse_amount(text: str) -> int:
    """Token amount as text ('12', '0.5') to micro-units; no floats involved."""
    whole, _, fraction = text.strip().partition(".")
    if not whole.isdigit() and not (whole == "" and fraction):
        raise CliError(f"invalid amount {text!r}: use a positive number like 12 or 0.25")
    if fraction and (not fraction.isdigit() or len(fraction) > TOKEN_DECIMALS):
        raise CliError(f"invalid amount {text!r}: at most {TOKEN_DECIMALS} decimal places")
    micro = int(whole or "0") * 10**TOKEN_DECIMALS + int(fraction.ljust(TOKEN_DECIMALS, "0") or "0")
    if micro <= 0:
        raise CliError(f"invalid amount {text!r}: must be more than zero")
    return micro


def format_amount(micro: int) -> str:
    sign = "-" if micro < 0 else ""
    whole, fraction = divmod(abs(micro), 10**TOKEN_DECIMALS)
    return f"{sign}{whole}.{fraction:0{TOKEN_DECIMALS}d}"


def parse_value(text: str) -> Any:
    """A contract argument from the command line: JSON if it parses (numbers, lists), else text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, float):
        raise CliError(f"argument {text!r}: floats are not allowed, use integer units")
    return value


def print_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2))


def require_ok(response: dict) -> dict:
    """The receipt of a committed tx; CliError with its error code if it failed."""
    receipt = response.get("receipt")
    if receipt is None:
        return {}
    if receipt["status"] != "ok":
        raise CliError(f"transaction {response['tx_hash']} failed: {receipt['error']}", receipt["error_code"])
    return receipt
