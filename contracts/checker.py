"""Static whitelist checks of a parsed contract, reported with line numbers.

This pass decides what syntax the contract language allows.  It runs after
``parsing.check_nesting`` (so recursion here is bounded) and before the
compiler, which then resolves names and call signatures.
"""

from __future__ import annotations

import ast
from collections import Counter

from contracts.errors import CompileError
from contracts.hostapi import CHAIN_ATTRIBUTES, HOST_NATIVES, HOST_OBJECTS
from contracts.limits import INT_BOUND
from contracts.methods import METHODS

MAX_COMPREHENSION_FORS = 3

_REJECTED: dict[type, tuple[str, str]] = {
    ast.Import: ("import_not_allowed", "imports are not allowed"),
    ast.ImportFrom: ("import_not_allowed", "imports are not allowed"),
    ast.ClassDef: ("syntax_not_allowed", "classes are not allowed"),
    ast.AsyncFunctionDef: ("syntax_not_allowed", "async is not allowed"),
    ast.AsyncFor: ("syntax_not_allowed", "async is not allowed"),
    ast.AsyncWith: ("syntax_not_allowed", "async is not allowed"),
    ast.Await: ("syntax_not_allowed", "async is not allowed"),
    ast.With: ("syntax_not_allowed", "with is not allowed"),
    ast.Try: ("syntax_not_allowed", "try/except is not allowed (a failure reverts the "
              "whole transaction)"),
    ast.TryStar: ("syntax_not_allowed", "try/except is not allowed"),
    ast.Raise: ("syntax_not_allowed", "raise is not allowed (use revert(message))"),
    ast.Assert: ("syntax_not_allowed", "assert is not allowed (use require(condition, "
                 "message))"),
    ast.Global: ("syntax_not_allowed", "global is not allowed"),
    ast.Nonlocal: ("syntax_not_allowed", "nonlocal is not allowed"),
    ast.Match: ("syntax_not_allowed", "match is not allowed"),
    ast.Yield: ("syntax_not_allowed", "yield is not allowed"),
    ast.YieldFrom: ("syntax_not_allowed", "yield is not allowed"),
    ast.Set: ("syntax_not_allowed", "set literals are not allowed"),
    ast.SetComp: ("syntax_not_allowed", "set comprehensions are not allowed"),
    ast.NamedExpr: ("syntax_not_allowed", "assignment expressions (:=) are not allowed"),
    ast.Starred: ("syntax_not_allowed", "star unpacking is not allowed"),
    ast.Div: ("float_not_allowed", "'/' is true division (floats); use '//'"),
    ast.MatMult: ("syntax_not_allowed", "'@' is not allowed"),
}

_ALLOWED = frozenset({
    ast.FunctionDef, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.If, ast.For,
    ast.While, ast.Break, ast.Continue, ast.Return, ast.Pass, ast.Delete,
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Dict, ast.List, ast.Tuple, ast.Compare,
    ast.Call, ast.Constant, ast.Attribute, ast.Subscript, ast.Slice, ast.Name, ast.ListComp,
    ast.DictComp, ast.GeneratorExp, ast.Lambda, ast.JoinedStr, ast.FormattedValue,
    ast.comprehension, ast.keyword, ast.Load, ast.Store, ast.Del,
    ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift,
    ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.Invert, ast.Not, ast.UAdd, ast.USub,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
})

_ANNOTATION_NODES = (ast.Name, ast.Constant, ast.Subscript, ast.Tuple, ast.BinOp, ast.BitOr,
                     ast.Load, ast.List)


def _fail(code: str, message: str, node: ast.AST) -> CompileError:
    return CompileError(code, message, getattr(node, "lineno", 1))


def _exits(body: list[ast.stmt], nested: bool = False) -> bool:
    """True if the statements contain a return, or a break of the enclosing loop."""
    for stmt in body:
        if isinstance(stmt, ast.Return) or (isinstance(stmt, ast.Break) and not nested):
            return True
        if isinstance(stmt, (ast.For, ast.While)) and _exits(stmt.body, True):
            return True
        if isinstance(stmt, ast.If) and (_exits(stmt.body, nested) or _exits(stmt.orelse, nested)):
            return True
    return False


