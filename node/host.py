"""The node's implementation of the VM ``Host`` protocol, over a state overlay.

Storage keys are text (UTF-8 in the state key) and values are canonically encoded VM
values. Queries use a read-only host: any write raises ``write_in_query``.
"""
from __future__ import annotations

import threading
from typing import Any

from contracts.compiler import compile_contract
from contracts.errors import VMError
from node import statekeys
from node.encoding import EncodingError, decode, encode
from node.receipt import Event
from node.state import Overlay

PROGRAM_CACHE_SIZE = 256


class ProgramCache:
    """Compiled programs by source text (compilation is deterministic, so caching is safe).

    Keyed by the text itself, which the program keeps anyway: a dict lookup is cheaper than
    hashing the source with SHA-256 on every contract call. Block execution and the query
    threads share one cache: programs are immutable, and a lock guards eviction and insertion
    (compiling happens outside it, so a slow compile never holds up another thread).
    """

    def __init__(self) -> None:
        self._programs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, source: str):
        program = self._programs.get(source)
        if program is None:
            program = compile_contract(source)
            with self._lock:
                if source not in self._programs and len(self._programs) >= PROGRAM_CACHE_SIZE:
                    self._programs.pop(next(iter(self._programs)))
                program = self._programs.setdefault(source, program)
        return program


class ChainHost:
    def __init__(self, overlay: Overlay, programs: ProgramCache, *, height: int, time: int,
                 origin: str, max_value_bytes: int, read_only: bool = False):
        self.overlay = overlay
        self.programs = programs
        self.block_height = height
        self.block_time = time
        self.origin = origin
        self.max_value_bytes = max_value_bytes
        self.read_only = read_only
        self.events: list[Event] = []

    def get_program(self, address: str):
        raw = self.overlay.get(statekeys.code(address))
        return None if raw is None else self.programs.get(raw.decode())

    def storage_get(self, address: str, key: str) -> Any:
        raw = self.overlay.get(statekeys.storage(address, key))
        return None if raw is None else decode(raw)

    def _check_writable(self) -> None:
        if self.read_only:
            raise VMError("write_in_query", "a read-only query cannot change storage or emit events")

    def _encode(self, value: Any, what: str) -> bytes:
        try:
            data = encode(value)
        except EncodingError as exc:
            raise VMError("type_error", f"cannot store {what}: {exc}") from None
        if len(data) > self.max_value_bytes:
            raise VMError("value_too_large", f"{what} is {len(data)} bytes, the limit is {self.max_value_bytes}")
        return data

    def storage_set(self, address: str, key: str, value: Any) -> int:
        self._check_writable()
        data = self._encode(value, f"value of key {key!r}")
        state_key = statekeys.storage(address, key)
        self.overlay.set(state_key, data)
        return len(key.encode()) + len(data)

    def storage_delete(self, address: str, key: str) -> None:
        self._check_writable()
        self.overlay.delete(statekeys.storage(address, key))

    def storage_scan(self, address: str, prefix: str, start_after: str | None, limit: int) -> list[tuple[str, Any]]:
        base = statekeys.storage_prefix(address)
        start = base + start_after.encode() if start_after is not None else None
        out = []
        for key, raw in self.overlay.scan(base + prefix.encode(), start):
            if len(out) >= limit:
                break
            out.append((key[len(base):].decode(), decode(raw)))
        return out

    def emit(self, address: str, name: str, data: dict) -> int:
        self._check_writable()
        size = len(self._encode(data, f"event {name}"))
        self.events.append(Event(address, name, data))
        return size
