"""Compiled contracts: ``Program`` (what the node caches) and its ``Function``s.

A Program is immutable and keeps no state between calls, so one instance
can serve every call of a contract, on any thread.  The node may cache it
by ``code_hash`` (SHA-256 of the UTF-8 source).
"""

from __future__ import annotations

import hashlib
from types import MappingProxyType

from contracts.errors import VMError
from contracts.gas import CALL_GAS
from contracts.limits import MAX_FRAMES
from contracts.runtime import UNBOUND
from contracts.signature import Signature

INIT = "init"


def code_hash(source: str) -> bytes:
    return hashlib.sha256(source.encode("utf-8")).digest()


def is_public(name: str) -> bool:
    return not name.startswith("_")


class Function:
    """One contract function.  Frame slot 0 holds the return value, then params."""

    __slots__ = ("name", "sig", "lineno", "body", "pad")

    def __init__(self, name: str, sig: Signature, lineno: int) -> None:
        self.name = name
        self.sig = sig
        self.lineno = lineno
        self.body = None
        self.pad: list = []

    @property
    def public(self) -> bool:
        return is_public(self.name)

    def set_body(self, body, frame_size: int) -> None:
        self.body = body
        self.pad = [UNBOUND] * (frame_size - 1 - len(self.sig.params))

    def enter(self, c, frame: list) -> object:
        """Run the body on a frame built by the caller: [None, *args, *pad]."""
        depth = c.depth + 1
        if depth > MAX_FRAMES:
            raise VMError("recursion_limit", f"more than {MAX_FRAMES} nested function calls")
        c.depth = depth
        c.gas.charge(CALL_GAS)
        self.body(c, frame)
        c.depth = depth - 1
        return frame[0]

    def call(self, c, args: list) -> object:
        frame = [None, *args]
        frame += self.pad
        return self.enter(c, frame)


class Program:
    """A compiled contract: functions in source order and module constants."""

    def __init__(self, source: str, functions: dict[str, Function],
                 constants: dict[str, object]) -> None:
        self.source = source
        self.code_hash = code_hash(source)
        self.functions = MappingProxyType(functions)
        self.constants = MappingProxyType(constants)

    def public_functions(self) -> list[str]:
        """Names callable with run_call (sorted; ``init`` excluded: it runs at deploy)."""
        return sorted(name for name in self.functions if is_public(name) and name != INIT)

    def has_init(self) -> bool:
        """Whether the contract defines ``init`` (run once, at deploy, with the deploy args)."""
        return INIT in self.functions

    def entry(self, name: object, deploy: bool = False) -> Function:
        """The function an outside call may enter, or VMError("no_such_function")."""
        function = self.functions.get(name) if isinstance(name, str) else None
        if function is None or not function.public or (name == INIT) != deploy:
            reason = "init runs only at deploy" if name == INIT else "no public function"
            raise VMError("no_such_function", f"{reason}: {str(name)[:64]!a}")
        return function
