"""Semantics of the operators on contract values (the general, type-checked path).

The compiled closures handle int/int cases inline; everything else comes here.
Each function takes the call context ``c`` first so it can charge gas for the
work that depends on the size of its operands, BEFORE doing that work.
"""

from __future__ import annotations

import ast

from contracts.errors import VMError
from contracts.gas import POWER_GAS, UNIT_GAS, units
from contracts.values import charge_weight, check_int, check_key, is_int, show, store_key, type_name

_SEQUENCES = (str, bytes, list, tuple)
_SIZED = (str, bytes, list, tuple, dict)


def _unsupported(symbol: str, a: object, b: object) -> VMError:
    return VMError("type_error", f"unsupported operand types for {symbol}: "
                   f"{type_name(a)} and {type_name(b)}")


def _size_units(seq: object, length: int) -> int:
    return units(length) if type(seq) in (str, bytes) else length


def _ints(symbol: str, a: object, b: object) -> None:
    if not (is_int(a) and is_int(b)):
        raise _unsupported(symbol, a, b)


def add(c, a, b):
    # sequences first: compiled code adds two ints itself, so they rarely get here
    if type(a) is type(b) and type(a) in _SEQUENCES:
        c.gas.allocate(_size_units(a, len(a) + len(b)))
        return a + b
    if is_int(a) and is_int(b):
        return check_int(a + b)
    raise _unsupported("+", a, b)


def sub(c, a, b):
    _ints("-", a, b)
    return check_int(a - b)


def mul(c, a, b):
    if is_int(a) and is_int(b):
        return check_int(a * b)
    seq, count = (a, b) if is_int(b) else (b, a)
    if type(seq) not in _SEQUENCES or not is_int(count):
        raise _unsupported("*", a, b)
    c.gas.allocate(_size_units(seq, len(seq) * max(count, 0)))
    return seq * count


def _divisor(symbol: str, a: object, b: object) -> None:
    _ints(symbol, a, b)
    if not b:
        raise VMError("runtime_error", "division by zero")


def floordiv(c, a, b):
    _divisor("//", a, b)
    return a // b


def mod(c, a, b):
    _divisor("%", a, b)
    return a % b


