"""Runtime semantics of the VM and every runtime error code."""

import sys
import textwrap

import pytest

from contracts import CompileError, GasMeter, VMError, compile_contract, run_call
from contracts.limits import MAX_FRAMES, MAX_NESTING
from tests.vm_host import ALICE, FakeHost, run_source


def evaluate(expression: str, *args, setup: str = ""):
    """Value of ``expression`` in a contract function main(a, b, c)."""
    source = "def main(a=0, b=0, c=0):\n" + textwrap.indent(setup, "    ") + \
        f"    return {expression}\n"
    return run_source(source, "main", *args)[0]


def vm_error(source: str, *args, function: str = "main", gas: int = 10_000_000) -> VMError:
    with pytest.raises(VMError) as info:
        run_source(textwrap.dedent(source), function, *args, gas=gas)
    return info.value


def expression_error(expression: str, *args, setup: str = "") -> VMError:
    return vm_error("def main(a=0, b=0, c=0):\n" + textwrap.indent(setup, "    ")
                    + f"    return {expression}\n", *args)


PYTHON_SEMANTICS = [
    "-7 // 2", "-7 % 2", "7 // -2", "7 % -2", "2 ** 10", "(-3) ** 3", "1 << 10", "-9 >> 1",
    "6 & 3", "6 | 3", "6 ^ 3", "~5", "-(-5)", "+5", "True + 1", "3 * 'ab'", "[1] * 3",
    "(1, 2) + (3,)", "'a' + 'b'", "b'a' + b'b'", "1 < 2 < 3", "3 > 2 > 2", "1 == True",
    "'1' == 1", "[1, 2] == [1, 2]", "(1, [2]) < (1, [3])", "'abc' < 'abd'", "b'a' < b'b'",
    "[1, 2] < [1, 2, 0]", "2 in [1, 2]", "'b' in 'abc'", "'k' in {'k': 1}", "3 not in (1, 2)",
    "not []", "[] or 'x'", "0 and 1", "1 and 2", "None or 0", "1 if [] else 2",
    "abs(-3)", "divmod(-7, 2)", "min(3, 1, 2)", "max([1, 5, 2])", "min('bca')",
    "max([(1, 'b'), (1, 'c')])", "sum([1, 2, 3])", "sum([1, 2], 10)", "len({'a': 1})",
    "sorted([3, 1, 2], reverse=True)", "sorted(['b', 'a'])", "list(range(2, 10, 3))",
    "list(range(5, 0, -2))", "list(reversed((1, 2)))", "list(enumerate('ab', 1))",
    "list(zip([1, 2, 3], 'ab'))", "any([0, '', 1])", "all([1, []])", "str(-12)", "str(True)",
    "str(None)", "int('-42')", "int('ff', 16)", "int('0x1F', 16)", "int(True)", "bool('')",
    "list('ab')", "tuple([1, 2])", "dict([('a', 1), ('b', 2)])", "bytes([1, 2, 255])",
    "isinstance(True, int)", "isinstance([], (dict, tuple))", "[1, 2, 3][-1]", "'abc'[1]",
    "b'abc'[0]", "[1, 2, 3, 4][1:3]", "[1, 2, 3, 4][::-2]", "'hello'[1:-1]", "(1, 2, 3)[:2]",
    "{'a': 1}.get('b', 5)", "{'a': 1, 'b': 2}.items()", "'a,b,,c'.split(',')", "' x '.strip()",
    "'a b  c'.split()", "'-'.join(['a', 'b'])", "'abc'.upper()", "'ABC'.lower()",
    "'abc'.find('c')", "'abcb'.count('b')", "'abc'.index('b')", "'abc'.startswith('ab')",
    "b'abc'.endswith(b'bc')", "'hé'.encode()", "b'h\\xc3\\xa9'.decode()", "b'\\x01\\xff'.hex()",
    "[1, 2, 1].count(1)", "[1, 2, 3].index(3)", "(1, 2).index(2)",
    "[x * y for x in range(3) for y in range(x) if y]", "{x: x * x for x in range(3)}",
    "sum(x for x in range(5))", "f'{1}-{True}-{None}-{\"s\"}'",
]


@pytest.mark.parametrize("expression", PYTHON_SEMANTICS)
def test_matches_python(expression):
    expected = eval(expression)  # noqa: S307 - test oracle on literal expressions
    if not isinstance(expected, (int, str, bytes, list, dict, tuple, type(None))):
        expected = list(expected)
    assert evaluate(expression) == expected


