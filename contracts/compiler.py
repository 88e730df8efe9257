"""``compile_contract(source) -> Program``: the contract-language compiler.

Pipeline: ``parsing`` (safe parse, nesting limit) -> ``checker`` (syntax
whitelist) -> this module (top-level constants and functions, name
resolution, local slots) -> ``statements``/``expressions`` (closures).
Compilation is deterministic: the same source always gives a Program with
the same behaviour and gas use.
"""

from __future__ import annotations

import ast

from contracts.checker import check_module
from contracts.errors import CompileError
from contracts.expressions import RESERVED
from contracts.parsing import parse_source
from contracts.program import Function, Program, is_public
from contracts.signature import Signature
from contracts.statements import StatementCompiler

_SCOPED_NODES = (ast.ListComp, ast.DictComp, ast.GeneratorExp, ast.Lambda)


class ModuleNames:
    """Top-level names of a contract: constants and functions."""

    def __init__(self) -> None:
        self.constants: dict[str, object] = {}
        self.functions: dict[str, Function] = {}

    def declare(self, name: str, node: ast.AST) -> None:
        if name in RESERVED:
            raise CompileError("name_not_allowed", f"'{name}' is a builtin name", node.lineno)
        if name in self.constants or name in self.functions:
            raise CompileError("bad_contract", f"'{name}' is defined twice", node.lineno)

    def check_binding(self, name: str, lineno: int) -> None:
        """Locals may shadow contract functions (as in Python), not constants or builtins."""
        if name in RESERVED or name in self.constants:
            raise CompileError("name_not_allowed", f"cannot bind '{name}' (a constant or "
                               "builtin name)", lineno)

    def constant_value(self, node: ast.expr) -> object:
        """Evaluate a constant expression: literal, -literal, tuple, or earlier constant."""
        if isinstance(node, ast.Constant):
            return node.value
        if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
                and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int):
            return -node.operand.value
        if isinstance(node, ast.Tuple):
            return tuple(self.constant_value(element) for element in node.elts)
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.constants[node.id]
        raise CompileError("bad_contract", "constants and defaults must be literals "
                           "(int, str, bytes, bool, None, tuples of those) or constant names",
                           node.lineno)


class Scope:
    """Frame slots of one function: parameters, then locals, then hidden slots
    (comprehension variables, lambda parameters) allocated while compiling."""

    def __init__(self, names: list[str]) -> None:
        self.locals = {name: index + 1 for index, name in enumerate(names)}
        self.size = len(names) + 1
        self.inner: list[dict[str, int]] = []

    def slot(self, name: str) -> int | None:
        for scope in reversed(self.inner):
            if name in scope:
                return scope[name]
        return self.locals.get(name)

    def push(self, names: list[str]) -> dict[str, int]:
        scope = {}
        for name in names:
            if name not in scope:
                scope[name] = self.size
                self.size += 1
        self.inner.append(scope)
        return scope

    def pop(self) -> None:
        self.inner.pop()


def _assigned_names(body: list[ast.stmt]) -> list[ast.Name]:
    """Names bound in a function body (outside comprehensions and lambdas), in order."""
    found, stack = [], list(reversed(body))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.append(node)
        elif not isinstance(node, _SCOPED_NODES):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))
    return found


def _local_names(module: ModuleNames, node: ast.FunctionDef) -> list[str]:
    """Parameters, then the other names assigned in the body."""
    bound = [(arg.arg, node.lineno) for arg in node.args.args]
    bound += [(name.id, name.lineno) for name in _assigned_names(node.body)]
    for name, lineno in bound:
        module.check_binding(name, lineno)
    return list(dict.fromkeys(name for name, _ in bound))   # first appearance order, in linear time


def compile_contract(source: str) -> Program:
    tree = parse_source(source)
    check_module(tree)
    module = ModuleNames()
    defs: list[ast.FunctionDef] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            name = stmt.targets[0].id
            module.declare(name, stmt)
            module.constants[name] = module.constant_value(stmt.value)
        elif isinstance(stmt, ast.FunctionDef):
            module.declare(stmt.name, stmt)
            defaults = tuple(module.constant_value(d) for d in stmt.args.defaults)
            params = tuple(arg.arg for arg in stmt.args.args)
            module.functions[stmt.name] = Function(stmt.name, Signature(params, defaults),
                                                   stmt.lineno)
            defs.append(stmt)
    if not any(is_public(name) for name in module.functions):
        raise CompileError("bad_contract", "a contract needs at least one public function "
                           "(a def whose name does not start with '_')", 1)
    for node in defs:
        scope = Scope(_local_names(module, node))
        body = StatementCompiler(module, scope).block(node.body)
        module.functions[node.name].set_body(body, scope.size)
    return Program(source, module.functions, module.constants)
