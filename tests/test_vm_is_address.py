"""The is_address builtin: its answers, its gas, and agreement with the check it replaced."""

import textwrap

from hypothesis import given, strategies as st

from contracts import gas as schedule
from tests.vm_host import run_source

ADDRESS = "0x" + "0123456789abcdef" * 2 + "01234567"

# The contract-language check the market contracts used before the builtin existed.
DIGIT_BY_DIGIT = textwrap.dedent("""
    HEX_DIGITS = "0123456789abcdef"

    def main(value):
        return (isinstance(value, str) and len(value) == 42 and value.startswith("0x")
                and all([d in HEX_DIGITS for d in value[2:]]))
    """)
BUILTIN = "def main(value):\n    return is_address(value)\n"
BUILTIN_ONLY = "def main(value):\n    x = is_address(value)\n    return 0\n"
IDENTITY = "def main(value):\n    x = value\n    return 0\n"


def test_answers():
    assert run_source(BUILTIN, "main", ADDRESS)[0] is True
    for value in (ADDRESS.upper(), "0X" + ADDRESS[2:], ADDRESS[:-1], ADDRESS + "0", ADDRESS + "\n",
                  ADDRESS[2:], "0x" + "g" * 40, "", 42, None, True, ADDRESS.encode(), [ADDRESS]):
        assert run_source(BUILTIN, "main", value)[0] is False, value


def test_gas_is_one_unit_per_unit_of_a_str_and_nothing_for_other_types():
    def extra_gas(value):   # over `x = value`: the call node, then the builtin's own charge
        return run_source(BUILTIN_ONLY, "main", value)[1] - run_source(IDENTITY, "main", value)[1] - schedule.NODE_GAS

    assert extra_gas(ADDRESS) == 6 * schedule.UNIT_GAS
    assert extra_gas("x" * 80) == 11 * schedule.UNIT_GAS
    assert extra_gas([ADDRESS]) == extra_gas(None) == 0


@given(st.one_of(st.text(alphabet="0123456789abcdefABCDEFxX\n g", min_size=40, max_size=43),
                 st.builds(lambda digits: "0x" + digits, st.text(alphabet="0123456789abcdefA", min_size=39,
                                                                max_size=41))))
def test_agrees_with_the_digit_by_digit_check(value):
    assert run_source(BUILTIN, "main", value)[0] == run_source(DIGIT_BY_DIGIT, "main", value)[0]
