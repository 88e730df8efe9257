"""Property tests: generated programs behave exactly as in Python; gas is monotone."""

import textwrap

from hypothesis import given, settings, strategies as st

from contracts import VMError
from tests.vm_host import run_source

SMALL = st.integers(-1000, 1000)
VARIABLES = ("a", "b", "c")


def expressions(depth: int = 4):
    leaves = st.one_of(SMALL.map(lambda v: f"({v})"), st.sampled_from(VARIABLES))

    def extend(inner):
        binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "//", "%", "<", "<=", "==",
                                                   "!=", ">", ">=", "and", "or"]), inner)
        return st.one_of(
            binary.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            inner.map(lambda e: f"(-{e})"),
            inner.map(lambda e: f"(not {e})"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        )
    return st.recursive(leaves, extend, max_leaves=2 ** depth)


def python_result(source: str, *args):
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 - the oracle: the same function run by Python
    try:
        return namespace["main"](*args), None
    except ZeroDivisionError:
        return None, "runtime_error"


def vm_result(source: str, *args):
    try:
        return run_source(source, "main", *args)[0], None
    except VMError as exc:
        return None, exc.code


@settings(max_examples=300, deadline=None)
@given(expression=expressions(), a=SMALL, b=SMALL, c=SMALL)
def test_integer_expressions_match_python(expression, a, b, c):
    source = f"def main(a, b, c):\n    return {expression}\n"
    expected = python_result(source, a, b, c)
    actual = vm_result(source, a, b, c)
    assert actual == expected
    assert type(actual[0]) is type(expected[0])


LIST_OPERATIONS = [
    "xs.append({v})",
    "xs.insert({i}, {v})",
    "if xs:\n    xs.pop()",
    "if xs:\n    xs.pop({i} % len(xs))",
    "xs = sorted(xs)",
    "xs = sorted(xs, reverse=True)",
    "xs = sorted(xs, key=lambda x: (x % 3, -x))",
    "xs.reverse()",
    "xs = xs[{i}:{j}]",
    "xs = xs[::-1]",
    "xs.extend([{v}, {i}])",
    "xs = [x * {v} for x in xs if x % 2 == 0]",
    "xs = xs + [sum(xs)]",
    "if {v} in xs:\n    xs.remove({v})",
    "xs = list(reversed(xs))",
    "xs = [min(xs + [{v}]), max(xs + [{v}])] + xs",
    "xs = [len(xs), xs.count({v})] + xs",
    "d = {{x: i for i, x in enumerate(xs)}}\nxs = list(d.values()) + list(d)",
    "xs = [x // {nz} + x % {nz} for x in xs]",
]


@st.composite
def list_programs(draw):
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        template = draw(st.sampled_from(LIST_OPERATIONS))
        lines.append(template.format(v=draw(st.integers(-9, 9)), i=draw(st.integers(-4, 6)),
                                     j=draw(st.integers(-4, 6)),
                                     nz=draw(st.integers(1, 5) | st.integers(-5, -1))))
    body = "\n".join(lines) + "\nreturn xs"
    return "def main(xs):\n" + textwrap.indent(body, "    ") + "\n"


@settings(max_examples=300, deadline=None)
@given(source=list_programs(), xs=st.lists(st.integers(-20, 20), max_size=8))
def test_list_programs_match_python(source, xs):
    assert vm_result(source, list(xs)) == python_result(source, list(xs))


LOOP = """
def main(n):
    total = 0
    i = 0
    while i < n:
        if i % 3 == 0:
            total += i
        i += 1
    for j in range(n):
        total -= j
    return total
"""


@settings(max_examples=50, deadline=None)
@given(counts=st.lists(st.integers(0, 300), min_size=2, max_size=2, unique=True))
def test_gas_is_monotone_in_loop_count(counts):
    low, high = sorted(counts)
    assert run_source(LOOP, "main", low)[1] < run_source(LOOP, "main", high)[1]


@settings(max_examples=50, deadline=None)
@given(expression=expressions(3), a=SMALL)
def test_same_call_same_gas(expression, a):
    source = f"def main(a, b=7, c=-3):\n    return {expression}\n"
    try:
        first, second = run_source(source, "main", a), run_source(source, "main", a)
    except VMError as exc:
        assert exc.code == "runtime_error"
    else:
        assert first == second
