"""In-memory ``Host`` for the VM unit tests and the VM bench (the node provides the real one).

Storage is a dict per contract address.  Values are stored and returned as
is: the VM hands the host its own copy on write and copies again on read, and
the tests check that.  Sizes for gas are ``len(key) + len(repr(value))``;
scans order keys by their UTF-8 bytes.  ``transact`` mimics the node: a
failed call rolls back its writes and events.
"""

from __future__ import annotations

import bisect
import copy
import hashlib

from contracts import GasMeter, VMError, compile_contract, run_call
from contracts.stack import ensure_headroom
from contracts.vm import PYTHON_FRAMES

# The VM raises the recursion limit on first use; doing it at import keeps hypothesis
# from warning that the limit changed during a test.
ensure_headroom(PYTHON_FRAMES)

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
CAROL = "0x" + "c3" * 20


def contract_address(name: str) -> str:
    return "0x" + hashlib.sha256(b"genesis:" + name.encode()).hexdigest()[:40]


class FakeHost:
    def __init__(self, height: int = 7, time: int = 1_700_000_000, origin: str = ALICE) -> None:
        self.block_height = height
        self.block_time = time
        self.origin = origin
        self.programs: dict = {}
        self.storage: dict[str, dict[str, object]] = {}
        self.events: list[tuple[str, str, dict]] = []
        self._ordered: dict[str, list[bytes]] = {}   # sorted encoded keys, per address

    # -- Host protocol -------------------------------------------------------------------

    def get_program(self, address):
        return self.programs.get(address)

    def storage_get(self, address, key):
        return self.storage.get(address, {}).get(key)

    def storage_set(self, address, key, value):
        self._ordered.pop(address, None)
        self.storage.setdefault(address, {})[key] = value
        return len(key.encode()) + len(repr(value))

    def storage_delete(self, address, key):
        self._ordered.pop(address, None)
        self.storage.get(address, {}).pop(key, None)

    def storage_scan(self, address, prefix, start_after, limit):
        stored = self.storage.get(address, {})
        if address not in self._ordered:
            self._ordered[address] = sorted(k.encode() for k in stored)
        ordered, low = self._ordered[address], prefix.encode()
        if start_after is not None:
            low = max(low, start_after.encode() + b"\0")
        out = []
        for key in ordered[bisect.bisect_left(ordered, low):]:
            if len(out) == limit or not key.startswith(prefix.encode()):
                break
            out.append((key.decode(), stored[key.decode()]))
        return out

    def emit(self, address, name, data):
        self.events.append((address, name, data))
        return len(name) + len(repr(data))

    # -- test helpers --------------------------------------------------------------------

    def deploy(self, source: str, name: str = "c", args: list | None = None,
               caller: str = ALICE, gas: int = 10_000_000) -> str:
        address = contract_address(name)
        self.programs[address] = program = compile_contract(source)
        if program.has_init():
            run_call(self, address, "init", args or [], caller, GasMeter(gas), deploy=True)
        return address

    def snapshot(self):
        return copy.deepcopy(self.storage), len(self.events)

    def rollback(self, snapshot) -> None:
        self.storage, events = copy.deepcopy(snapshot[0]), snapshot[1]
        self._ordered.clear()
        del self.events[events:]

    def call(self, address: str, function: str, *args, caller: str = ALICE,
             gas: int = 10_000_000, read_only: bool = False):
        return run_call(self, address, function, list(args), caller, GasMeter(gas), read_only)

    def transact(self, address: str, function: str, *args, caller: str = ALICE,
                 gas: int = 10_000_000):
        """Like the node: returns (result, error); on error the writes are rolled back."""
        saved = self.snapshot()
        try:
            return self.call(address, function, *args, caller=caller, gas=gas), None
        except VMError as exc:
            self.rollback(saved)
            return None, exc


def run_source(source: str, function: str = "main", *args, gas: int = 10_000_000):
    """Deploy ``source`` on a fresh host and call ``function``; returns (result, gas used)."""
    host = FakeHost()
    address = host.deploy(source)
    meter = GasMeter(gas)
    result = run_call(host, address, function, list(args), ALICE, meter)
    return result, meter.used