def test_case_and_whitespace_are_ascii_only():
    assert evaluate("['AéÉz'.lower(), 'aéz'.upper(), ' \u2003x\t'.strip(), "
                    "'a\u2003b  c '.split()]") == ["aéÉz", "AéZ", "\u2003x", ["a\u2003b", "c"]]


def test_mutation_methods():
    setup = textwrap.dedent("""
        xs = [3, 1]
        xs.append(4)
        xs.extend((5, 9))
        xs.insert(0, 7)
        popped = [xs.pop(), xs.pop(0)]
        xs.remove(1)
        xs.reverse()
        ys = xs.copy()
        ys.append(0)
        d = {"a": 1}
        d.update({"b": 2})
        d.setdefault("c", 3)
        d.setdefault("a", 9)
        gone = d.pop("b")
        missing = d.pop("zz", -1)
        d["n"] = [1]
        d["n"][0] += 5
        del d["a"]
        del ys[0]
        keys = d.keys()
        values = d.values()
    """)
    assert evaluate("[xs, ys, popped, d, gone, missing, keys, values]", setup=setup) == [
        [5, 4, 3], [4, 3, 0], [9, 7], {"c": 3, "n": [6]}, 2, -1, ["c", "n"], [3, [6]]]


def test_control_flow_and_functions():
    source = """
        def main(n):
            found = []
            i = 0
            while True:
                i += 1
                if i % 2:
                    continue
                if i > n:
                    break
                found.append(i)
            for k, v in {"x": 1, "y": 2}.items():
                found.append(k * v)
            return [found, _fib(10), _defaults(1), _defaults(1, c=5), _early(3), _none()]

        def _fib(n):
            if n < 2:
                return n
            return _fib(n - 1) + _fib(n - 2)

        def _defaults(a, b=10, c=100):
            return a + b + c

        def _early(x):
            for i in range(10):
                if i == x:
                    return i * 100
            return -1

        def _none():
            pass
    """
    result, _ = run_source(textwrap.dedent(source), "main", 6)
    assert result == [[2, 4, 6, "x", "yy"], 55, 111, 16, 300, None]


def test_sorted_with_named_key_function_and_lambda_closure():
    source = """
        def main(orders, bias):
            by_price = sorted(orders, key=_price)
            biased = sorted(orders, key=lambda o: (abs(o["price"] - bias), o["id"]))
            cheapest = min(orders, key=lambda o: o["price"])
            return [[o["id"] for o in by_price], [o["id"] for o in biased], cheapest["id"]]

        def _price(order):
            return order["price"]
    """
    orders = [{"id": 1, "price": 30}, {"id": 2, "price": 10}, {"id": 3, "price": 20},
              {"id": 4, "price": 10}]
    result, _ = run_source(textwrap.dedent(source), "main", orders, 22)
    assert result == [[2, 4, 3, 1], [3, 1, 2, 4], 2]


def test_comprehension_variables_do_not_leak_or_clobber():
    assert evaluate("[x, [x for x in range(3)], x]", setup="x = 'outer'\n") == \
        ["outer", [0, 1, 2], "outer"]
    assert evaluate("[x for x in x]", setup="x = [1, 2]\n") == [1, 2]


def test_lists_and_dicts_are_mutable_values_shared_like_python():
    setup = "a = [1]\nb = a\nb.append(2)\nm = [[0] * 2] * 2\nm[0][0] = 5\n"
    assert evaluate("[a, m]", setup=setup) == [[1, 2], [[5, 0], [5, 0]]]


def test_calls_are_independent():
    source = "def main(x):\n    acc = []\n    acc.append(x)\n    return acc\n"
    host = FakeHost()
    address = host.deploy(source)
    assert host.call(address, "main", 1) == [1]
    assert host.call(address, "main", 2) == [2]


def test_entry_arguments_are_copied_and_defaults_apply():
    host = FakeHost()
    address = host.deploy("def main(xs, n=3):\n    xs.append(n)\n    return xs\n")
    arg = [1]
    assert run_call(host, address, "main", [arg], ALICE, GasMeter(10_000)) == [1, 3]
    assert arg == [1]


# -- runtime error codes -----------------------------------------------------------------

