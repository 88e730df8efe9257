"""The builtin functions of the contract language (len, range, sorted, ...).

Each builtin is a ``Native``; its implementation charges gas for the work
that depends on the size of its arguments before doing that work.  Results
that would be iterators in Python (range, enumerate, zip, reversed) are lists.
``isinstance`` is resolved by the compiler.
"""

from __future__ import annotations

import re

from contracts.errors import VMError
from contracts.gas import BIG_INT_BITS_PER_UNIT, SORT_GAS, STR_ITEM_UNITS, UNIT_GAS, WALK_GAS, units
from contracts.limits import MAX_INT_DIGITS
from contracts.operators import gt, lt
from contracts.signature import Native, Signature
from contracts.values import charge_weight, check_int, is_int, iterable, store_key, to_str, type_name


def _int_arg(name: str, value: object) -> int:
    if not is_int(value):
        raise VMError("type_error", f"{name} must be int, not {type_name(value)}")
    return value


def _len(c, value):
    if type(value) in (list, tuple, dict, str, bytes):
        return len(value)
    raise VMError("type_error", f"{type_name(value)} has no len()")


def range_of(start, stop, step) -> range:
    """range(stop) when stop is None, else range(start, stop, step); no allocation."""
    if stop is None:
        start, stop = 0, start
    for name, bound in (("start", start), ("stop", stop), ("step", step)):
        _int_arg(f"range() {name}", bound)
    if step == 0:
        raise VMError("runtime_error", "range() step must not be zero")
    return range(start, stop, step)


def range_length(r: range) -> int:
    """len(r) for ranges too long for Python's len()."""
    if (r.step > 0 and r.start >= r.stop) or (r.step < 0 and r.start <= r.stop):
        return 0
    return (r.stop - r.start - (1 if r.step > 0 else -1)) // r.step + 1


