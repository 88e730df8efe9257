"""Compile-time checks of the contract language: error codes and line numbers."""

import textwrap

import pytest

from contracts import CompileError, Program, code_hash, compile_contract
from contracts.limits import MAX_NESTING, MAX_SOURCE_BYTES


def compile_error(source: str) -> CompileError:
    with pytest.raises(CompileError) as info:
        compile_contract(textwrap.dedent(source))
    return info.value


def body(lines: str) -> str:
    """A contract whose public function main has ``lines`` as body (from line 3)."""
    return "X = 1\ndef main(x, y=2):\n" + textwrap.indent(textwrap.dedent(lines), "    ")


REJECTED = [
    # (body of main starting at line 3, code, line)
    ("a = 1\nb = 1.5\n", "float_not_allowed", 4),
    ("return x / 2\n", "float_not_allowed", 3),
    ("x /= 2\n", "float_not_allowed", 3),
    ("return float(x)\n", "float_not_allowed", 3),
    ("return 1e3\n", "float_not_allowed", 3),
    ("return 2j\n", "float_not_allowed", 3),
    ("import os\n", "import_not_allowed", 3),
    ("pass\nfrom os import path\n", "import_not_allowed", 4),
    ("return x.__class__\n", "attribute_not_allowed", 3),
    ("return os.system('ls')\n", "attribute_not_allowed", 3),
    ("return x.format(1)\n", "attribute_not_allowed", 3),
    ("f = x.append\n", "attribute_not_allowed", 3),
    ("x.y = 1\n", "attribute_not_allowed", 3),
    ("storage.clear()\n", "attribute_not_allowed", 3),
    ("return chain.secret\n", "attribute_not_allowed", 3),
    ("return chain.caller()\n", "attribute_not_allowed", 3),
    ("while True:\n    x += 1\n", "unbounded_while", 3),
    ("while 1:\n    for i in range(3):\n        break\n", "unbounded_while", 3),
    ("while x:\n    pass\n", "unbounded_while", 3),
    ("class A:\n    pass\n", "syntax_not_allowed", 3),
    ("try:\n    x = 1\nexcept Exception:\n    pass\n", "syntax_not_allowed", 3),
    ("f = lambda v: v\n", "syntax_not_allowed", 3),
    ("with x:\n    pass\n", "syntax_not_allowed", 3),
    ("global X\n", "syntax_not_allowed", 3),
    ("yield x\n", "syntax_not_allowed", 3),
    ("return {1, 2}\n", "syntax_not_allowed", 3),
    ("return {v for v in x}\n", "syntax_not_allowed", 3),
    ("del x\n", "syntax_not_allowed", 3),
    ("return len(*x)\n", "syntax_not_allowed", 3),
    ("return dict(**x)\n", "syntax_not_allowed", 3),
    ("a, *b = x\n", "syntax_not_allowed", 3),
    ("return (y := 3)\n", "syntax_not_allowed", 3),
    ("return f'{x!r}'\n", "syntax_not_allowed", 3),
    ("return f'{x:>10}'\n", "syntax_not_allowed", 3),
    ("raise ValueError\n", "syntax_not_allowed", 3),
    ("assert x\n", "syntax_not_allowed", 3),
    ("def inner():\n    pass\n", "syntax_not_allowed", 3),
    ("for i in x:\n    pass\nelse:\n    pass\n", "syntax_not_allowed", 3),
    ("return x is 3\n", "syntax_not_allowed", 3),
    ("return x @ y\n", "syntax_not_allowed", 3),
    ("return ...\n", "syntax_not_allowed", 3),
    ("match x:\n    case 1:\n        pass\n", "syntax_not_allowed", 3),
    ("return [a for a in x for b in x for c in x for d in x]\n", "syntax_not_allowed", 3),
    ("return 2 ** 256 if x else 115792089237316195423570985008687907853269984665640564039457584007913129639936\n",
     "int_overflow", 3),
    ("return z\n", "undefined_name", 3),
    ("return nope(1)\n", "undefined_name", 3),
    ("len = 3\n", "name_not_allowed", 3),
    ("X = 3\n", "name_not_allowed", 3),
    ("for storage in x:\n    pass\n", "name_not_allowed", 3),
    ("return [len for len in x]\n", "name_not_allowed", 3),
    ("return sorted(x, key=lambda X: 1)\n", "name_not_allowed", 3),
    ("return __import__('os')\n", "name_not_allowed", 3),
    ("return len(x, y)\n", "bad_call", 3),
    ("return len()\n", "bad_call", 3),
    ("return sorted(x, key=5)\n", "bad_call", 3),
    ("return sorted(x, cmp=y)\n", "bad_call", 3),
    ("return x.append()\n", "bad_call", 3),
    ("return x.get(1, key=2)\n", "bad_call", 3),
    ("return main(1, 2, 3)\n", "bad_call", 3),
    ("return main(y=1)\n", "bad_call", 3),
    ("return x(1)\n", "bad_call", 3),
    ("return isinstance(x, float)\n", "float_not_allowed", 3),
    ("return isinstance(x, object)\n", "bad_call", 3),
    ("return len\n", "syntax_not_allowed", 3),
    ("return storage\n", "syntax_not_allowed", 3),
    ("break\n", "syntax_error", 3),
    ("return (\n", "syntax_error", 3),
    ("x = = 2\n", "syntax_error", 3),
]


