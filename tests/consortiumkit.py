"""A consortium on one host, made as its parties make it: the `flexledger` CLI in separate processes.

Each party has its own directory (node home, wallet) and its own loopback address (127.0.0.2,
127.0.0.3, ...), so nothing can lean on 127.0.0.1 or on a shared home; the only things that
pass between parties are what they would mail each other: ``node show-id --json`` files,
the finalized ``genesis.json`` and its printed hash.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from node.client import ClientError, NodeClient
from testnet.devnode import free_port
from tests.oraclekit import wait_for

PASSWORD = "consortium test password"


def flexledger(*argv: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """One `flexledger` command, as its operator would type it; the keys' password from the environment."""
    done = subprocess.run([sys.executable, "-m", "cli.main", *argv], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "FLEXLEDGER_PASSWORD": PASSWORD}, cwd=cwd)
    if check and done.returncode != 0:
        raise AssertionError(f"flexledger {' '.join(argv)} failed: {done.stderr or done.stdout}")
    return done


def printed_hash(output: str) -> str:
    return re.search(r"genesis sha256: ([0-9a-f]{64})", output).group(1)


@dataclass
class Party:
    """One organisation: its directory, its machine's address, its node's ports."""

    name: str
    host: str
    root: Path
    p2p_port: int = 0
    api_port: int = 0
    process: subprocess.Popen | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.p2p_port, self.api_port = free_port(self.host), free_port(self.host)

    @property
    def home(self) -> Path:
        return self.root / "node"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return flexledger("--home", str(self.root / "wallet"), "--node", self.api_url, *argv, cwd=self.root,
                          check=check)

    def init_node(self, *extra: str) -> dict:
        """``node init`` on this party's machine; the identity it would send to the coordinator."""
        self.run("node", "init", "--node-home", str(self.home), "--p2p-listen", f"{self.host}:{self.p2p_port}",
                 "--api-listen", f"{self.host}:{self.api_port}", *extra)
        return json.loads(self.run("node", "show-id", "--node-home", str(self.home), "--json").stdout)

    def start(self, *extra: str) -> None:
        log = open(self.root / "node.log", "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "cli.main", "node", "start", "--node-home",
                                         str(self.home), *extra], stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=self.root,
                                        env={**os.environ, "FLEXLEDGER_PASSWORD": PASSWORD})
        log.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def client(self) -> NodeClient:
        return NodeClient(self.api_url, timeout=5)

    def height(self) -> int | None:
        try:
            return self.client().get("/health")["height"]
        except (ClientError, OSError):
            return None

    def log(self) -> str:
        return (self.root / "node.log").read_text(errors="replace")


def wait_for_height(parties: list[Party], height: int, timeout: float) -> None:
    wait_for(lambda: all((p.height() or 0) >= height for p in parties), timeout,
             f"every node of {[p.name for p in parties]} at height {height} "
             f"(now {[p.height() for p in parties]})")
