"""Hostile contract code: every attack of issue #10 on the VM ends with its documented code.

Shared structures, colliding keys, huge allocations, oversized results, messages and
events, and Python's own exceptions: each fails the call deterministically, with the
gas used never above the limit.
"""

import pytest

from contracts import GasMeter, VMError, run_call
from contracts import gas as schedule
from contracts.keyhash import MAX_COLLIDING_KEYS, KeyCollision, KeyGuard, collision_class
from contracts.limits import MAX_MESSAGE_CHARS, MAX_RESULT_BYTES
from contracts.vm import _convert
from tests.vm_host import ALICE, FakeHost

SHARED = "def main():\n    x = [0]\n    for i in range(30):\n        x = [x] * 10\n    y = [x] * 10\n"
P = 2**61 - 1


def fail(source: str, *args, gas: int = 100_000, read_only: bool = False) -> tuple[VMError, GasMeter]:
    host = FakeHost()
    address = host.deploy(source)
    meter = GasMeter(gas)
    with pytest.raises(VMError) as info:
        run_call(host, address, "main", list(args), ALICE, meter, read_only)
    assert meter.used <= gas
    return info.value, meter


@pytest.mark.parametrize("use", ["return x == y", "return x < y", "return x in [1, 2]",
                                 "storage.set('k', x)", "emit('E', {'x': x})", "return x",
                                 "return sorted([x, y])", "return [1].count(x)",
                                 "return call(chain.self, 'main')"])
def test_shared_structures_run_out_of_gas_at_the_limit(use):
    error, meter = fail(SHARED + "    " + use + "\n")
    assert error.code in ("out_of_gas", "reentrancy")
    if error.code == "out_of_gas":
        assert meter.used == meter.limit


def test_colliding_int_keys_are_refused():
    source = ("def main(n):\n    d = {}\n    for k in range(n):\n"
              f"        d[k * {P}] = k\n    return len(d)\n")
    host = FakeHost()
    address = host.deploy(source)
    assert run_call(host, address, "main", [MAX_COLLIDING_KEYS], ALICE, GasMeter(10**6)) == MAX_COLLIDING_KEYS
    error, _ = fail(source, MAX_COLLIDING_KEYS + 1)
    assert (error.code, error.message) == ("key_collision", "more than 8 distinct keys share one hash")


def test_colliding_keys_are_refused_on_every_path_into_a_dict():
    keys = f"[k * {P} for k in range(9)]"
    for build in (f"{{k: 1 for k in {keys}}}", f"dict([(k, 1) for k in {keys}])"):
        error, _ = fail(f"def main():\n    return len({build})\n")
        assert error.code == "key_collision", build
    error, _ = fail("def main(d):\n    return len(d)\n", {k * P: 1 for k in range(9)})
    assert (error.code, error.message) == ("bad_argument",
                                           "argument 1: more than 8 distinct keys share one hash")


def test_collision_classes_are_cpythons_hashes_and_version_independent():
    for key in (0, -1, -2, P, 2**255 - 1, True, (1, 2), (), (True, -1, 2**200)):
        assert collision_class(key) == hash(key)
    assert collision_class(None) == 0xFCA86420          # CPython 3.12+, fixed on every version
    assert collision_class(("a", 1)) is None and collision_class(b"x") is None
    guard = KeyGuard()
    for key in (-1, -2, -1):       # -1 and -2 share a hash in CPython: two keys are fine
        guard.admit(key)
    for k in range(MAX_COLLIDING_KEYS):
        guard.admit(k * P + 5)
    with pytest.raises(KeyCollision):
        guard.admit(MAX_COLLIDING_KEYS * P + 5)


def test_huge_allocations_fail_before_allocating():
    error, meter = fail("def main():\n    return len(range(45000000))\n", gas=5_000_000)
    assert error.code == "out_of_gas"
    error, meter = fail("def main():\n    return len(range(45000000))\n", gas=50_000_000)
    assert (error.code, error.message) == ("out_of_memory", "transaction allocated more than "
                                           f"{schedule.MAX_ALLOCATED_UNITS} units of memory")
    assert meter.used < 50_000_000   # refused by the cap, not by running out of gas
    error, _ = fail("def main():\n    return len('\U0001F600' * 100000000)\n", gas=50_000_000)
    assert error.code == "out_of_memory"


