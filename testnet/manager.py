"""Running a local testnet: every node its own OS process on loopback, and fault injection.

The process ids live in ``<node home>/node.pid`` (the grid oracle's in
``<oracle home>/oracle.pid``) so that separate ``flexledger testnet`` commands can manage
the same testnet; the oracle is started once the nodes finalize blocks. Faults: kill (SIGKILL), restart, pause (SIGSTOP),
resume (SIGCONT), and partitions, which ask each node (``POST /admin/isolate``) to cut its
links to the nodes outside its group, with the node's admin token. Every process reads the
testnet's password file (``FLEXLEDGER_PASSWORD_FILE``) to unlock its key. A node runs on the
Python interpreter its layout entry names (a consortium whose members run different Python
versions); the grid oracle, and nodes that name none, on the manager's own.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from node.client import ClientError, NodeClient
from node.config import NodeHome
from testnet.layout import NodeEntry, TestnetLayout


STARTUP_GRACE = 20.0  # seconds a freshly started node may take to open its API


def running_pid(pid_file: Path) -> int | None:
    """The process id in ``pid_file`` if that process is running (not exited, not a zombie)."""
    try:
        pid = int(Path(pid_file).read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    try:  # a zombie (exited, not yet reaped) is not running
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().split(") ")[1].startswith("Z"):
                return None
    except (FileNotFoundError, IndexError):
        return None
    return pid


class TestnetError(Exception):
    """A testnet operation that could not be done; the message says why."""


ORACLE = "oracle"  # the process name of the grid oracle


@dataclass(frozen=True)
class Process:
    """How to run one of the testnet's processes (a node or the grid oracle)."""

    name: str
    pid_file: Path
    log_file: Path
    argv: list[str]


