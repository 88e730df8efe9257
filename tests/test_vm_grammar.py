"""One contract grammar on every Python version (contracts/grammar.py): what Python 3.12 added
to the language is refused everywhere, as Python 3.11 refuses it, and a corpus of f-string
and other forms compiles to the same answers under the second interpreter of the mixed-version
tests (tests/secondpython.py)."""
from __future__ import annotations

import itertools
import json
import subprocess

import pytest

from contracts import CompileError, compile_contract
from tests.secondpython import second_python


def answer(source: str) -> list:
    """What compiling ``source`` gives: ["ok"], or the error's code, message and line."""
    try:
        compile_contract(source)
        return ["ok"]
    except CompileError as exc:
        return [exc.code, exc.message, exc.lineno]


def contract(expression: str) -> str:
    return f"def main(d, x):\n    return {expression}\n"


LATER_FORMS = [  # (source, line of the error): parsed by Python 3.12+, not by 3.11
    (contract('f"{d["k"]}"'), 2),
    (contract("f'{d['k']}'"), 2),
    (contract('f"""{d["""k"""]}"""'), 2),
    (contract('f"{"\\n".join(d)}"'), 2),
    (contract('f"{f"{x}"}"'), 2),
    (contract('f"""{x # a comment\n}"""'), 3),
    (contract('f"{x +\n 1}"'), 2),
    (contract("f'{x}' + f'{d['k']}'"), 2),
    ("def main[T](x):\n    return x\n", 1),
    ("type Amount = int\ndef main(x):\n    return x\n", 1),
    ("def main(x):\n    return x\ndef _f[T](y):\n    return y\n", 3),
]


@pytest.mark.parametrize("source, lineno", LATER_FORMS)
def test_forms_python_312_added_are_invalid_syntax_on_every_version(source, lineno):
    assert answer(source) == ["syntax_error", "invalid syntax", lineno]


ACCEPTED = [
    contract("f\"{d['k']}\""),
    contract("f'{d[\"k\"]}'"),
    contract('f"""{d["k"] + x}"""'),
    contract("f'''{f\"{f'{x}'}\"}'''"),
    contract('f"""{x\n + 1}"""'),
    contract('f"a\\n{x}\\"{{}}"'),
    contract('rf"\\d{x}"'),
    contract('f"{x}" f"{d}"'),
]


@pytest.mark.parametrize("source", ACCEPTED)
def test_the_f_strings_python_311_parses_compile(source):
    assert answer(source) == ["ok"]


def test_operators_in_f_string_text_count_as_python_311_counts_them():
    """3.12 tokenizes the text of an f-string apart from its fields; its operator characters
    count towards the statement's complexity all the same."""
    plus = "+" * 200
    assert answer(contract(f'f"{{x}}{plus}"')) == ["nesting_too_deep", "statement too complex (more than 200 operators)", 2]
    assert answer(contract(f'f"{{x}}{plus[1:]}"')) == ["ok"]


def test_the_refusal_shown_to_people_says_why():
    with pytest.raises(CompileError) as info:
        compile_contract(contract('f"{d["k"]}"'))
    assert str(info.value).startswith("line 2: invalid syntax (")


def _corpus() -> list[str]:
    quotes = ["'", '"', "'''", '"""']
    fields = ["{x}", "{d['k']}", '{d["k"]}', "{'a' + x}", '{"\\n".join(d)}', "{x # c\n}", "{x +\n 1}",
              "{{x}}", "{f'{x}'}", '{f"{x}"}', "{x!r}", "{x:>4}", "{x=}", "{}", "{x", "}"]
    literals = ["", "a+b", "\\n", "\\'", '\\"', "\n"]
    return [contract(f"{prefix}{quote}{literal}{field}{quote}")
            for prefix, quote, literal, field in itertools.product(["f", "rf"], quotes, literals, fields)]


PROBE = """
import json, sys
from contracts import CompileError, compile_contract
def answer(source):
    try:
        compile_contract(source)
        return ["ok"]
    except CompileError as exc:
        return [exc.code, exc.message, exc.lineno]
print(json.dumps([answer(source) for source in json.load(sys.stdin)]))
"""


def test_a_corpus_compiles_alike_under_the_second_python():
    python, version = second_python()
    corpus = _corpus()
    run = subprocess.run([python, "-c", PROBE], input=json.dumps(corpus), capture_output=True, text=True,
                         timeout=120, check=True)
    theirs = json.loads(run.stdout)
    differ = [(source, mine, their) for source, mine, their in zip(corpus, map(answer, corpus), theirs)
              if mine != their]
    assert not differ, f"{len(differ)} of {len(corpus)} sources compile differently on Python {version}: {differ[:5]}"
