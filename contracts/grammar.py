"""One contract grammar on every Python version: Python 3.11's.

Nodes of one chain may run different Python versions, and a deploy that compiles on some of
them and not on others would split the chain. Later versions parse more than 3.11 does, so
the forms they added are refused everywhere, with 3.11's own answer (``syntax_error``,
"invalid syntax"):

- f-strings as PEP 701 (Python 3.12) allows them: the f-string's own quote inside a
  replacement field (``f"{d["k"]}"``), a backslash or a comment in a replacement field, a
  line break inside a single-quoted f-string;
- type parameters (``def f[T](x)``) and ``type`` statements (PEP 695, Python 3.12).

``tokens`` also gives every version 3.11's tokens: Python 3.12 and later split an f-string
into parts (``FSTRING_START`` ... ``FSTRING_END``); here each f-string is one ``STRING``
token holding its source text, so the complexity bounds of ``parsing`` count the same.
"""

from __future__ import annotations

import ast
import io
import tokenize
from typing import Iterator

from contracts.errors import CompileError

_FSTRING_START = getattr(tokenize, "FSTRING_START", None)   # Python 3.12+
_FSTRING_MIDDLE = getattr(tokenize, "FSTRING_MIDDLE", None)
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)


def _invalid(lineno: int) -> CompileError:
    return CompileError("syntax_error", "invalid syntax", lineno,
                        detail="a form of Python 3.12 or later, which contracts do not accept")


def _source_text(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    (first, first_col), (last, last_col) = start, end
    if first == last:
        return lines[first - 1][first_col:last_col]
    return lines[first - 1][first_col:] + "".join(lines[first:last - 1]) + lines[last - 1][:last_col]


def _check_as_311_string(opening: str, text: str, lineno: int) -> None:
    """Python 3.11 ends a string at the first unescaped closing quote, and a single-quoted
    one at the end of its line; the f-string must end where 3.12 ends it."""
    quote = opening.lstrip("bfrBFR")
    body = text[len(opening):len(text) - len(quote)]
    index = 0
    while index < len(body):
        if body[index] == "\\":
            index += 2
            continue
        if body.startswith(quote, index) or (len(quote) == 1 and body[index] == "\n"):
            raise _invalid(lineno + body.count("\n", 0, index))
        index += 1


def _merge_fstring(start: tokenize.TokenInfo, stream: Iterator[tokenize.TokenInfo],
                   lines: list[str]) -> tokenize.TokenInfo:
    """The tokens of one f-string (after its FSTRING_START) as the STRING token 3.11 makes;
    refuses what 3.11 refuses in replacement fields (any backslash, any comment)."""
    depth, refused = 1, False
    for token in stream:
        if token.type == _FSTRING_START:
            depth += 1
        elif token.type == _FSTRING_END:
            depth -= 1
            if depth == 0:
                text = _source_text(lines, start.start, token.end)
                _check_as_311_string(start.string, text, start.start[0])
                if refused:  # 3.11 names the line the f-string ends on
                    raise _invalid(token.end[0])
                return tokenize.TokenInfo(tokenize.STRING, text, start.start, token.end, start.line)
        literal = token.type == _FSTRING_MIDDLE and depth == 1
        refused = refused or (not literal and (token.type == tokenize.COMMENT or "\\" in token.string))
    raise tokenize.TokenError("unterminated f-string", start.start)


def tokens(source: str) -> Iterator[tokenize.TokenInfo]:
    """``tokenize.generate_tokens`` of ``source``, with each f-string one STRING token."""
    lines = io.StringIO(source).readlines()
    stream = tokenize.generate_tokens(io.StringIO(source).readline)
    for token in stream:
        yield _merge_fstring(token, stream, lines) if token.type == _FSTRING_START else token


def refuse_later_statements(tree: ast.Module) -> None:
    """PEP 695's ``type`` statements and type parameters, which Python 3.11 cannot parse."""
    for node in ast.walk(tree):
        if type(node).__name__ == "TypeAlias" or getattr(node, "type_params", None):
            raise _invalid(node.lineno)