def _range(c, start, stop, step):
    r = range_of(start, stop, step)
    bits = max(abs(r.start), abs(r.stop)).bit_length()
    c.gas.allocate(range_length(r) * (1 + bits // BIG_INT_BITS_PER_UNIT))   # ints past 2**62 are bigger
    return list(r)


def _items(c, value) -> list:
    """The elements of an iterable value as a new list (charged per element; the characters of
    a str become new 1-character strs, up to 80 bytes each)."""
    items = iterable(value)
    c.gas.allocate(len(items) * (STR_ITEM_UNITS if type(items) is str else 1))
    return list(items)


def _extreme(name: str, better):
    def impl(c, first, key, *rest):
        items = _items(c, first) if not rest else [first, *rest]
        if not items:
            raise VMError("runtime_error", f"{name}() arg is an empty sequence")
        best = items[0]
        best_key = key(best) if key else best
        for item in items[1:]:
            item_key = key(item) if key else item
            if better(c, item_key, best_key):
                best, best_key = item, item_key
        return best
    return impl


def _sorted(c, value, key, reverse):
    items = _items(c, value)
    keys = [key(item) for item in items] if key else items
    if key:
        c.gas.count_allocation(len(keys))   # paid by the key function calls
    levels = len(keys).bit_length()
    for k in keys:   # SORT_GAS per weight unit per level, of which measuring the weight pays WALK_GAS
        c.gas.charge(max(SORT_GAS * levels - WALK_GAS, 0) * charge_weight(c.gas, k))
    _int_arg("sorted() reverse", reverse)
    try:
        if key:
            return [items[i] for i in sorted(range(len(items)), key=keys.__getitem__,
                                             reverse=bool(reverse))]
        return sorted(items, reverse=bool(reverse))
    except TypeError:
        raise VMError("type_error", "sorted(): elements are not comparable "
                      "(mixed types, None or dicts)") from None


def _sum(c, value, start):
    items = _items(c, value)
    for item in [start, *items]:
        _int_arg("sum() element", item)
    return check_int(sum(items, start))


def _abs(c, value):
    return abs(_int_arg("abs() argument", value))


def _str(c, value):
    result = to_str(value)
    c.gas.allocate(units(len(result)))
    return result


_INT_TEXT = {2: re.compile(r"[+-]?(0[bB])?[01]+"), 8: re.compile(r"[+-]?(0[oO])?[0-7]+"),
             10: re.compile(r"[+-]?[0-9]+"), 16: re.compile(r"[+-]?(0[xX])?[0-9a-fA-F]+")}


def _int(c, value, base):
    if is_int(value) and base == 10:
        return int(value)
    if type(value) is not str:
        raise VMError("type_error", f"int() cannot convert {type_name(value)}"
                      + (" with a base" if is_int(value) else ""))
    pattern = _INT_TEXT.get(base) if is_int(base) else None
    if pattern is None:
        raise VMError("bad_argument", "int() base must be 2, 8, 10 or 16")
    if len(value) > MAX_INT_DIGITS or not pattern.fullmatch(value):
        raise VMError("runtime_error", f"invalid int literal for base {base}: {value[:40]!a}")
    return check_int(int(value, base))


def _bool(c, value):
    return bool(value)


def _list(c, value):
    return _items(c, value)


def _tuple(c, value):
    return tuple(_items(c, value))


def _dict(c, value):
    if type(value) is dict:
        c.gas.allocate(len(value))
        return dict(value)
    result = {}
    for pair in iterable(value):
        if type(pair) not in (list, tuple) or len(pair) != 2:
            raise VMError("type_error", "dict() needs a dict or a list of (key, value) pairs")
        result[store_key(c.gas, pair[0])] = pair[1]
    return result


_ADDRESS = re.compile(r"0x[0-9a-f]{40}")


def _bytes(c, value):
    t = type(value)
    if t is bytes:
        return value
    if t is str:
        c.gas.allocate(units(len(value)))
        digits = value[2:] if value.startswith("0x") else value
        try:   # fromhex skips whitespace: the length check refuses it
            data = bytes.fromhex(digits) if digits.isascii() else None
        except ValueError:
            data = None
        if data is None or 2 * len(data) != len(digits):
            raise VMError("runtime_error", "bytes(str) needs an even number of hex digits")
        return data
    items = _items(c, value) if t in (list, tuple) else None
    if items is None or not all(is_int(b) and 0 <= b < 256 for b in items):
        raise VMError("type_error", "bytes() needs bytes, a hex str or a list of ints in 0..255")
    return bytes(items)


def _is_address(c, value):
    """Whether ``value`` is an account or contract address: a str, "0x" and 40 lowercase hex digits."""
    if type(value) is not str:
        return False
    c.gas.charge(UNIT_GAS * units(len(value)))
    return _ADDRESS.fullmatch(value) is not None


def _enumerate(c, value, start):
    _int_arg("enumerate() start", start)
    items = _items(c, value)
    c.gas.allocate(2 * len(items))
    return [(check_int(start + i), item) for i, item in enumerate(items)]


def _zip(c, *values):
    columns = [iterable(value) for value in values]
    rows = min((len(column) for column in columns), default=0)
    strs = sum(type(column) is str for column in columns)
    c.gas.allocate(rows * (len(columns) + 1 + strs * (STR_ITEM_UNITS - 1)))
    return list(zip(*columns))


def _divmod(c, a, b):
    if not (is_int(a) and is_int(b)):
        raise VMError("type_error", f"divmod() needs ints, not {type_name(a)} and {type_name(b)}")
    if not b:
        raise VMError("runtime_error", "division by zero")
    return divmod(a, b)


def _reversed(c, value):
    if type(value) is dict:
        raise VMError("type_error", "reversed() needs a list, tuple, str or bytes")
    items = _items(c, value)
    items.reverse()
    return items


def _any(c, value):
    return any(_items(c, value))


def _all(c, value):
    return all(_items(c, value))


def _native(name, impl, params=(), defaults=(), keyword_only=(), varargs=False,
            function_params=frozenset()):
    return name, Native(name, impl, Signature(params, defaults, keyword_only, varargs),
                        frozenset(function_params))


BUILTINS: dict[str, Native] = dict([
    _native("len", _len, ("value",)),
    _native("range", _range, ("start", "stop", "step"), (None, 1)),
    _native("min", _extreme("min", lt), ("first",), (), (("key", None),), True, {"key"}),
    _native("max", _extreme("max", gt), ("first",), (), (("key", None),), True, {"key"}),
    _native("sorted", _sorted, ("iterable",), (), (("key", None), ("reverse", False)),
            False, {"key"}),
    _native("sum", _sum, ("iterable", "start"), (0,)),
    _native("abs", _abs, ("value",)),
    _native("str", _str, ("value",), ("",)),
    _native("int", _int, ("value", "base"), (0, 10)),
    _native("bool", _bool, ("value",), (False,)),
    _native("list", _list, ("iterable",), ((),)),
    _native("tuple", _tuple, ("iterable",), ((),)),
    _native("dict", _dict, ("iterable",), ((),)),
    _native("bytes", _bytes, ("value",), (b"",)),
    _native("is_address", _is_address, ("value",)),
    _native("enumerate", _enumerate, ("iterable", "start"), (0,)),
    _native("zip", _zip, varargs=True),
    _native("divmod", _divmod, ("a", "b")),
    _native("reversed", _reversed, ("sequence",)),
    _native("any", _any, ("iterable",)),
    _native("all", _all, ("iterable",)),
])

TYPE_NAMES: dict[str, type] = {"int": int, "bool": bool, "str": str, "bytes": bytes,
                               "list": list, "dict": dict, "tuple": tuple}