ERRORS = [
    ("1 + 'a'", "type_error"),
    ("'a' * 'b'", "type_error"),
    ("1 < 'a'", "type_error"),
    ("[1] < (1,)", "type_error"),
    ("None < None", "type_error"),
    ("{} < {}", "type_error"),
    ("[1, 'a'] < [1, 2]", "type_error"),
    ("sorted([1, 'a'])", "type_error"),
    ("sorted([{}, {}])", "type_error"),
    ("-'a'", "type_error"),
    ("len(5)", "type_error"),
    ("{[1]: 2}", "type_error"),
    ("{(1, (2,)): 2}", "type_error"),
    ("{}.get([1])", "type_error"),
    ("{'k' * 257: 1}", "type_error"),
    ("{(1,) * 17: 1}", "type_error"),
    ("str([1])", "type_error"),
    ("str(b'x')", "type_error"),
    ("f'{[1]}'", "type_error"),
    ("int(None)", "type_error"),
    ("'abc'['x']", "type_error"),
    ("(1, 2).append(3)", "type_error"),
    ("[].get(1)", "type_error"),
    ("[].pop(1, 2)", "type_error"),
    ("5[0]", "type_error"),
    ("'a' in 5", "type_error"),
    ("1 in 'abc'", "type_error"),
    ("[x for x in 5]", "type_error"),
    ("sum(['a'])", "type_error"),
    ("1 // 0", "runtime_error"),
    ("1 % 0", "runtime_error"),
    ("divmod(1, 0)", "runtime_error"),
    ("{'a': 1}['b']", "runtime_error"),
    ("[1][5]", "runtime_error"),
    ("[].pop()", "runtime_error"),
    ("[1].index(2)", "runtime_error"),
    ("'abc'.index('z')", "runtime_error"),
    ("int('12x')", "runtime_error"),
    ("int(' 1')", "runtime_error"),
    ("int('1_000')", "runtime_error"),
    ("bytes('abc')", "runtime_error"),
    ("b'\\xff'.decode()", "runtime_error"),
    ("list(range(1, 2, 0))", "runtime_error"),
    ("[1, 2][::0]", "runtime_error"),
    ("2 ** -1", "runtime_error"),
    ("1 << -1", "runtime_error"),
    ("max([])", "runtime_error"),
    ("'a,b'.split('')", "runtime_error"),
    ("2 ** 256", "int_overflow"),
    ("2 ** 255 * 2", "int_overflow"),
    ("(2 ** 255) + (2 ** 255)", "int_overflow"),
    ("-(2 ** 255) - (2 ** 255)", "int_overflow"),
    ("1 << 256", "int_overflow"),
    ("~(2 ** 256 - 1)", "int_overflow"),
    ("int('9' * 78)", "int_overflow"),
    ("int('9' * 101)", "runtime_error"),
    ("sum([2 ** 255, 2 ** 255])", "int_overflow"),
]


@pytest.mark.parametrize("expression, code", ERRORS)
def test_runtime_error_codes(expression, code):
    error = expression_error(expression)
    assert error.code == code, error
    assert error.message


def test_int_bound_is_inclusive_of_largest_value():
    assert evaluate("(2 ** 255 - 1) * 2 + 1") == 2**256 - 1
    assert evaluate("-((2 ** 255 - 1) * 2 + 1)") == -(2**256 - 1)


def test_unbound_local_and_unpacking():
    assert vm_error("def main(x):\n    if x:\n        y = 1\n    return y\n", 0).code == \
        "runtime_error"
    assert expression_error("a", setup="a, b = [1, 2, 3]\n").code == "runtime_error"
    assert expression_error("a", setup="a, b = 5\n").code == "type_error"


def test_require_and_revert():
    error = vm_error("def main(x):\n    require(x > 1, 'x too small')\n    return x\n", 1)
    assert (error.code, error.message) == ("require_failed", "x too small")
    assert vm_error("def main():\n    require(False)\n").message == "requirement failed"
    error = vm_error("def main():\n    revert('nope')\n")
    assert (error.code, error.message) == ("reverted", "nope")
    assert vm_error("def main():\n    require(True, 5)\n").code == "type_error"


def test_no_such_function_and_contract_not_found():
    host = FakeHost()
    address = host.deploy("def init():\n    pass\ndef f():\n    return 1\ndef _g():\n    return 2\n")
    for name in ("missing", "_g", "init", 5):
        with pytest.raises(VMError) as info:
            host.call(address, name)
        assert info.value.code == "no_such_function"
    with pytest.raises(VMError) as info:
        host.call("0x" + "00" * 20, "f")
    assert info.value.code == "contract_not_found"


