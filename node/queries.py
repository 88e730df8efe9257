"""Read-only contract queries (``POST /query``), run off the event loop that drives consensus.

A query runs on one of ``workers`` threads against a ``ReadView`` of the head taken when it
was accepted, so the blocks the loop commits meanwhile never change what it reads. At most
``workers`` queries run and ``queue`` more wait; any further one is refused with ``busy``
(503). A query not finished ``timeout`` seconds after it was accepted is stopped: the loop
poisons its gas meter, and the interpreter, which checks the meter at every step, ends it
with ``query_timeout``. Threads share the interpreter lock, but its switch interval (5 ms)
hands the loop the lock often enough to keep voting and answering while queries run.
"""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from contracts.errors import VMError
from contracts.gas import GasMeter
from node.chain import ZERO_ADDRESS, Chain
from node.errors import ApiError
from node.jsonvalues import JsonValueError, from_json_value
from node.keys import is_address
from node.readview import ReadView

RESTOP_INTERVAL = 0.05  # seconds between poisonings of a stopped query's meter, until it ends


@dataclass(frozen=True)
class QueryLimits:
    gas_limit: int = 5_000_000  # default and maximum gas of one query
    timeout: float = 2.0        # seconds from acceptance to a query_timeout
    workers: int = 2            # queries running at once
    queue: int = 32             # queries waiting for a worker; more are refused with busy


@dataclass(frozen=True)
class QueryRequest:
    contract: str
    function: str
    args: list
    caller: str
    gas_limit: int

    @classmethod
    def from_json(cls, doc: dict, max_gas: int) -> "QueryRequest":
        """The request in a ``POST /query`` body; ``ApiError`` (400) names the first bad field."""
        contract = _address(doc.get("contract"), "contract")
        function = doc.get("function")
        if not isinstance(function, str) or not function:
            raise ApiError("bad_request", "function must be the name of a contract function")
        try:
            args = from_json_value(doc.get("args", []))
        except JsonValueError as exc:
            raise ApiError("bad_argument", str(exc)) from None
        if not isinstance(args, list):
            raise ApiError("bad_argument", "args must be an array")
        caller = _address(doc.get("caller", ZERO_ADDRESS), "caller")
        gas_limit = doc.get("gas_limit", max_gas)
        if type(gas_limit) is not int or not 1 <= gas_limit <= max_gas:
            raise ApiError("bad_request", f"gas_limit must be a whole number from 1 to {max_gas} "
                                          f"(this node's query gas limit), not {_brief(gas_limit)}")
        return cls(contract, function, args, caller, gas_limit)


def _address(value: object, field: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise ApiError("bad_address", f"{field} must be an address (0x and 40 lowercase hex digits), "
                                      f"not {_brief(value)}")
    return value


def _brief(value: object) -> str:
    """What was sent, for an error message: a scalar cut short, or the kind of container."""
    if isinstance(value, (list, dict)):
        return "an array" if isinstance(value, list) else "an object"
    text = repr(value)
    return text if len(text) <= 50 else text[:47] + "..."


@dataclass(frozen=True)
class QueryResult:
    value: object
    gas_used: int
    height: int


class StoppableGas(GasMeter):
    """A gas meter that another thread can stop: the next charge ends the query."""

    __slots__ = ("timeout", "stopped")

    def __init__(self, limit: int, timeout: float):
        super().__init__(limit)
        self.timeout = timeout
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True
        self.remaining = -1

    def exhaust(self) -> None:
        if self.stopped:
            self.remaining = 0
            raise VMError("query_timeout", f"the query ran longer than {self.timeout:g} s, "
                                           f"this node's query timeout")
        super().exhaust()


def _execute(view: ReadView, request: QueryRequest, gas: StoppableGas) -> QueryResult:
    """Runs on a worker thread."""
    try:
        value = view.call(request.contract, request.function, request.args, request.caller, gas)
    except MemoryError:
        raise VMError("out_of_memory", "the query needed more memory than the node could give it") from None
    return QueryResult(value, gas.used, view.head.height)


class QueryRunner:
    """Runs queries on worker threads; ``run`` and ``close`` are called on the event loop."""

    def __init__(self, chain: Chain, limits: QueryLimits = QueryLimits()):
        self.chain = chain
        self.limits = limits
        self._pool = ThreadPoolExecutor(limits.workers, thread_name_prefix="query")
        self._slots = threading.BoundedSemaphore(limits.workers + limits.queue)
        self._meters: set[StoppableGas] = set()  # of the queries accepted and not finished

    async def run(self, request: QueryRequest) -> QueryResult:
        """The query's result; ``VMError`` if the call failed, ``ApiError`` busy if too many are waiting."""
        view = self.chain.read_view()
        if not self._slots.acquire(blocking=False):
            view.close()
            raise ApiError("busy", f"{self.limits.workers} queries are running and {self.limits.queue} waiting; "
                                   f"try again shortly", 503)
        gas = StoppableGas(request.gas_limit, self.limits.timeout)
        self._meters.add(gas)
        try:
            future = self._pool.submit(_execute, view, request, gas)
        except BaseException:
            self._finished(view, gas)
            raise
        future.add_done_callback(lambda _: self._finished(view, gas))
        asyncio.get_running_loop().call_later(self.limits.timeout, self._stop_until_done, gas, future)
        return await asyncio.wrap_future(future)

    def _finished(self, view: ReadView, gas: StoppableGas) -> None:
        """On the thread that ran the query (or the loop, if it never ran)."""
        view.close()
        self._meters.discard(gas)
        self._slots.release()

    def _stop_until_done(self, gas: StoppableGas, future: Future) -> None:
        # The interpreter updates ``remaining`` without a lock, so one poisoning can be
        # overwritten by its own subtraction in flight: repeat until the query has ended.
        if not future.done():
            gas.stop()
            asyncio.get_running_loop().call_later(RESTOP_INTERVAL, self._stop_until_done, gas, future)

    def close(self) -> None:
        """Stop every query and wait for the workers: call before the chain's store closes."""
        for gas in list(self._meters):
            gas.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
