"""Running contract calls: ``run_call`` for transactions, queries and deploy-time init.

A ``Ctx`` is the context of one contract on the call stack: host, shared gas
meter, its address and its caller.  Cross-contract calls push a new Ctx;
calling a contract already on the stack is refused (``reentrancy``), as is a
stack deeper than MAX_CALL_DEPTH (``call_depth``).  Nothing is caught inside
a transaction: the first error ends it and the node reverts its writes.
Every exception leaving this module is a VMError.
"""

from __future__ import annotations

from contracts.errors import VMError
from contracts.gas import CROSS_CALL_GAS, RESULT_BYTE_GAS, UNIT_GAS, GasMeter, units
from contracts.hostapi import host_call
from contracts.limits import (MAX_CALL_DEPTH, MAX_FRAMES, MAX_NESTING, MAX_QUERY_RESULT_BYTES,
                             MAX_RESULT_BYTES, MAX_VALUE_DEPTH)
from contracts.program import Function
from contracts.stack import ensure_headroom
from contracts.values import check_text, copy_value

# Python frames one transaction may need: per contract frame, a few per nesting level.
PYTHON_FRAMES = MAX_FRAMES * (3 * MAX_NESTING + 12) + MAX_CALL_DEPTH * 12 + 3 * MAX_VALUE_DEPTH


class Ctx:
    """One contract's view of the running transaction."""

    __slots__ = ("host", "gas", "address", "caller", "read_only", "depth", "stack")

    def __init__(self, host, gas: GasMeter, address: str, caller: str, read_only: bool,
                 depth: int, stack: list[str]) -> None:
        self.host = host
        self.gas = gas
        self.address = address
        self.caller = caller
        self.read_only = read_only
        self.depth = depth      # contract function frames on the whole stack
        self.stack = stack      # addresses of the contracts on the call stack

    def call_contract(self, address: str, function: str, args: list) -> object:
        """call(address, function, *args) from contract code."""
        self.gas.charge(CROSS_CALL_GAS)
        if len(self.stack) >= MAX_CALL_DEPTH:
            raise VMError("call_depth", f"more than {MAX_CALL_DEPTH} contracts on the call stack")
        if address in self.stack:
            raise VMError("reentrancy", f"contract {address[:64]!a} is already on the call stack")
        entry = _entry(self.host, address, function, deploy=False)
        copies = [copy_value(self.gas, arg) for arg in args]
        self.gas.charge(UNIT_GAS * units(sum(size for _, size in copies)))
        callee = Ctx(self.host, self.gas, address, self.address, self.read_only, self.depth,
                     self.stack)
        self.stack.append(address)
        result = entry.call(callee, entry.sig.bind_values(function, [v for v, _ in copies]))
        self.stack.pop()
        return result


def _entry(host, address: str, function: str, deploy: bool) -> Function:
    program = host_call(host.get_program, address)
    if program is None:
        raise VMError("contract_not_found", f"no contract at {str(address)[:64]!a}")
    return program.entry(function, deploy)


def _import_args(gas: GasMeter, args: object) -> list:
    if not isinstance(args, (list, tuple)):
        raise VMError("bad_argument", "arguments must be a list")
    values = []
    for index, arg in enumerate(args):
        try:
            value = copy_value(gas, arg)[0]
            check_text(value)
            values.append(value)
        except VMError as exc:
            if exc.code in ("out_of_gas", "out_of_memory"):
                raise
            raise VMError("bad_argument", f"argument {index + 1}: {exc.message}") from None
    return values


def _export_result(gas: GasMeter, result: object, read_only: bool) -> object:
    """The call's result as the receipt (or query answer) keeps it: bounded and paid per byte."""
    limit = MAX_QUERY_RESULT_BYTES if read_only else MAX_RESULT_BYTES
    result, size = copy_value(gas, result)
    if size > limit:
        raise VMError("result_too_large", f"the result is larger than {limit} bytes")
    gas.charge(RESULT_BYTE_GAS * size)
    return result


# Python exceptions escaping compiled code, as VMErrors whose text never depends on the
# Python version (CPython's own messages do).
_CONVERSIONS = (
    (RecursionError, "recursion_limit", "Python stack exhausted"),
    (MemoryError, "out_of_memory", "the node ran out of memory running the call"),
    (TypeError, "type_error", "operation not supported for these value types"),
    (OverflowError, "int_overflow", "integer too large for this operation"),
    (Exception, "runtime_error", "the operation failed"),
)


def _convert(exc: BaseException) -> VMError:
    return next(VMError(code, message) for kind, code, message in _CONVERSIONS
                if isinstance(exc, kind))


def run_call(host, address: str, function: str, args: list, caller: str, gas: GasMeter,
             read_only: bool = False, deploy: bool = False) -> object:
    """Call public ``function`` of the contract at ``address`` with ``args``.

    ``caller`` is the transaction signer (chain.caller); ``gas`` is charged in
    place.  ``read_only`` (queries) refuses storage writes and events.
    ``deploy=True`` is how the node runs ``init`` when it deploys a contract;
    ``init`` cannot be called any other way.  Raises VMError; the node then
    reverts the writes of the transaction.
    """
    ensure_headroom(PYTHON_FRAMES)
    try:
        entry = _entry(host, address, function, deploy)
        bound = entry.sig.bind_values(function, _import_args(gas, args))
        ctx = Ctx(host, gas, address, caller, read_only, 0, [address])
        return _export_result(gas, entry.call(ctx, bound), read_only)
    except VMError:
        raise
    except (Exception, MemoryError) as exc:
        raise _convert(exc) from None