def test_bad_arguments():
    host = FakeHost()
    address = host.deploy("def f(a, b=1):\n    return a\n")
    for args in ([], [1, 2, 3], [1.5], [[1, {2.0: 3}]], [object()], [2**256], "ab"):
        with pytest.raises(VMError) as info:
            run_call(host, address, "f", args, ALICE, GasMeter(10_000))
        assert info.value.code == "bad_argument", args


def test_recursion_limit():
    source = "def main(n):\n    return _down(n)\ndef _down(n):\n    if n == 0:\n" \
             "        return 0\n    return 1 + _down(n - 1)\n"
    assert run_source(source, "main", 62)[0] == 62
    assert vm_error(source, 63).code == "recursion_limit"


def test_value_depth_is_bounded_where_it_matters():
    setup = "x = []\nfor i in range(40):\n    x = [x]\n"
    assert expression_error("x == x", setup=setup).code == "value_too_deep"
    assert expression_error("sorted([x, x])", setup=setup).code == "value_too_deep"
    assert expression_error("storage.set('k', x)", setup=setup).code == "value_too_deep"
    assert expression_error("x", setup=setup).code == "value_too_deep"
    assert evaluate("len(x)", setup=setup) == 1


def test_huge_allocations_run_out_of_gas_before_allocating():
    for expression in ("[0] * 10 ** 12", "'ab' * 10 ** 15", "list(range(10 ** 70))",
                       "bytes(10 ** 9)", "[1] * (2 ** 200)"):
        code = expression_error(expression).code
        assert code in ("out_of_gas", "type_error"), expression


def test_dict_changed_during_iteration_is_a_runtime_error():
    error = expression_error("d", setup="d = {'a': 1}\nfor k in d:\n    d[k + 'x'] = 1\n")
    assert error.code == "runtime_error"


def test_infinite_loop_is_bounded_by_gas():
    error = vm_error("def main():\n    x = 0\n    while x >= 0:\n        x += 1\n", gas=50_000)
    assert error.code == "out_of_gas"


def _deepest_contract(extra: int = 0) -> str:
    """Recursion at the bottom of code nested as deep as the compiler allows."""
    statements = MAX_NESTING // 2
    lines = ["def main(n):", "    return _deep(n)", "def _deep(n):"]
    for level in range(statements - 1):
        lines.append("    " * (level + 1) + "if n >= 0:")
    expression = "_deep(n - 1) if n > 0 else 0"
    for _ in range(MAX_NESTING - statements - 5 + extra):
        expression = f"(1 + {expression})"
    lines.append("    " * statements + f"return {expression}")
    return "\n".join(lines) + "\n"


def test_deepest_code_at_the_frame_limit_never_exhausts_the_python_stack():
    source = _deepest_contract()
    program = compile_contract(source)
    with pytest.raises(CompileError) as info:   # it is right at the nesting limit
        compile_contract(_deepest_contract(extra=1))
    assert info.value.code == "nesting_too_deep"
    python: dict = {}
    exec(source, python)  # noqa: S102 - the oracle
    saved = sys.getrecursionlimit()

    def from_deep_python_stack(levels, n):
        if levels:
            return from_deep_python_stack(levels - 1, n)
        host = FakeHost()
        host.programs["deep"] = program
        return host.call("deep", "main", n)
    try:
        sys.setrecursionlimit(1000)
        assert from_deep_python_stack(600, MAX_FRAMES - 2) == python["main"](MAX_FRAMES - 2)
        sys.setrecursionlimit(1000)
        with pytest.raises(VMError) as info:
            from_deep_python_stack(600, MAX_FRAMES)
        assert info.value.code == "recursion_limit"
        assert info.value.message == f"more than {MAX_FRAMES} nested function calls"
    finally:
        sys.setrecursionlimit(max(saved, sys.getrecursionlimit()))


def test_named_key_function_with_defaults():
    source = "def main(xs):\n    return sorted(xs, key=_key)\n" \
             "def _key(x, scale=-1):\n    extra = 0\n    return x * scale + extra\n"
    assert run_source(source, "main", [1, 3, 2])[0] == [3, 2, 1]


def test_dict_nesting_counts_one_level_per_dict():
    setup = "x = 1\nfor i in range(31):\n    x = {'k': x}\nstorage.set('deep', x)\n"
    assert evaluate("storage.get('deep') == x", setup=setup) is True
