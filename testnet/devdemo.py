"""`make demo` until the full market demo lands: a 4-validator chain, CLI transfers, a crash.

Starts a local testnet of four validators (the DSO and three aggregators) as separate
processes, sends token transfers with the `flexledger` CLI, kills one aggregator's validator
and keeps transacting, restarts it and shows it catch up, then prints every node's head to
show they agree. Everything lives in a temporary directory that is removed at the end.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testnet.layout import DEFAULT_PASSWORD, TestnetLayout
from testnet.manager import Testnet


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


class Demo:
    def __init__(self, directory: Path):
        self.directory = directory
        self.env = {**os.environ, "FLEXLEDGER_PASSWORD": DEFAULT_PASSWORD}

    def cli(self, *args: str, node: tuple[str, str] | None = None) -> str:
        """Run the CLI as a user would; ``node`` is (name, API URL) of the node to talk to."""
        prefix = ["--home", str(self.directory / "wallet")]
        if node:
            prefix += ["--node", node[1]]
        print(f"$ flexledger {' '.join(args)}" + (f"    [via {node[0]}'s node]" if node else ""), flush=True)
        result = subprocess.run([sys.executable, "-m", "cli.main", *prefix, *args], env=self.env,
                                capture_output=True, text=True, timeout=180)
        if result.returncode != 0:
            raise SystemExit(f"demo step failed: {result.stderr.strip()}")
        print(result.stdout.rstrip(), flush=True)
        return result.stdout


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="flexledger-demo-") as tmp:
        demo = Demo(Path(tmp))
        step("starting 4 validators (DSO + 3 aggregators), each its own process on 127.0.0.1")
        demo.cli("testnet", "up", "--dir", tmp, "--validators", "4")
        net = Testnet(TestnetLayout.load(Path(tmp)))
        try:
            api = {n.name: (n.name, n.api_url) for n in net.layout.nodes}
            step("creating prosumer keys")
            demo.cli("keys", "new", "alice")
            demo.cli("keys", "new", "bob")
            step("transfers from the token issuer, submitted to the DSO's node")
            demo.cli("wallet", "send", "alice", "250", "--key", "issuer", node=api["dso"])
            demo.cli("wallet", "send", "bob", "100.5", "--key", "issuer", node=api["dso"])
            step("killing aggregator agg2's validator (kill -9): 3 of 4 still finalize")
            demo.cli("testnet", "kill", "agg2", "--dir", tmp)
            demo.cli("wallet", "send", "bob", "40.25", "--key", "alice", node=api["agg1"])
            step("restarting agg2: it catches up by block sync")
            demo.cli("testnet", "restart", "agg2", "--dir", tmp)
            target = net.height("dso")
            net.wait_for_height(target, 60, ["agg2"])
            step("balances, read from agg2's node")
            for name in ("issuer", "alice", "bob"):
                demo.cli("wallet", "balance", name, node=api["agg2"])
            demo.cli("wallet", "history", "alice", node=api["agg2"])
            step("every node's view of the chain")
            time.sleep(0.5)
            demo.cli("testnet", "status", "--dir", tmp)
            heads = {name: net.client(name).get(f"/block/{target}")["hash"] for name in api}
            agree = len(set(heads.values())) == 1
            print(f"block {target} on every node: {next(iter(heads.values()))[:16]}… "
                  f"({'all four agree' if agree else 'NODES DISAGREE'})")
            if not agree:
                return 1
        finally:
            net.down()
    print("\ndemo finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
