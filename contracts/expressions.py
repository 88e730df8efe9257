"""Compilation of expressions into closures ``ev(c, L) -> value``.

``c`` is the call context (gas meter, host, addresses) and ``L`` the frame:
a list of local variable slots.  Each compiled expression also carries its
static gas cost: NODE_GAS per node evaluated unconditionally.  Parts that may
not run (right operands of and/or, branches of a conditional expression,
comprehension bodies, key functions) charge their own cost when they run.
int/int arithmetic and comparisons are handled inline; everything else goes
to ``operators``, ``builtins``, ``methods`` or ``hostapi``.
"""

from __future__ import annotations

import ast
import operator

from contracts import operators
from contracts.builtins import BUILTINS, TYPE_NAMES
from contracts.errors import CompileError, VMError
from contracts.gas import CALL_GAS, NODE_GAS, UNIT_GAS, units
from contracts.hostapi import CHAIN_ATTRIBUTES, HOST_NATIVES, HOST_OBJECTS
from contracts.limits import INT_BOUND, MAX_DICT_KEY_LENGTH
from contracts.methods import METHODS
from contracts.program import Function
from contracts.runtime import UNBOUND, unbound
from contracts.signature import Default, Native
from contracts.values import iterable, store_key, to_str, type_name

NATIVES: dict[str, Native] = {**BUILTINS, **{name: native for name, native in HOST_NATIVES.items()
                                             if "." not in name}}
RESERVED = frozenset(NATIVES) | frozenset(TYPE_NAMES) | HOST_OBJECTS | {"isinstance"}

_NOT_CONST = object()


class Expr:
    """A compiled expression: closure, static gas cost, and its value if constant."""

    __slots__ = ("ev", "cost", "const")

    def __init__(self, ev, cost: int, const: object = _NOT_CONST):
        self.ev = ev
        self.cost = cost
        self.const = const


def constant(value: object, cost: int = NODE_GAS) -> Expr:
    return Expr(lambda c, L: value, cost, const=value)


def lazy(expr: Expr):
    """The closure of ``expr`` charging its static cost each time it runs."""
    ev, cost = expr.ev, expr.cost
    if not cost:
        return ev

    def run(c, L):
        g = c.gas
        g.remaining -= cost
        if g.remaining < 0:
            g.exhaust()
        return ev(c, L)
    return run


def local_load(slot: int, name: str) -> Expr:
    def ev(c, L):
        value = L[slot]
        if value is UNBOUND:
            raise unbound(name)
        return value
    return Expr(ev, NODE_GAS)


def apply(impl, evs: list):
    """Closure calling ``impl(c, *values)``; small arities unrolled (hot path)."""
    if not evs:
        return lambda c, L: impl(c)
    if len(evs) == 1:
        a, = evs
        return lambda c, L: impl(c, a(c, L))
    if len(evs) == 2:
        a, b = evs
        return lambda c, L: impl(c, a(c, L), b(c, L))
    return lambda c, L: impl(c, *[e(c, L) for e in evs])


# -- int fast paths: (int, int) inline, anything else through the operators module -------

def _arith(fast, slow, left, right):
    def ev(c, L):
        a = left(c, L)
        b = right(c, L)
        if type(a) is int and type(b) is int:
            x = fast(a, b)
            if -INT_BOUND < x < INT_BOUND:
                return x
        return slow(c, a, b)
    return ev


def _division(fast, slow, left, right):
    def ev(c, L):
        a = left(c, L)
        b = right(c, L)
        if type(a) is int and type(b) is int and b:
            return fast(a, b)
        return slow(c, a, b)
    return ev


def _comparison(fast, slow, left, right):
    def ev(c, L):
        a = left(c, L)
        b = right(c, L)
        if type(a) is int and type(b) is int:
            return fast(a, b)
        return slow(c, a, b)
    return ev


def _general(fast, slow, left, right):
    return lambda c, L: slow(c, left(c, L), right(c, L))


_BINARY_FAST = {ast.Add: (_arith, operator.add), ast.Sub: (_arith, operator.sub),
                ast.Mult: (_arith, operator.mul), ast.FloorDiv: (_division, operator.floordiv),
                ast.Mod: (_division, operator.mod)}
_COMPARE_FAST = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
                 ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}


def binary(op: ast.operator, left: Expr, right: Expr) -> Expr:
    template, fast = _BINARY_FAST.get(type(op), (_general, None))
    ev = template(fast, operators.BINARY[type(op)], left.ev, right.ev)
    return Expr(ev, NODE_GAS + left.cost + right.cost)


