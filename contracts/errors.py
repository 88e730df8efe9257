"""Error types of the contract compiler and the VM.

Both carry a stable snake_case ``code`` (what the node puts in receipts and the
API returns) and a human ``message``.  ``CompileError`` also carries the source
line; ``str()`` of it reads ``"line 3: floats are not allowed"``.
"""

from __future__ import annotations


class ContractError(Exception):
    """Base class: an error with a machine-readable code and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


class CompileError(ContractError):
    """The contract source was rejected by the parser, the checker or the compiler.

    ``message`` is the same on every Python version (receipts carry it); ``detail`` is
    Python's own parser message, which is not, so it is only shown to people (``str()``).
    """

    def __init__(self, code: str, message: str, lineno: int, detail: str = "") -> None:
        super().__init__(code, message)
        self.lineno = lineno
        self.detail = detail
        self.args = (code, message, lineno)

    def __str__(self) -> str:
        return f"line {self.lineno}: {self.message}" + (f" ({self.detail})" if self.detail else "")


class VMError(ContractError):
    """A contract call failed; the node reverts the writes of the transaction."""

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
