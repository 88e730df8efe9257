"""`make demo` until the full market demo lands: a dev node, token transfers from the CLI, balances.

Starts a single-authority node in a temporary directory, creates two prosumer keys, sends
them tokens from the genesis issuer and between each other with ``flexledger wallet send``,
prints every balance with ``flexledger wallet balance``, and stops the node.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from testnet.devnode import DevNode


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def run_cli(node: DevNode, *args: str) -> None:
    print(f"$ flexledger {' '.join(args)}")
    print(node.cli(*args).stdout.rstrip())


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="flexledger-demo-") as tmp:
        node = DevNode(Path(tmp), block_interval=0.5)
        step("initialising a single-authority dev chain (genesis deploys the settlement token)")
        node.init()
        step(f"starting the node on {node.url}")
        node.start()
        try:
            run_cli(node, "chain", "status")
            step("creating prosumer keys")
            for name in ("alice", "bob"):
                run_cli(node, "keys", "new", name)
            step("transfers, each committed before the command returns")
            run_cli(node, "wallet", "send", "alice", "250", "--key", "issuer")
            run_cli(node, "wallet", "send", "bob", "100.5", "--key", "issuer")
            run_cli(node, "wallet", "send", "bob", "40.25", "--key", "alice")
            step("balances")
            for name in ("issuer", "alice", "bob"):
                run_cli(node, "wallet", "balance", name)
            step("alice's history")
            run_cli(node, "wallet", "history", "alice")
        finally:
            node.stop()
    print("\ndemo finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
