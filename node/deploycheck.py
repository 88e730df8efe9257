"""Compiling a deploy's source before the mempool takes it: off the event loop, with a time bound.

Compiling is pure CPU work that grows with the source (up to ``max_tx_bytes``, 128 kB: about
a second for the largest sources). On the event loop it would stall consensus and the API,
so it runs in one worker thread, and an answer that takes longer than
``COMPILE_TIMEOUT_S`` = 5 s refuses the deploy with ``compile_timeout``. (Python cannot stop
a thread: a compile that timed out still finishes in the background, and deploys queued
behind it wait; only accounts on the deployer list can submit deploys at all.)

A source that fails to compile is refused with the compiler's own code (e.g.
``float_not_allowed``, HTTP 422). This check is a courtesy to the deployer: block
execution compiles again and charges the deploy's intrinsic gas either way. The node
compiles through its thread-safe program cache (node/host.py), so a source that compiled
here is not compiled again when its block runs.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from contracts.errors import CompileError
from node.errors import ApiError

COMPILE_TIMEOUT_S = 5.0


class DeployCompiler:
    def __init__(self, compile_source: Callable[[str], object], timeout_s: float = COMPILE_TIMEOUT_S):
        self.compile_source = compile_source
        self.timeout_s = timeout_s
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deploy-compile")

    async def check_compiles(self, source: str) -> None:
        """Return once ``source`` compiled; raise ApiError with the compiler's code or ``compile_timeout``."""
        job = asyncio.get_running_loop().run_in_executor(self._worker, self.compile_source, source)
        try:
            await asyncio.wait_for(job, self.timeout_s)
        except asyncio.TimeoutError:
            raise ApiError("compile_timeout", f"the contract source did not compile within {self.timeout_s:g} s",
                           422) from None
        except CompileError as exc:
            raise ApiError(exc.code, str(exc), 422) from None
