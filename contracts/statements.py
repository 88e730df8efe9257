"""Compilation of statements into closures ``run(c, L) -> signal``.

A statement returns None to fall through, or BREAK, CONTINUE or RETURN (the
value is then in frame slot 0).  A block charges each statement's static gas
cost just before running it; loops charge each iteration (the loop test, or
binding the loop variable) before running it.
"""

from __future__ import annotations

import ast

from contracts import operators
from contracts.builtins import range_of
from contracts.expressions import ExpressionCompiler, NATIVES, binary, constant, local_load
from contracts.gas import NODE_GAS
from contracts.runtime import BREAK, CONTINUE, RETURN
from contracts.values import iterable


def _noop(c, L):
    return None


def _loop(run_body, slot, assign, step_cost):
    """The loop driver shared by every for statement: runs the body per value."""
    def loop(c, L, values):
        g = c.gas
        for value in values:
            g.remaining -= step_cost
            if g.remaining < 0:
                g.exhaust()
            if slot is None:
                assign(c, L, value)
            else:
                L[slot] = value
            signal = run_body(c, L)
            if signal is not None and signal is not CONTINUE:
                return None if signal is BREAK else signal
        return None
    return loop


class StatementCompiler(ExpressionCompiler):
    """Compiles the body of one contract function."""

    def block(self, stmts: list[ast.stmt]):
        """A statement sequence as one closure."""
        steps = tuple(step for step in map(self.stmt, stmts) if step is not None)
        if not steps:
            return _noop
        if len(steps) == 1:
            ((run, cost),) = steps

            def single(c, L):
                g = c.gas
                g.remaining -= cost
                if g.remaining < 0:
                    g.exhaust()
                return run(c, L)
            return single

        def sequence(c, L):
            g = c.gas
            for run, cost in steps:
                g.remaining -= cost
                if g.remaining < 0:
                    g.exhaust()
                signal = run(c, L)
                if signal is not None:
                    return signal
            return None
        return sequence

    def stmt(self, node: ast.stmt):
        """(run, static cost), or None for statements that do nothing."""
        return getattr(self, "stmt_" + type(node).__name__)(node)

    # -- simple statements ---------------------------------------------------------------

    def stmt_Pass(self, node: ast.Pass):
        return None

    def stmt_Expr(self, node: ast.Expr):
        if isinstance(node.value, ast.Constant):   # docstrings and other bare constants
            return None
        value = self.expr(node.value)
        ev = value.ev

        def run(c, L):
            ev(c, L)
        return run, NODE_GAS + value.cost

    def stmt_Assign(self, node: ast.Assign):
        value = self.expr(node.value)
        ev = value.ev
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            slot = self.scope.slot(node.targets[0].id)

            def run_local(c, L):
                L[slot] = ev(c, L)
            return run_local, NODE_GAS * 2 + value.cost
        targets = [self.target(target) for target in node.targets]
        assigns = tuple(assign for assign, _ in targets)

        def run(c, L):
            result = ev(c, L)
            for assign in assigns:
                assign(c, L, result)
        return run, NODE_GAS + value.cost + sum(cost for _, cost in targets)

    def stmt_AnnAssign(self, node: ast.AnnAssign):
        return self.stmt_Assign(ast.Assign(targets=[node.target], value=node.value,
                                           lineno=node.lineno))

    def stmt_AugAssign(self, node: ast.AugAssign):
        target, value = node.target, self.expr(node.value)
        if isinstance(target, ast.Name):
            slot = self.scope.slot(target.id)
            result = binary(node.op, local_load(slot, target.id), value)
            ev = result.ev

            def run_local(c, L):
                L[slot] = ev(c, L)
            return run_local, NODE_GAS * 2 + result.cost
        if not isinstance(target, ast.Subscript) or isinstance(target.slice, ast.Slice):
            raise self.fail("syntax_not_allowed", "augmented assignment needs a name or an "
                            "item target", node)
        obj, key = self.expr(target.value), self.expr(target.slice)
        obj_ev, key_ev, value_ev = obj.ev, key.ev, value.ev
        op = operators.BINARY[type(node.op)]

        def run(c, L):
            o = obj_ev(c, L)
            k = key_ev(c, L)
            current = operators.getitem(c, o, k)
            operators.setitem(c, o, k, op(c, current, value_ev(c, L)))
        return run, NODE_GAS * 3 + obj.cost + key.cost + value.cost

    def stmt_Delete(self, node: ast.Delete):
        items = []
        for target in node.targets:
            if not isinstance(target, ast.Subscript) or isinstance(target.slice, ast.Slice):
                raise self.fail("syntax_not_allowed", "del only removes one item: del x[key]",
                                node)
            items.append((self.expr(target.value), self.expr(target.slice)))
        pairs = tuple((obj.ev, key.ev) for obj, key in items)

        def run(c, L):
            for obj_ev, key_ev in pairs:
                operators.delitem(c, obj_ev(c, L), key_ev(c, L))
        return run, NODE_GAS + sum(obj.cost + key.cost + NODE_GAS for obj, key in items)

    def stmt_Return(self, node: ast.Return):
        value = self.expr(node.value) if node.value is not None else constant(None, 0)
        ev = value.ev

        def run(c, L):
            L[0] = ev(c, L)
            return RETURN
        return run, NODE_GAS + value.cost

    def stmt_Break(self, node: ast.Break):
        return (lambda c, L: BREAK), NODE_GAS

    def stmt_Continue(self, node: ast.Continue):
        return (lambda c, L: CONTINUE), NODE_GAS

    # -- compound statements -------------------------------------------------------------

    def stmt_If(self, node: ast.If):
        test = self.expr(node.test)
        test_ev, body = test.ev, self.block(node.body)
        orelse = self.block(node.orelse)

        def run(c, L):
            return body(c, L) if test_ev(c, L) else orelse(c, L)
        return run, NODE_GAS + test.cost

    def stmt_While(self, node: ast.While):
        test = self.expr(node.test)
        test_ev, body, step_cost = test.ev, self.block(node.body), NODE_GAS + test.cost

        def run(c, L):
            g = c.gas
            while True:
                g.remaining -= step_cost
                if g.remaining < 0:
                    g.exhaust()
                if not test_ev(c, L):
                    return None
                signal = body(c, L)
                if signal is not None and signal is not CONTINUE:
                    return None if signal is BREAK else signal
        return run, 0

    def stmt_For(self, node: ast.For):
        assign, assign_cost = self.target(node.target)
        slot = self.scope.slot(node.target.id) if isinstance(node.target, ast.Name) else None
        loop = _loop(self.block(node.body), slot, assign, NODE_GAS + assign_cost)
        counted = self._range_arguments(node.iter)
        if counted is not None:   # for i in range(...): no list is built
            start, stop, step = (arg.ev for arg in counted)

            def run_range(c, L):
                return loop(c, L, range_of(start(c, L), stop(c, L), step(c, L)))
            return run_range, NODE_GAS * 2 + sum(arg.cost for arg in counted)
        values = self.expr(node.iter)
        values_ev = values.ev

        def run(c, L):
            return loop(c, L, iterable(values_ev(c, L)))
        return run, NODE_GAS + values.cost

    def _range_arguments(self, node: ast.expr):
        """The (start, stop, step) Exprs of a plain range(...) call, else None."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "range"):
            return None
        native = NATIVES["range"]
        bound = native.sig.bind("range", node.args, node.keywords, node.lineno)
        return [self.expr(arg) if isinstance(arg, ast.expr) else constant(arg.value, 0)
                for arg in bound]