@pytest.mark.parametrize("lines, code, lineno", REJECTED)
def test_rejected_with_code_and_line(lines, code, lineno):
    error = compile_error(body(lines))
    assert (error.code, error.lineno) == (code, lineno), error
    assert str(error).startswith(f"line {lineno}: ")
    assert error.message


TOP_LEVEL = [
    ("import os\ndef f():\n    pass\n", "import_not_allowed", 1),
    ("def f():\n    pass\nfrom os import path\n", "import_not_allowed", 3),
    ("def f():\n    pass\nclass A:\n    pass\n", "syntax_not_allowed", 3),
    ("def f():\n    pass\nprint(1)\n", "bad_contract", 3),
    ("def f():\n    pass\nfor i in x:\n    pass\n", "bad_contract", 3),
    ("def f():\n    pass\ndef f():\n    pass\n", "bad_contract", 3),
    ("A = 1\nA = 2\ndef f():\n    pass\n", "bad_contract", 2),
    ("A = [1]\ndef f():\n    pass\n", "bad_contract", 1),
    ("A = len('x')\ndef f():\n    pass\n", "bad_contract", 1),
    ("A, B = 1, 2\ndef f():\n    pass\n", "bad_contract", 1),
    ("def _private():\n    pass\n", "bad_contract", 1),
    ("", "bad_contract", 1),
    ("def len():\n    pass\n", "name_not_allowed", 1),
    ("def f(chain):\n    pass\n", "name_not_allowed", 1),
    ("def f(a, a):\n    pass\n", "syntax_error", 1),
    ("def f(*args):\n    pass\n", "syntax_not_allowed", 1),
    ("def f(**kw):\n    pass\n", "syntax_not_allowed", 1),
    ("def f(a, *, b):\n    pass\n", "syntax_not_allowed", 1),
    ("def f(a=[]):\n    pass\n", "bad_contract", 1),
    ("@decorator\ndef f():\n    pass\n", "syntax_not_allowed", 2),
    ("async def f():\n    pass\n", "syntax_not_allowed", 1),
    ("def f(x: float):\n    pass\n", "float_not_allowed", 1),
    ("def f(\n", "syntax_error", 1),
    ("def f():\n  x = 1\n    y = 2\n", "syntax_error", 3),
    ("def f():\n    return '\\ud800'\n", "syntax_not_allowed", 2),
]


@pytest.mark.parametrize("source, code, lineno", TOP_LEVEL)
def test_top_level_rules(source, code, lineno):
    error = compile_error(source)
    assert (error.code, error.lineno) == (code, lineno), error