class Checker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.loops = 0
        self.in_function = False

    def check_module(self, tree: ast.Module) -> None:
        for index, stmt in enumerate(tree.body):
            if isinstance(stmt, ast.FunctionDef):
                self.visit(stmt)
            elif isinstance(stmt, ast.Assign):
                if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                    raise _fail("bad_contract", "top-level assignments must be NAME = constant",
                                stmt)
                self.visit(stmt.value)
            elif not (index == 0 and isinstance(stmt, ast.Expr)
                      and isinstance(stmt.value, ast.Constant)
                      and isinstance(stmt.value.value, str)):
                if type(stmt) in _REJECTED:
                    self.visit(stmt)
                raise _fail("bad_contract", "only function definitions and constant assignments "
                            "are allowed at the top level", stmt)

    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        if kind in _REJECTED:
            raise _fail(*_REJECTED[kind], node)
        if kind not in _ALLOWED:
            raise _fail("syntax_not_allowed", f"{kind.__name__} is not allowed", node)
        super().visit(node)

    # -- definitions ---------------------------------------------------------------------

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if self.in_function:
            raise _fail("syntax_not_allowed", "nested functions are not allowed", node)
        if node.decorator_list:
            raise _fail("syntax_not_allowed", "decorators are not allowed", node)
        self._check_arguments(node.args, node, allow_defaults=True)
        for annotation in [node.returns] + [arg.annotation for arg in node.args.args]:
            self._check_annotation(annotation)
        for default in node.args.defaults:
            self.visit(default)
        self.in_function = True
        for stmt in node.body:
            self.visit(stmt)
        self.in_function = False

    def _check_arguments(self, args: ast.arguments, node: ast.AST, allow_defaults: bool) -> None:
        if args.posonlyargs or args.vararg or args.kwonlyargs or args.kwarg:
            raise _fail("syntax_not_allowed", "only plain positional parameters are allowed", node)
        if args.defaults and not allow_defaults:
            raise _fail("syntax_not_allowed", "lambda parameters cannot have defaults", node)
        names = [arg.arg for arg in args.args]
        counts = Counter(names)
        for name in names:
            if counts[name] > 1:
                raise _fail("syntax_error", f"duplicate parameter '{name}'", node)

    def _check_annotation(self, annotation: ast.expr | None) -> None:
        """Annotations are documentation only: never evaluated, so kept simple."""
        for node in ast.walk(annotation) if annotation is not None else ():
            if isinstance(node, ast.Name) and node.id == "float":
                raise _fail("float_not_allowed", "floats are not allowed", node)
            if not isinstance(node, _ANNOTATION_NODES):
                raise _fail("syntax_not_allowed", "annotations may only name types", node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._check_arguments(node.args, node, allow_defaults=False)
        self.visit(node.body)

    # -- statements ----------------------------------------------------------------------

    def _loop(self, node: ast.For | ast.While) -> None:
        if node.orelse:
            raise _fail("syntax_not_allowed", "else on loops is not allowed", node)
        self.loops += 1
        self.generic_visit(node)
        self.loops -= 1

    def visit_For(self, node: ast.For) -> None:
        self._loop(node)

    def visit_While(self, node: ast.While) -> None:
        if all(isinstance(stmt, ast.Pass) for stmt in node.body):
            raise _fail("unbounded_while", "while loop with an empty body", node)
        if (isinstance(node.test, ast.Constant) and node.test.value
                and not _exits(node.body)):
            raise _fail("unbounded_while", "while with a constant true condition needs a "
                        "break or return in its body", node)
        self._loop(node)

    def _loop_control(self, node: ast.stmt) -> None:
        if not self.loops:
            raise _fail("syntax_error", f"'{type(node).__name__.lower()}' outside loop", node)

    visit_Break = visit_Continue = _loop_control

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is None or not isinstance(node.target, ast.Name):
            raise _fail("syntax_not_allowed", "annotated assignments need a name and a value",
                        node)
        self._check_annotation(node.annotation)
        self.visit(node.value)

    def _operator(self, node: ast.BinOp | ast.AugAssign) -> None:
        """Operator nodes carry no line number: report rejected ones on their statement."""
        if type(node.op) in _REJECTED:
            raise _fail(*_REJECTED[type(node.op)], node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._operator(node)
        self.visit(node.target)
        self.visit(node.value)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                raise _fail("syntax_not_allowed", "del of names is not allowed", target)
        self.generic_visit(node)

    # -- expressions ---------------------------------------------------------------------

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, (float, complex)):
            raise _fail("float_not_allowed", "floats are not allowed", node)
        if value is Ellipsis:
            raise _fail("syntax_not_allowed", "... is not allowed", node)
        if isinstance(value, int) and not -INT_BOUND < value < INT_BOUND:
            raise _fail("int_overflow", "integer literal out of range (abs must be < 2**256)",
                        node)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _fail("syntax_not_allowed", "string literal is not valid UTF-8",
                            node) from None

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "float":
            raise _fail("float_not_allowed", "float() is not allowed: numbers are ints", node)
        if node.id.startswith("__"):
            raise _fail("name_not_allowed", f"name '{node.id}' is not allowed", node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        """Attributes outside call position: only chain.<attribute>."""
        owner = node.value.id if isinstance(node.value, ast.Name) else None
        if owner == "chain" and node.attr in CHAIN_ATTRIBUTES and isinstance(node.ctx, ast.Load):
            return
        raise _fail("attribute_not_allowed", f"attribute '{node.attr}' is not allowed here", node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            owner = func.value.id if isinstance(func.value, ast.Name) else None
            if owner in HOST_OBJECTS:
                if f"{owner}.{func.attr}" not in HOST_NATIVES:
                    raise _fail("attribute_not_allowed", f"'{owner}.{func.attr}' is not a "
                                "function of the host API", func)
            elif func.attr in METHODS:
                self.visit(func.value)
            else:
                raise _fail("attribute_not_allowed", f"method '{func.attr}' is not allowed",
                            func)
        else:
            self.visit(func)
        for arg in node.args:
            self.visit(arg)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise _fail("syntax_not_allowed", "**arguments are not allowed", node)
            self.visit(keyword.value)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self._operator(node)
        self.visit(node.left)
        self.visit(node.right)

    def visit_Compare(self, node: ast.Compare) -> None:
        for op, right in zip(node.ops, node.comparators):
            if isinstance(op, (ast.Is, ast.IsNot)) and not (
                    isinstance(right, ast.Constant)
                    and any(right.value is singleton for singleton in (None, True, False))):
                raise _fail("syntax_not_allowed", "'is' is only allowed with None, True or False",
                            node)
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        if any(key is None for key in node.keys):
            raise _fail("syntax_not_allowed", "** unpacking is not allowed", node)
        self.generic_visit(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        if node.conversion != -1 or node.format_spec is not None:
            # at the field's expression: where Python 3.11 and 3.12+ agree it is
            raise _fail("syntax_not_allowed", "f-string conversions and format specs are not "
                        "allowed", node.value)
        self.visit(node.value)

    def _comprehension(self, node: ast.ListComp | ast.DictComp | ast.GeneratorExp) -> None:
        if len(node.generators) > MAX_COMPREHENSION_FORS:
            raise _fail("syntax_not_allowed", f"at most {MAX_COMPREHENSION_FORS} for clauses in "
                        "a comprehension", node)
        for generator in node.generators:
            if generator.is_async:
                raise _fail("syntax_not_allowed", "async is not allowed", node)
        self.generic_visit(node)

    visit_ListComp = visit_DictComp = visit_GeneratorExp = _comprehension


def check_module(tree: ast.Module) -> None:
    Checker().check_module(tree)