def power(c, a, b):
    _ints("**", a, b)
    if b < 0:
        raise VMError("runtime_error", "negative exponent (no fractions)")
    result_bits = b * (abs(a).bit_length() - 1) if abs(a) > 1 else 0
    if result_bits >= 256:
        raise VMError("int_overflow", "integer out of range (abs must be < 2**256)")
    c.gas.charge(POWER_GAS * b.bit_length() * (result_bits // 64 + 1))
    return check_int(a ** b)


def _shift_count(symbol: str, a: object, b: object) -> None:
    _ints(symbol, a, b)
    if b < 0:
        raise VMError("runtime_error", "negative shift count")


def lshift(c, a, b):
    _shift_count("<<", a, b)
    if a and a.bit_length() + b > 257:
        raise VMError("int_overflow", "integer out of range (abs must be < 2**256)")
    return check_int(a << b)


def rshift(c, a, b):
    _shift_count(">>", a, b)
    return a >> min(b, 512)


def bitand(c, a, b):
    _ints("&", a, b)
    return a & b


def bitor(c, a, b):
    _ints("|", a, b)
    return a | b


def bitxor(c, a, b):
    _ints("^", a, b)
    return a ^ b


def _int_operand(symbol: str, a: object) -> int:
    if not is_int(a):
        raise VMError("type_error", f"bad operand type for unary {symbol}: {type_name(a)}")
    return int(a)


def neg(c, a):
    return -_int_operand("-", a)


def pos(c, a):
    return _int_operand("+", a)


def invert(c, a):
    return check_int(~_int_operand("~", a))


def not_(c, a):
    return not a


def _charge_pair(c, a, b) -> None:
    """Comparing two values costs their combined weight, paid while it is measured."""
    charge_weight(c.gas, a)
    charge_weight(c.gas, b)


def eq(c, a, b):
    ta = type(a)
    if ta is not type(b):
        return is_int(a) and is_int(b) and a == b
    if ta in _SIZED and len(a) != len(b):
        return False
    _charge_pair(c, a, b)
    return a == b


def ne(c, a, b):
    return not eq(c, a, b)


def _order(symbol: str, compare):
    def op(c, a, b):
        ta, tb = type(a), type(b)
        if not ((is_int(a) and is_int(b)) or (ta is tb and ta in _SEQUENCES)):
            raise VMError("type_error", f"cannot compare {type_name(a)} {symbol} {type_name(b)}")
        _charge_pair(c, a, b)
        try:
            return compare(a, b)
        except TypeError:
            raise VMError("type_error", f"cannot compare {type_name(a)} {symbol} "
                          f"{type_name(b)}: their elements are not comparable") from None
    return op


lt = _order("<", lambda a, b: a < b)
le = _order("<=", lambda a, b: a <= b)
gt = _order(">", lambda a, b: a > b)
ge = _order(">=", lambda a, b: a >= b)


def contains(c, item, container):
    t = type(container)
    if t is dict:
        return check_key(item) in container
    if t is str or t is bytes:
        if t is bytes and is_int(item):
            if not 0 <= item < 256:
                raise VMError("runtime_error", "byte must be in range(0, 256)")
        elif type(item) is not t:
            raise VMError("type_error", f"'in <{type_name(container)}>' needs a "
                          f"{type_name(container)}, not {type_name(item)}")
        c.gas.charge(UNIT_GAS * units(len(container)))
        return item in container
    if t is list or t is tuple:
        charge_search(c, container, item)
        return item in container
    raise VMError("type_error", f"argument of type {type_name(container)} is not iterable")


def charge_search(c, seq, item) -> None:
    """Searching a list/tuple for ``item`` compares it with every element."""
    c.gas.charge(UNIT_GAS * len(seq) * charge_weight(c.gas, item))   # one walk, then a compare per element


def not_in(c, item, container):
    return not contains(c, item, container)


BINARY = {ast.Add: add, ast.Sub: sub, ast.Mult: mul, ast.FloorDiv: floordiv, ast.Mod: mod,
          ast.Pow: power, ast.LShift: lshift, ast.RShift: rshift, ast.BitAnd: bitand,
          ast.BitOr: bitor, ast.BitXor: bitxor}
UNARY = {ast.USub: neg, ast.UAdd: pos, ast.Invert: invert, ast.Not: not_}
COMPARE = {ast.Eq: eq, ast.NotEq: ne, ast.Lt: lt, ast.LtE: le, ast.Gt: gt, ast.GtE: ge,
           ast.In: contains, ast.NotIn: not_in}


def _index(seq: object, index: object) -> None:
    if not is_int(index):
        raise VMError("type_error", f"{type_name(seq)} indices must be int, not {type_name(index)}")


def getitem(c, obj, key):
    t = type(obj)
    if t is dict:
        try:
            return obj[check_key(key)]
        except KeyError:
            raise VMError("runtime_error", f"key not found: {show(key)}") from None
    if t in _SEQUENCES:
        _index(obj, key)
        try:
            return obj[key]
        except IndexError:
            raise VMError("runtime_error", f"{type_name(obj)} index out of range") from None
    raise VMError("type_error", f"{type_name(obj)} is not subscriptable")


def getslice(c, obj, lower, upper, step):
    if type(obj) not in _SEQUENCES:
        raise VMError("type_error", f"{type_name(obj)} cannot be sliced")
    for bound in (lower, upper, step):
        if bound is not None and not is_int(bound):
            raise VMError("type_error", f"slice indices must be int or None, not {type_name(bound)}")
    if step == 0:
        raise VMError("runtime_error", "slice step cannot be zero")
    part = slice(lower, upper, step)
    c.gas.allocate(_size_units(obj, len(range(*part.indices(len(obj))))))
    return obj[part]


def setitem(c, obj, key, value):
    t = type(obj)
    if t is dict:
        obj[store_key(c.gas, key)] = value
    elif t is list:
        _index(obj, key)
        try:
            obj[key] = value
        except IndexError:
            raise VMError("runtime_error", "list assignment index out of range") from None
    else:
        raise VMError("type_error", f"{type_name(obj)} does not support item assignment")


def delitem(c, obj, key):
    t = type(obj)
    if t is dict:
        try:
            del obj[check_key(key)]
        except KeyError:
            raise VMError("runtime_error", f"key not found: {show(key)}") from None
    elif t is list:
        _index(obj, key)
        c.gas.charge(UNIT_GAS * len(obj))
        try:
            del obj[key]
        except IndexError:
            raise VMError("runtime_error", "list index out of range") from None
    else:
        raise VMError("type_error", f"{type_name(obj)} does not support item deletion")