def test_nesting_too_deep_reports_the_line():
    deep = "[" * (MAX_NESTING + 5) + "]" * (MAX_NESTING + 5)
    error = compile_error(f"def main():\n    x = 1\n    return {deep}\n")
    assert (error.code, error.lineno) == ("nesting_too_deep", 3)


def test_nested_statements_count_too():
    lines = ["def main(x):"]
    for depth in range(MAX_NESTING + 1):
        lines.append("    " * (depth + 1) + "if x:")
    lines.append("    " * (MAX_NESTING + 2) + "return 1")
    assert compile_error("\n".join(lines) + "\n").code == "nesting_too_deep"


@pytest.mark.parametrize("expression", ["1" + "+1" * 300, "-" * 300 + "1", "(" * 250 + ")" * 250,
                                        "1" + "+1" * 50_000])
def test_pathological_expressions_are_rejected_deterministically(expression):
    error = compile_error(f"def main():\n    return {expression}\n")
    assert error.code in ("nesting_too_deep", "syntax_error")
    assert error.lineno == 2


def test_source_size_and_type():
    assert compile_error("#" * (MAX_SOURCE_BYTES + 1)).code == "bad_contract"
    with pytest.raises(CompileError) as info:
        compile_contract(b"def f(): pass")
    assert info.value.code == "bad_contract"


ACCEPTED = """
\"\"\"A contract using most of the language.\"\"\"

LIMIT = 10
NAMES = ("a", "b")
NEG = -5


def main(x: int, flags: list[int] = NAMES) -> list:
    \"\"\"Docstrings are allowed.\"\"\"
    total = 0
    for i in range(LIMIT):
        if i % 2 == 0 and i != 4:
            continue
        elif i > 8:
            break
        total += i
    while total > 100:
        total -= 1
    while True:
        if total:
            break
    items = sorted([{"p": 3}, {"p": 1}], key=lambda o: o["p"])
    pairs = {k: v for k, v in zip(NAMES, [1, 2])}
    squares = [i * i for i in range(3) if i]
    text = f"total={total} {NAMES[0]}"
    if x is None or x is not True:
        pass
    data = {"k": [1, 2]}
    data["k"][0] += 1
    del data["k"][1]
    a, (b, c) = 1, (2, 3)
    return [total, items, pairs, squares, text, data, a + b + c, _helper(x=1), NEG]


def _helper(x, y=LIMIT):
    return x + y
"""


def test_accepted_program_and_api():
    program = compile_contract(ACCEPTED)
    assert isinstance(program, Program)
    assert program.public_functions() == ["main"]
    assert list(program.functions) == ["main", "_helper"]
    assert dict(program.constants) == {"LIMIT": 10, "NAMES": ("a", "b"), "NEG": -5}
    assert not program.has_init()
    assert program.code_hash == code_hash(ACCEPTED) and len(program.code_hash) == 32
    assert program.functions["main"].sig.params == ("x", "flags")


def test_init_is_not_public_but_known():
    program = compile_contract("def init(owner, n=1):\n    pass\ndef get():\n    return 1\n")
    assert program.public_functions() == ["get"]
    assert program.has_init()
    assert program.functions["init"].sig.params == ("owner", "n")


def test_while_true_with_return_is_accepted():
    compile_contract("def main(x):\n    while True:\n        if x:\n            return 1\n"
                     "        x += 1\n")


def test_syntax_errors_keep_pythons_text_out_of_the_message():
    """Receipts carry ``message``: CPython's parser texts change between versions, so they
    go only in ``detail``, shown to people by ``str()``."""
    with pytest.raises(CompileError) as info:
        compile_contract("def f(:\n    pass\n")
    error = info.value
    assert (error.code, error.message) == ("syntax_error", "invalid syntax")
    assert error.detail and str(error) == f"line 1: invalid syntax ({error.detail})"
