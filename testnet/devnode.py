"""Run a single-authority dev node as a real OS process (for the demo and the tests).

``DevNode`` initialises a node home in a directory, starts ``flexledger node start --dev``
on a free loopback port, waits until the API answers, and stops (or kills) the process.
It also runs CLI commands against that node as subprocesses, exactly as a user would.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from node.client import ClientError, NodeClient

DEV_PASSWORD = "dev-password"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (a test's or testnet's loopback address)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class DevNode:
    def __init__(self, home: Path, block_interval: float = 0.2, password: str = DEV_PASSWORD):
        self.home = Path(home)
        self.port = free_port()
        self.block_interval = block_interval
        inherited = {k: v for k, v in os.environ.items() if k != "FLEXLEDGER_PASSWORD_FILE"}  # it would win
        self.env = {**inherited, "FLEXLEDGER_HOME": str(self.home), "FLEXLEDGER_PASSWORD": password,
                    "FLEXLEDGER_NODE": self.url}
        self.process: subprocess.Popen | None = None
        self.log_path = self.home / "node.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def client(self) -> NodeClient:
        return NodeClient(self.url, timeout=30)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``flexledger ARGS`` against this node; raise with its stderr if it fails and ``check``."""
        result = subprocess.run([sys.executable, "-m", "cli.main", *args], env=self.env, capture_output=True,
                                text=True, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"flexledger {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def init(self, meter_lead: int = 0) -> None:
        self.cli("node", "init", "--dev", "--port", str(self.port), "--block-interval", str(self.block_interval),
                 "--meter-lead", str(meter_lead))

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "cli.main", "node", "start", "--dev", "--port",
                                         str(self.port)], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node exited with {self.process.returncode}; log:\n{self.log_path.read_text()[-3000:]}")
            try:
                self.client.get("/health")
                return
            except ClientError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"node did not answer within {timeout:g} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def kill(self) -> None:
        """kill -9: no chance to clean up, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def __enter__(self) -> "DevNode":
        self.init()
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
