"""Sentinels shared by the compiled code: unbound locals and control-flow signals.

A compiled statement returns None to fall through, or one of the signals
below; RETURN means the return value has been stored in slot 0 of the frame.
"""

from contracts.errors import VMError


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


UNBOUND = _Sentinel("UNBOUND")
BREAK = _Sentinel("BREAK")
CONTINUE = _Sentinel("CONTINUE")
RETURN = _Sentinel("RETURN")


def unbound(name: str) -> VMError:
    return VMError("runtime_error", f"local variable '{name}' referenced before assignment")
