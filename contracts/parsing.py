"""Turn contract source text into a Python AST, safely and deterministically.

Besides ``ast.parse`` this bounds the size of the source and, before parsing,
the complexity of each statement (token counts, as Python 3.11 tokenizes: see
``grammar``), so that parsing never hits the Python recursion limit; after parsing it checks the nesting depth of the
tree (``nesting_too_deep``) without recursion, so later passes can recurse.
"""

from __future__ import annotations

import ast
import threading
import tokenize
import warnings

from contracts.errors import CompileError
from contracts.grammar import refuse_later_statements, tokens
from contracts.limits import MAX_ELIF, MAX_NESTING, MAX_OPERATORS_PER_STATEMENT, MAX_SOURCE_BYTES
from contracts.stack import ensure_headroom

_NOT_OPERATORS = frozenset({",", ":", ")", "]", "}", ";"})
_KEYWORD_OPERATORS = frozenset({"and", "or", "not", "if", "else", "lambda", "for", "in", "is",
                                "await", "yield"})
_FSTRING_OPERATOR_CHARS = frozenset("+-*/%&|^~<>=!([{.@")
_PARSE_HEADROOM = 2000
# Python's parser warns about some sources (``1if x else 2``, ``'\d'``), and a process whose
# warning filters say "error" (python -W error, PYTHONWARNINGS) would refuse them: whether a
# deploy compiles must not depend on how a node was started. Filters are global, hence the lock.
_QUIET = threading.Lock()


def _statement_weight(token: tokenize.TokenInfo) -> int:
    """How much nesting a token may add to the AST of its statement."""
    if token.type == tokenize.OP:
        return token.string not in _NOT_OPERATORS
    if token.type == tokenize.NAME:
        return token.string in _KEYWORD_OPERATORS
    if token.type == tokenize.STRING and "f" in token.string.split("'")[0].split('"')[0].lower():
        return sum(ch in _FSTRING_OPERATOR_CHARS for ch in token.string)
    return 0


def _check_tokens(source: str) -> None:
    weight = elifs = 0
    for token in tokens(source):
        if token.type == tokenize.NEWLINE:
            weight = 0
            continue
        weight += _statement_weight(token)
        elifs += token.type == tokenize.NAME and token.string == "elif"
        if weight > MAX_OPERATORS_PER_STATEMENT:
            raise CompileError("nesting_too_deep", "statement too complex (more than "
                               f"{MAX_OPERATORS_PER_STATEMENT} operators)", token.start[0])
        if elifs > MAX_ELIF:
            raise CompileError("nesting_too_deep", f"more than {MAX_ELIF} elif branches",
                               token.start[0])


def _parse(source: str) -> ast.Module:
    ensure_headroom(_PARSE_HEADROOM)
    return ast.parse(source, mode="exec")


def _syntax_error(exc: SyntaxError) -> CompileError:
    return CompileError("syntax_error", "invalid syntax", exc.lineno or 1, detail=str(exc.msg))


def _checked_tokens(source: str) -> None:
    """Token checks; a tokenizer failure is reported as the parser would report it."""
    try:
        _check_tokens(source)
    except (tokenize.TokenError, SyntaxError) as exc:
        try:
            _parse(source)
        except SyntaxError as parse_exc:
            raise _syntax_error(parse_exc) from None
        except (RecursionError, MemoryError):
            pass
        lineno = exc.args[1][0] if isinstance(exc, tokenize.TokenError) else (exc.lineno or 1)
        raise CompileError("syntax_error", "invalid syntax", lineno, detail=str(exc.args[0])) from None


def check_nesting(tree: ast.AST) -> None:
    """Reject statement/expression nesting deeper than MAX_NESTING (iteratively)."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (ast.stmt, ast.expr)):
            depth += 1
            if depth > MAX_NESTING:
                raise CompileError("nesting_too_deep", f"code nested deeper than {MAX_NESTING} "
                                   "levels", node.lineno)
        stack.extend((child, depth) for child in reversed(list(ast.iter_child_nodes(node))))


def parse_source(source: str) -> ast.Module:
    if not isinstance(source, str):
        raise CompileError("bad_contract", "contract source must be str", 1)
    if len(source.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        raise CompileError("bad_contract", f"contract source larger than {MAX_SOURCE_BYTES} "
                           "bytes", 1)
    if "\0" in source:
        raise CompileError("syntax_error", "source contains a null byte", 1)
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = source.count("\n", 0, exc.start) + 1
        raise CompileError("syntax_error", "source is not valid Unicode text (a lone surrogate)",
                           line) from None
    with _QUIET, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _checked_tokens(source)
        try:
            tree = _parse(source)
        except SyntaxError as exc:
            raise _syntax_error(exc) from None
        except (RecursionError, MemoryError):
            raise CompileError("nesting_too_deep", "code nested too deeply to parse", 1) from None
    refuse_later_statements(tree)
    check_nesting(tree)
    return tree
