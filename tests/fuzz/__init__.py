"""Seeded, bounded fuzz tests (hypothesis) and what they share.

A fuzz target is a hypothesis test in this directory, with settings from ``fuzz(examples,
deadline_ms)`` (above or below ``@given``):

- derandomized: the same inputs on every run, so a failure found in CI replays anywhere;
- ``examples`` inputs per run in ``make test`` (the whole directory must stay under 60 s),
  or FLEXLEDGER_FUZZ_EXAMPLES inputs each in ``make fuzz`` (the same inputs, then more);
- no single input may take longer than ``deadline_ms``.

conftest.py counts the inputs every hypothesis test here tries and prints inputs per second
after the run.

A new target (VM programs, say) is a new ``test_fuzz_*.py`` module using ``fuzz``, and
``mutated`` if it starts from valid encodings; ``canonical_values`` generates every kind of
value the canonical encoding has (VM values and more).
"""
from __future__ import annotations

import functools
import inspect
import os
from collections import Counter
from typing import Callable

from hypothesis import HealthCheck, settings, strategies as st

EXAMPLES_ENV = "FLEXLEDGER_FUZZ_EXAMPLES"
TRIED: Counter[str] = Counter()  # target name -> inputs tried in this run


def fuzz(examples: int, deadline_ms: int) -> Callable:
    """Hypothesis settings of a fuzz target (see the module docstring)."""
    longer_run = os.environ.get(EXAMPLES_ENV)
    return settings(derandomize=True, database=None, deadline=deadline_ms,
                    max_examples=int(longer_run) if longer_run else examples,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def counting(test: Callable, name: str) -> Callable:
    """``test`` (a hypothesis inner test, sync or async) counting its calls in TRIED[name]."""
    if inspect.iscoroutinefunction(test):
        @functools.wraps(test)
        async def counted(*args, **kwargs):
            TRIED[name] += 1
            return await test(*args, **kwargs)
    else:
        @functools.wraps(test)
        def counted(*args, **kwargs):
            TRIED[name] += 1
            return test(*args, **kwargs)
    return counted


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**256), 2**256), st.text(max_size=12),
                     st.binary(max_size=12))
_keys = st.one_of(st.text(max_size=6), st.binary(max_size=6), st.integers(-(2**70), 2**70), st.none(),
                  st.tuples(st.integers(), st.text(max_size=3)), st.tuples())
canonical_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
    st.dictionaries(_keys, inner, max_size=4)), max_leaves=40)


@st.composite
def mutated(draw, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid encoding with one to four random edits: flip, insert, delete, or cut the tail."""
    data = bytearray(draw(valid))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(("flip", "insert", "delete", "truncate")))
        if edit == "insert" or not data:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "flip":
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
        elif edit == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return bytes(data)
