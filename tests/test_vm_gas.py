"""Gas metering: exact limits, determinism, and the costs of the schedule."""

import textwrap

import pytest

from contracts import GasMeter, VMError, compile_contract, run_call
from contracts import gas as schedule
from tests.vm_host import ALICE, FakeHost, run_source

LOOP = """
def main(n):
    total = 0
    for i in range(n):
        total += i * i
    return total % 100
"""


def gas_of(source: str, *args, function: str = "main") -> int:
    return run_source(textwrap.dedent(source), function, *args)[1]


def test_gas_meter_basics():
    meter = GasMeter(100)
    meter.charge(30)
    assert (meter.used, meter.remaining, meter.limit) == (30, 70, 100)
    with pytest.raises(VMError) as info:
        meter.charge(71)
    assert info.value.code == "out_of_gas"
    assert (meter.used, meter.remaining) == (100, 0)
    with pytest.raises(ValueError):
        GasMeter(-1)


def test_out_of_gas_uses_exactly_the_limit():
    needed = gas_of(LOOP, 50)
    host = FakeHost()
    address = host.deploy(LOOP)
    assert run_call(host, address, "main", [50], ALICE, GasMeter(needed)) == sum(i * i for i in range(50)) % 100
    for limit in (needed - 1, needed // 2, 1, 0):
        meter = GasMeter(limit)
        with pytest.raises(VMError) as info:
            run_call(host, address, "main", [50], ALICE, meter)
        assert info.value.code == "out_of_gas"
        assert meter.used == meter.limit == limit


def test_gas_is_deterministic():
    host = FakeHost()
    address = host.deploy(LOOP)
    used = set()
    for _ in range(3):
        meter = GasMeter(10**7)
        run_call(host, address, "main", [200], ALICE, meter)
        used.add(meter.used)
    used.add(gas_of(LOOP, 200))   # a fresh compile and host
    assert len(used) == 1


def test_gas_grows_linearly_with_loop_count():
    per_iteration = gas_of(LOOP, 11) - gas_of(LOOP, 10)
    assert per_iteration > 0
    assert gas_of(LOOP, 110) - gas_of(LOOP, 10) == 100 * per_iteration


def test_statement_and_call_costs_follow_the_schedule():
    base = gas_of("def main():\n    return 0\n")
    # `x = 1` is three nodes: Assign, its target Name and the Constant
    assert gas_of("def main():\n    x = 1\n    return 0\n") - base == 3 * schedule.NODE_GAS
    with_call = "def main():\n    return _f()\ndef _f():\n    return 0\n"
    # a call node plus the callee's return statement and the frame
    assert gas_of(with_call) - base == schedule.NODE_GAS * 2 + schedule.CALL_GAS


def test_unevaluated_branches_are_not_charged():
    source = "def main(x):\n    y = x or [1, 2, 3, 4, 5]\n    return 0\n"
    cheap, costly = gas_of(source, 1), gas_of(source, 0)
    assert costly - cheap == 6 * schedule.NODE_GAS + 5 * schedule.UNIT_GAS


SORT = """
def main(n):
    xs = list(range(n))
    return len(sorted(xs))
"""
NO_SORT = """
def main(n):
    xs = list(range(n))
    return len(xs)
"""


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 100, 1000, 4096])
def test_sorted_gas_is_n_log_n(n):
    extra = gas_of(SORT, n) - gas_of(NO_SORT, n)
    call_cost = schedule.NODE_GAS + schedule.UNIT_GAS * n   # the call node, copying the input
    assert extra == call_cost + schedule.SORT_GAS * n * n.bit_length()


def test_sorted_gas_weights_big_elements():
    light = gas_of("def main():\n    return sorted([[1], [2]])\n")
    heavy = gas_of("def main():\n    return sorted([[1] + [0] * 50, [2] + [0] * 50])\n")
    assert heavy - light > 2 * 50 * schedule.SORT_GAS


def test_storage_gas():
    host = FakeHost()
    address = host.deploy("def put(v):\n    storage.set('key', v)\n"
                          "def get():\n    return storage.get('key')\n")

    def used(function, *args):
        meter = GasMeter(10**7)
        run_call(host, address, function, list(args), ALICE, meter)
        return meter.used

    small, big = used("put", 1), used("put", "x" * 1000)
    copies = 2 * (schedule.units(1000) - 1) * schedule.COPY_GAS   # into the call, into storage
    assert big - small == schedule.STORAGE_WRITE_BYTE_GAS * (len(repr("x" * 1000)) - len(repr(1))) + copies
    assert small > schedule.STORAGE_SET_GAS
    assert used("get") > schedule.STORAGE_GET_GAS


def test_allocation_is_charged_per_unit():
    short = gas_of("def main(n):\n    x = [0] * n\n    return 0\n", 10)
    long = gas_of("def main(n):\n    x = [0] * n\n    return 0\n", 1010)
    assert long - short == 1000 * schedule.UNIT_GAS
    text = gas_of("def main(n):\n    x = 'abcdefgh' * n\n    return 0\n", 1010) - \
        gas_of("def main(n):\n    x = 'abcdefgh' * n\n    return 0\n", 10)
    assert text == 1000 * schedule.UNIT_GAS


def test_compiled_program_is_reusable_and_deterministic():
    program = compile_contract(LOOP)
    assert compile_contract(LOOP).code_hash == program.code_hash
    host = FakeHost()
    host.programs["a"] = program
    host.programs["b"] = compile_contract(LOOP)
    meters = [GasMeter(10**6), GasMeter(10**6)]
    assert run_call(host, "a", "main", [30], ALICE, meters[0]) == \
        run_call(host, "b", "main", [30], ALICE, meters[1])
    assert meters[0].used == meters[1].used