def _compare_function(op: ast.cmpop):
    """``compare(c, a, b) -> bool`` for one comparison operator."""
    if isinstance(op, ast.Is):
        return lambda c, a, b: a is b
    if isinstance(op, ast.IsNot):
        return lambda c, a, b: a is not b
    return operators.COMPARE[type(op)]


def _compare_one(op: ast.cmpop, left_ev, right_ev):
    if type(op) in _COMPARE_FAST:
        return _comparison(_COMPARE_FAST[type(op)], operators.COMPARE[type(op)], left_ev, right_ev)
    return _general(None, _compare_function(op), left_ev, right_ev)


class ExpressionCompiler:
    """Compiles the expressions of one contract function (see ``statements``)."""

    def __init__(self, module, scope) -> None:
        self.module = module      # compiler.ModuleNames
        self.scope = scope        # compiler.Scope

    def fail(self, code: str, message: str, node: ast.AST) -> CompileError:
        return CompileError(code, message, getattr(node, "lineno", 1))

    def expr(self, node: ast.expr) -> Expr:
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            raise self.fail("syntax_not_allowed", f"{type(node).__name__} is not allowed here",
                            node)
        return method(node)

    # -- leaves --------------------------------------------------------------------------

    def expr_Constant(self, node: ast.Constant) -> Expr:
        return constant(node.value)

    def expr_Name(self, node: ast.Name) -> Expr:
        name = node.id
        slot = self.scope.slot(name)
        if slot is not None:
            return local_load(slot, name)
        if name in self.module.constants:
            return constant(self.module.constants[name])
        if name in self.module.functions or name in RESERVED:
            raise self.fail("syntax_not_allowed", f"'{name}' can only be called "
                            "(or used as attribute owner), not used as a value", node)
        raise self.fail("undefined_name", f"name '{name}' is not defined", node)

    def expr_Attribute(self, node: ast.Attribute) -> Expr:
        read = CHAIN_ATTRIBUTES[node.attr]   # the checker allows only chain.<attribute>
        return Expr(lambda c, L: read(c), NODE_GAS * 2)

    # -- operators -----------------------------------------------------------------------

    def expr_BinOp(self, node: ast.BinOp) -> Expr:
        return binary(node.op, self.expr(node.left), self.expr(node.right))

    def expr_UnaryOp(self, node: ast.UnaryOp) -> Expr:
        operand = self.expr(node.operand)
        cost = NODE_GAS + operand.cost
        if isinstance(node.op, ast.USub) and type(operand.const) is int:
            return constant(-operand.const, cost)
        ev, slow = operand.ev, operators.UNARY[type(node.op)]
        if isinstance(node.op, ast.Not):
            return Expr(lambda c, L: not ev(c, L), cost)
        return Expr(lambda c, L: slow(c, ev(c, L)), cost)

    def expr_BoolOp(self, node: ast.BoolOp) -> Expr:
        first, *rest = [self.expr(value) for value in node.values]
        first_ev, rest_evs = first.ev, tuple(lazy(expr) for expr in rest)
        stop_when = not isinstance(node.op, ast.And)   # `or` stops at a true value

        def ev(c, L):
            value = first_ev(c, L)
            for next_ev in rest_evs:
                if bool(value) is stop_when:
                    return value
                value = next_ev(c, L)
            return value
        return Expr(ev, NODE_GAS + first.cost)

    def expr_Compare(self, node: ast.Compare) -> Expr:
        left = self.expr(node.left)
        rights = [self.expr(right) for right in node.comparators]
        cost = NODE_GAS + left.cost + rights[0].cost
        if len(rights) == 1:
            return Expr(_compare_one(node.ops[0], left.ev, rights[0].ev), cost)
        # chained: in a < b < c, c is evaluated (and charged) only if a < b holds
        steps = tuple((right.ev if index == 0 else lazy(right), _compare_function(op))
                      for index, (op, right) in enumerate(zip(node.ops, rights)))
        left_ev = left.ev

        def ev(c, L):
            a = left_ev(c, L)
            for right_ev, compare in steps:
                b = right_ev(c, L)
                if not compare(c, a, b):
                    return False
                a = b
            return True
        return Expr(ev, cost)

    def expr_IfExp(self, node: ast.IfExp) -> Expr:
        test = self.expr(node.test)
        test_ev, body, orelse = test.ev, lazy(self.expr(node.body)), lazy(self.expr(node.orelse))
        return Expr(lambda c, L: body(c, L) if test_ev(c, L) else orelse(c, L),
                    NODE_GAS + test.cost)

    # -- containers ----------------------------------------------------------------------

    def _elements(self, nodes: list[ast.expr]) -> tuple[list, int]:
        """Closures of container elements and the cost of building the container."""
        exprs = [self.expr(node) for node in nodes]
        return [e.ev for e in exprs], UNIT_GAS * len(exprs) + sum(e.cost for e in exprs)

    def expr_List(self, node: ast.List) -> Expr:
        evs, cost = self._elements(node.elts)
        count = len(evs)

        def ev(c, L):
            c.gas.count_allocation(count)
            return [e(c, L) for e in evs]
        return Expr(ev, NODE_GAS + cost)

    def expr_Tuple(self, node: ast.Tuple) -> Expr:
        evs, cost = self._elements(node.elts)
        count = len(evs)

        def ev(c, L):
            c.gas.count_allocation(count)
            return tuple([e(c, L) for e in evs])
        return Expr(ev, NODE_GAS + cost)

    def expr_Dict(self, node: ast.Dict) -> Expr:
        key_evs, key_cost = self._elements(node.keys)
        value_evs, value_cost = self._elements(node.values)
        pairs = tuple(zip(key_evs, value_evs))
        count = len(pairs)
        if all(isinstance(k, ast.Constant) and type(k.value) is str
               and len(k.value) <= MAX_DICT_KEY_LENGTH for k in node.keys):   # valid, unguessable hash
            def ev(c, L):
                c.gas.count_allocation(count)
                return {k(c, L): v(c, L) for k, v in pairs}
        else:
            def ev(c, L):
                c.gas.count_allocation(count)
                return {store_key(c.gas, k(c, L)): v(c, L) for k, v in pairs}
        return Expr(ev, NODE_GAS + key_cost + value_cost)

    def expr_JoinedStr(self, node: ast.JoinedStr) -> Expr:
        parts, cost = [], NODE_GAS
        for value in node.values:
            part = self.expr(value.value if isinstance(value, ast.FormattedValue) else value)
            parts.append(part.ev)
            cost += part.cost

        def ev(c, L):
            texts = [to_str(part(c, L)) for part in parts]
            c.gas.allocate(units(sum(map(len, texts))))
            return "".join(texts)
        return Expr(ev, cost)

    def expr_Subscript(self, node: ast.Subscript) -> Expr:
        obj = self.expr(node.value)
        obj_ev = obj.ev
        if isinstance(node.slice, ast.Slice):
            bounds = [self.expr(b) if b is not None else constant(None, 0)
                      for b in (node.slice.lower, node.slice.upper, node.slice.step)]
            lower, upper, step = (b.ev for b in bounds)
            return Expr(lambda c, L: operators.getslice(c, obj_ev(c, L), lower(c, L), upper(c, L),
                                                        step(c, L)),
                        NODE_GAS * 2 + obj.cost + sum(b.cost for b in bounds))
        key = self.expr(node.slice)
        key_ev, getitem = key.ev, operators.getitem

        def ev(c, L):
            o = obj_ev(c, L)
            k = key_ev(c, L)
            t = type(o)
            if (t is dict and type(k) is str) or (t is list and type(k) is int):
                try:
                    return o[k]
                except LookupError:
                    pass
            return getitem(c, o, k)
        return Expr(ev, NODE_GAS + obj.cost + key.cost)

    # -- comprehensions ------------------------------------------------------------------

    def _comprehension(self, node, emit_factory) -> Expr:
        generators = node.generators
        first_iter = self.expr(generators[0].iter)
        self.scope.push(self._inner_names(_target_names(generators), node))
        levels = []
        for index, generator in enumerate(generators):
            iter_ev = first_iter.ev if index == 0 else lazy(self.expr(generator.iter))
            assign, assign_cost = self.target(generator.target)
            conditions = tuple(lazy(self.expr(cond)) for cond in generator.ifs)
            levels.append((iter_ev, assign, NODE_GAS + assign_cost, conditions))
        run, empty = emit_factory()
        self.scope.pop()
        for iter_ev, assign, step_cost, conditions in reversed(levels):
            run = _comprehension_level(iter_ev, assign, step_cost, conditions, run)

        def ev(c, L):
            out = empty()
            run(c, L, out)
            return out
        return Expr(ev, NODE_GAS + first_iter.cost)

    def _list_comprehension(self, node) -> Expr:
        def emit_factory():
            element = self.expr(node.elt)
            element_ev = lazy(Expr(element.ev, element.cost + UNIT_GAS))

            def emit(c, L, out):
                element = element_ev(c, L)
                c.gas.count_allocation(1)
                out.append(element)
            return emit, list
        return self._comprehension(node, emit_factory)

    expr_ListComp = expr_GeneratorExp = _list_comprehension

    def expr_DictComp(self, node: ast.DictComp) -> Expr:
        def emit_factory():
            key, value = self.expr(node.key), self.expr(node.value)
            key_ev = lazy(Expr(key.ev, key.cost + UNIT_GAS))
            value_ev = lazy(value)

            def emit(c, L, out):
                k = store_key(c.gas, key_ev(c, L))
                out[k] = value_ev(c, L)
            return emit, dict
        return self._comprehension(node, emit_factory)

    def expr_Lambda(self, node: ast.Lambda) -> Expr:
        raise self.fail("syntax_not_allowed", "lambda is only allowed as the key= argument of "
                        "sorted, min and max", node)

    # -- calls ---------------------------------------------------------------------------

    def expr_Call(self, node: ast.Call) -> Expr:
        func = node.func
        if isinstance(func, ast.Attribute):
            if isinstance(func.value, ast.Name) and func.value.id in HOST_OBJECTS:
                return self.native_call(HOST_NATIVES[f"{func.value.id}.{func.attr}"], node)
            return self.method_call(func, node)
        if not isinstance(func, ast.Name):
            raise self.fail("syntax_not_allowed", "only named functions and methods can be "
                            "called", node)
        name = func.id
        if self.scope.slot(name) is not None or name in self.module.constants:
            raise self.fail("bad_call", f"'{name}' is not a function", node)
        if name in self.module.functions:
            return self.function_call(self.module.functions[name], node)
        if name in NATIVES:
            return self.native_call(NATIVES[name], node)
        if name == "isinstance":
            return self.isinstance_call(node)
        if name in RESERVED:
            raise self.fail("bad_call", f"'{name}' is not a function", node)
        raise self.fail("undefined_name", f"function '{name}' is not defined", node)

    def _arguments(self, node: ast.Call, bound: list, function_params=(), names=()) -> tuple:
        evs, cost = [], NODE_GAS
        for index, arg in enumerate(bound):
            if index < len(names) and names[index] in function_params:
                expr = self.function_arg(arg)
            elif isinstance(arg, Default):
                expr = constant(arg.value, 0)
            else:
                expr = self.expr(arg)
            evs.append(expr.ev)
            cost += expr.cost
        return evs, cost

    def native_call(self, native: Native, node: ast.Call) -> Expr:
        bound = native.sig.bind(native.name, node.args, node.keywords, node.lineno)
        evs, cost = self._arguments(node, bound, native.function_params, native.param_names())
        return Expr(apply(native.impl, evs), cost)

    def function_call(self, function: Function, node: ast.Call) -> Expr:
        bound = function.sig.bind(function.name, node.args, node.keywords, node.lineno)
        evs, cost = self._arguments(node, bound)
        enter = function.enter

        def ev(c, L):
            frame = [None]
            for e in evs:
                frame.append(e(c, L))
            frame += function.pad
            return enter(c, frame)
        return Expr(ev, cost)

    def method_call(self, func: ast.Attribute, node: ast.Call) -> Expr:
        if node.keywords:
            raise self.fail("bad_call", f".{func.attr}() takes positional arguments only", node)
        name, count = func.attr, len(node.args)
        table = METHODS[name]
        site = {t: impl for t, (impl, low, high) in table.items() if low <= count <= high}
        if not site:
            raise self.fail("bad_call", f".{name}() cannot take {count} arguments", node)
        obj = self.expr(func.value)
        evs, cost = self._arguments(node, node.args)

        def call_method(c, o, *args):
            impl = site.get(type(o))
            if impl is None:
                raise VMError("type_error", f"{type_name(o)}.{name}() does not take {count} "
                              "arguments" if type(o) in table else
                              f"{type_name(o)} has no method {name}()")
            return impl(c, o, *args)
        return Expr(apply(call_method, [obj.ev, *evs]), cost + obj.cost)

    def isinstance_call(self, node: ast.Call) -> Expr:
        if len(node.args) != 2 or node.keywords:
            raise self.fail("bad_call", "isinstance() takes a value and a type", node)
        spec = node.args[1]
        names = spec.elts if isinstance(spec, ast.Tuple) else [spec]
        if not all(isinstance(n, ast.Name) and n.id in TYPE_NAMES for n in names):
            raise self.fail("bad_call", "isinstance() type must be one of "
                            f"{', '.join(TYPE_NAMES)} or a tuple of them", node)
        types = tuple(TYPE_NAMES[n.id] for n in names)
        value = self.expr(node.args[0])
        value_ev = value.ev
        return Expr(lambda c, L: isinstance(value_ev(c, L), types), NODE_GAS * 2 + value.cost)

    def function_arg(self, node: ast.expr | Default) -> Expr:
        """A key= argument: None, a one-parameter lambda, or a contract function name."""
        if isinstance(node, Default) or (isinstance(node, ast.Constant) and node.value is None):
            return constant(None, 0)
        if isinstance(node, ast.Lambda):
            if len(node.args.args) != 1:
                raise self.fail("bad_call", "a key lambda takes exactly one parameter", node)
            (slot,) = self.scope.push(self._inner_names([node.args.args[0].arg], node)).values()
            body = self.expr(node.body)
            self.scope.pop()
            body_ev, cost = body.ev, CALL_GAS + body.cost

            def make_key(c, L):
                def key(value):
                    L[slot] = value
                    c.gas.charge(cost)
                    return body_ev(c, L)
                return key
            return Expr(make_key, NODE_GAS)
        function = (self.module.functions.get(node.id) if isinstance(node, ast.Name)
                    and self.scope.slot(node.id) is None else None)
        if function is None or not function.sig.accepts(1):
            raise self.fail("bad_call", "key must be None, a lambda or the name of a contract "
                            "function taking one argument", node)
        call, bind = function.call, function.sig.bind_values
        return Expr(lambda c, L: lambda value: call(c, bind(function.name, [value])), NODE_GAS)

    def _inner_names(self, names: list[str], node: ast.AST) -> list[str]:
        """Names bound by a comprehension or lambda, checked like other locals."""
        for name in names:
            self.module.check_binding(name, node.lineno)
        return names

    def target(self, node: ast.expr):
        """Compile an assignment target: returns (assign(c, L, value), static cost)."""
        if isinstance(node, ast.Name):
            slot = self.scope.slot(node.id)

            def assign_local(c, L, value):
                L[slot] = value
            return assign_local, NODE_GAS
        if isinstance(node, (ast.Tuple, ast.List)):
            parts = [self.target(element) for element in node.elts]
            return _unpack(tuple(assign for assign, _ in parts)), \
                NODE_GAS + sum(cost for _, cost in parts)
        if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
            obj, key = self.expr(node.value), self.expr(node.slice)
            obj_ev, key_ev, setitem = obj.ev, key.ev, operators.setitem

            def assign_item(c, L, value):
                o = obj_ev(c, L)
                k = key_ev(c, L)
                if type(o) is list and type(k) is int:
                    try:
                        o[k] = value
                        return
                    except IndexError:
                        pass
                setitem(c, o, k, value)
            return assign_item, NODE_GAS + obj.cost + key.cost
        raise self.fail("syntax_not_allowed", f"cannot assign to {type(node).__name__}", node)


def _unpack(assigns: tuple):
    count = len(assigns)

    def assign(c, L, value):
        if type(value) is not tuple and type(value) is not list:
            raise VMError("type_error", f"cannot unpack {type_name(value)}")
        if len(value) != count:
            raise VMError("runtime_error", f"expected {count} values to unpack, got {len(value)}")
        for assign_one, item in zip(assigns, value):
            assign_one(c, L, item)
    return assign


def _target_names(generators: list[ast.comprehension]) -> list[str]:
    return [n.id for g in generators for n in ast.walk(g.target) if isinstance(n, ast.Name)]


def _comprehension_level(iter_ev, assign, step_cost, conditions, inner):
    def run(c, L, out):
        g = c.gas
        for value in iterable(iter_ev(c, L)):
            g.remaining -= step_cost
            if g.remaining < 0:
                g.exhaust()
            assign(c, L, value)
            for condition in conditions:
                if not condition(c, L):
                    break
            else:
                inner(c, L, out)
    return run