def test_memory_is_counted_across_the_transaction():
    source = ("def main():\n    keep = []\n    for i in range(100):\n"
              "        keep.append([0] * 50000)\n    return len(keep)\n")
    error, _ = fail(source, gas=50_000_000)
    assert error.code == "out_of_memory"


def test_results_are_bounded_and_paid_per_byte():
    error, _ = fail(f"def main():\n    return 'x' * {MAX_RESULT_BYTES}\n", gas=10**6)
    assert (error.code, error.message) == ("result_too_large",
                                           f"the result is larger than {MAX_RESULT_BYTES} bytes")
    host = FakeHost()
    address = host.deploy("def main(n):\n    return 'x' * n\n")
    used = []
    for n in (0, 1000):
        meter = GasMeter(10**6)
        run_call(host, address, "main", [n], ALICE, meter)
        used.append(meter.used)
    assert used[1] - used[0] >= 1000 * schedule.RESULT_BYTE_GAS
    assert run_call(host, address, "main", [MAX_RESULT_BYTES + 10], ALICE, GasMeter(10**7),
                    read_only=True) == "x" * (MAX_RESULT_BYTES + 10)   # queries may answer more


@pytest.mark.parametrize("call", ["revert(m)", "require(False, m)"])
def test_revert_messages_are_cut_and_paid(call):
    error, _ = fail(f"def main():\n    m = 'y' * 100000\n    {call}\n", gas=10**6)
    assert error.message == "y" * MAX_MESSAGE_CHARS


def test_events_are_bounded_per_transaction():
    source = "def main():\n    for i in range(10):\n        emit('E', {'v': 'z' * 60000})\n"
    error, _ = fail(source, gas=10**7)
    assert error.code == "events_too_large"


@pytest.mark.parametrize("exc, code, message", [
    (MemoryError(), "out_of_memory", "the node ran out of memory running the call"),
    (RecursionError("maximum recursion depth exceeded while calling a Python object"),
     "recursion_limit", "Python stack exhausted"),
    (TypeError("'<' not supported between instances of 'dict' and 'dict'"), "type_error",
     "operation not supported for these value types"),
    (OverflowError("cannot fit 'int' into an index-sized integer"), "int_overflow",
     "integer too large for this operation"),
    (IndexError("whatever CPython says"), "runtime_error", "the operation failed"),
])
def test_python_exceptions_become_fixed_messages(exc, code, message):
    error = _convert(exc)
    assert (error.code, error.message) == (code, message)


def test_an_index_too_big_for_python_is_a_fixed_message():
    error, _ = fail("def main():\n    return [1, 2][2**100]\n")
    assert (error.code, error.message) in {("int_overflow", "integer too large for this operation"),
                                           ("runtime_error", "list index out of range")}


def test_arguments_with_lone_surrogates_are_refused():
    """The node could not encode them into a receipt or storage (a host_error would stop it)."""
    error, _ = fail("def main(s):\n    return s\n", ["ok", {"k": "\ud800"}])
    assert (error.code, error.message) == ("bad_argument",
                                           "argument 1: text is not valid Unicode (a lone surrogate)")


def test_taking_text_apart_pays_for_each_character_string():
    cheap = "def main():\n    x = []\n    x.extend(b'a' * 1000)\n    return 0\n"   # small ints
    text = "def main():\n    x = []\n    x.extend('a' * 1000)\n    return 0\n"
    host = FakeHost()
    used = []
    for source in (cheap, text):
        meter = GasMeter(10**6)
        run_call(host, host.deploy(source, name=str(len(used))), "main", [], ALICE, meter)
        used.append(meter.used)
    assert used[1] - used[0] == 1000 * (schedule.STR_ITEM_UNITS - 1) * schedule.UNIT_GAS