class Testnet:
    def __init__(self, layout: TestnetLayout):
        self.layout = layout

    # -- processes -----------------------------------------------------------------------
    def process(self, name: str) -> Process:
        if name == ORACLE:
            if self.layout.oracle is None:
                raise TestnetError("this testnet has no grid oracle")
            home = Path(self.layout.oracle)
            return Process(name, home / "oracle.pid", home / "oracle.log",
                           [sys.executable, "-m", "cli.main", "oracle", "start", "--oracle-home", str(home)])
        entry = self.layout.node(name)
        home = Path(entry.home)
        return Process(name, home / "node.pid", home / "node.log",
                       [entry.python or sys.executable, "-m", "cli.main", "node", "start", "--node-home", str(home)])

    def pid(self, name: str) -> int | None:
        """The process id of the running node (or the oracle), or None."""
        return running_pid(self.process(name).pid_file)

    def start(self, name: str) -> None:
        process = self.process(name)
        if self.pid(name):
            raise TestnetError(f"{name} is already running")
        if not self.layout.password_file.exists():
            raise TestnetError(f"{self.layout.directory} was made by an older FlexLedger (no password file, node keys "
                               f"in plain text): remove it and create the testnet again")
        log = open(process.log_file, "ab")
        env = {**os.environ, "FLEXLEDGER_PASSWORD_FILE": str(self.layout.password_file), "PYTHONUNBUFFERED": "1"}
        child = subprocess.Popen(process.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, env=env)
        log.close()
        process.pid_file.write_text(str(child.pid))

    def _signal(self, name: str, sig: int) -> int:
        pid = self.pid(name)
        if pid is None:
            raise TestnetError(f"{name} is not running")
        os.kill(pid, sig)
        return pid

    def kill(self, name: str) -> None:
        pid = self._signal(name, signal.SIGKILL)
        _wait_gone(pid)
        self.process(name).pid_file.unlink(missing_ok=True)

    def stop(self, name: str, timeout: float = 10.0) -> None:
        pid = self.pid(name)
        if pid is None:
            return
        os.kill(pid, signal.SIGCONT)  # a paused process cannot act on SIGTERM
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid)
        self.process(name).pid_file.unlink(missing_ok=True)

    def restart(self, name: str) -> None:
        if self.pid(name):
            self.kill(name)
        self.start(name)

    def pause(self, name: str) -> None:
        self._signal(name, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self._signal(name, signal.SIGCONT)

    def names(self) -> list[str]:
        """Every process of the testnet: the nodes, then the grid oracle if there is one."""
        return [n.name for n in self.layout.nodes] + ([ORACLE] if self.layout.oracle else [])

    def up(self, timeout: float = 60.0, min_height: int = 2, oracle: bool = True) -> None:
        """Start every node that is not running, wait for finalized blocks, then start the oracle."""
        for entry in self.layout.nodes:
            if not self.pid(entry.name):
                self.start(entry.name)
        self.wait_for_height(min_height, timeout)
        if oracle and self.layout.oracle and not self.pid(ORACLE):
            self.start(ORACLE)

    def down(self) -> None:
        for name in reversed(self.names()):
            self.stop(name)

    # -- observing -------------------------------------------------------------------------
    def client(self, name: str) -> NodeClient:
        return NodeClient(self.layout.node(name).api_url, timeout=5)

    def height(self, name: str) -> int | None:
        try:
            return self.client(name).get("/health")["height"]
        except ClientError:
            return None

    def wait_for_height(self, height: int, timeout: float, names: list[str] | None = None) -> None:
        names = names or [n.name for n in self.layout.nodes]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            heights = {name: self.height(name) for name in names}
            if all(h is not None and h >= height for h in heights.values()):
                return
            for name in names:
                if self.pid(name) is None:
                    raise TestnetError(f"{name} exited; see {self.process(name).log_file}")
            time.sleep(0.2)
        raise TestnetError(f"not every node reached height {height} within {timeout:g} s: {heights}")

    def status(self) -> list[dict]:
        """Per node: committed height and, from its ``/status`` consensus section, the round and
        step it is in, seconds at the height, peers, and the votes it holds for the round
        (``prevotes``/``precommits``: validator name -> block hash prefix or nil). None where a
        node does not answer."""
        rows = []
        for entry in self.layout.nodes:
            row = {"name": entry.name, "address": entry.address, "api": entry.api_url,
                   "running": self.pid(entry.name) is not None}
            try:
                doc = self.client(entry.name).status()
                consensus = doc.get("consensus") or {}
                row.update(height=doc["height"], round=consensus.get("round"), step=consensus.get("step"),
                           since=consensus.get("since"), peers=len(consensus.get("peers", [])),
                           proposer=consensus.get("proposer"), proposal=consensus.get("proposal"),
                           prevotes=consensus.get("prevotes"), precommits=consensus.get("precommits"))
            except ClientError:
                row.update(height=None, round=None, step=None, since=None, peers=None, proposer=None, proposal=None,
                           prevotes=None, precommits=None)
            rows.append(row)
        return rows

    # -- partitions ------------------------------------------------------------------------
    def _isolate(self, entry: NodeEntry, peers: list[str]) -> None:
        token = NodeHome(Path(entry.home)).load_admin_token()
        request = urllib.request.Request(entry.api_url + "/admin/isolate", method="POST",
                                         data=json.dumps({"peers": peers}).encode(),
                                         headers={"Content-Type": "application/json", "X-Admin-Token": token})
        deadline = time.monotonic() + STARTUP_GRACE
        while True:
            try:
                urllib.request.urlopen(request, timeout=5).read()
                return
            except OSError as exc:  # a node that is still starting refuses connections for a moment
                if time.monotonic() > deadline or "refused" not in str(exc):
                    raise TestnetError(f"cannot reach {entry.name} to change its links: {exc}") from None
                time.sleep(0.2)

    def partition(self, groups: list[list[str]]) -> None:
        names = [name for group in groups for name in group]
        for name in names:
            self.layout.node(name)
        if len(set(names)) != len(names):
            raise TestnetError("a node is in two groups")
        for group in groups:
            outside = [n.address for n in self.layout.nodes if n.name not in group]
            for name in group:
                self._isolate(self.layout.node(name), outside)

    def heal(self) -> None:
        for entry in self.layout.nodes:
            if self.pid(entry.name):
                self._isolate(entry, [])


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
            if finished:
                return True
        except ChildProcessError:  # not our child: poll for existence
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    if fh.read().split(") ")[1].startswith("Z"):
                        return True
            except (FileNotFoundError, IndexError):
                return True
        time.sleep(0.05)
    return False
