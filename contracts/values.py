"""Contract values: type names, the int bound, dict keys, weights and deep copies.

Values are plain Python objects of the types int, bool, str, bytes, list,
dict, tuple and None.  Everything that could recurse deeply in C (comparisons,
encoding by the host) first goes through ``charge_weight`` or ``copy_value``,
which refuse values nested deeper than ``MAX_VALUE_DEPTH`` and charge gas
while they walk, so shared structures cannot make them work for free.
"""

from __future__ import annotations

from contracts.errors import VMError
from contracts.gas import BYTES_PER_UNIT, COPY_GAS, DICT_INSERT_GAS, UNIT_GAS, WALK_GAS
from contracts.limits import INT_BOUND, MAX_DICT_KEY_LENGTH, MAX_KEY_TUPLE, MAX_VALUE_DEPTH

NoneType = type(None)
KEY_SCALARS = frozenset({str, int, bytes, bool, NoneType})
VALUE_TYPES = KEY_SCALARS | {list, tuple, dict}
_TYPE_NAMES = {int: "int", bool: "bool", str: "str", bytes: "bytes", list: "list",
               dict: "dict", tuple: "tuple", NoneType: "None"}


def type_name(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def is_int(value: object) -> bool:
    """int or bool (bool is an int, as in Python)."""
    t = type(value)
    return t is int or t is bool


def check_int(x: int) -> int:
    if -INT_BOUND < x < INT_BOUND:
        return x
    raise VMError("int_overflow", "integer out of range (abs must be < 2**256)")


def _scalar_key(key: object) -> bool:
    t = type(key)
    return t in KEY_SCALARS and not ((t is str or t is bytes) and len(key) > MAX_DICT_KEY_LENGTH)


def check_key(key: object) -> object:
    """Return ``key`` if it may be a dict key, else raise type_error.

    Keys are short (so hashing and comparing them is cheap): int, bool, None,
    str or bytes of at most MAX_DICT_KEY_LENGTH, or tuples of at most
    MAX_KEY_TUPLE of those.
    """
    if _scalar_key(key) or (type(key) is tuple and len(key) <= MAX_KEY_TUPLE
                            and all(_scalar_key(e) for e in key)):
        return key
    raise VMError("type_error", f"dict keys must be int, bool, None, str or bytes of at most "
                  f"{MAX_DICT_KEY_LENGTH} characters, or tuples of at most {MAX_KEY_TUPLE} of "
                  f"those, not {show(key)}")


def show(value: object) -> str:
    """Short text of a value for error messages (ASCII, independent of Unicode tables)."""
    t = type(value)
    if t is str or t is bytes:
        text = ascii(value[:64])     # never the whole of a long value
    else:
        text = ascii(value) if t in KEY_SCALARS else type_name(value)
    return text if len(text) <= 64 else text[:61] + "..."


def too_deep() -> VMError:
    return VMError("value_too_deep", f"value nested deeper than {MAX_VALUE_DEPTH} levels")


def store_key(gas, key: object) -> object:
    """``key`` checked (``check_key``) and paid for as a new dict entry (``GasMeter.insert_key``)."""
    gas.insert_key(check_key(key))
    return key


def charge_weight(gas, value: object, depth: int = 0) -> int:
    """Charge WALK_GAS per unit of ``value`` while walking it; return its weight in units.

    The weight bounds the work of comparing, sorting, searching or encoding the
    value: one unit per element, ``len // 8 + 1`` per str/bytes.  Each container
    pays for its elements before they are visited, so a value that shares one
    list many times (``x = [x] * 10`` in a loop) runs out of gas as soon as the
    walk has done as much work as the gas paid for, not after.
    """
    t = type(value)
    if t is str or t is bytes:
        total = len(value) // BYTES_PER_UNIT + 1
        gas.remaining -= WALK_GAS * total   # inline: comparing strs is the hot path
        if gas.remaining < 0:
            gas.exhaust()
        return total
    if t is not list and t is not tuple and t is not dict:
        gas.remaining -= WALK_GAS
        if gas.remaining < 0:
            gas.exhaust()
        return 1
    if depth >= MAX_VALUE_DEPTH:
        raise too_deep()
    items = value if t is not dict else [*value, *value.values()]
    total = len(items) + 1
    gas.charge(WALK_GAS * total)
    for item in items:
        ti = type(item)
        if ti is str or ti is bytes:
            extra = len(item) // BYTES_PER_UNIT
            if extra:
                gas.charge(WALK_GAS * extra)
                total += extra
        elif ti is list or ti is tuple or ti is dict:
            total += charge_weight(gas, item, depth + 1) - 1   # its first unit is paid above
    return total


def copy_value(gas, value: object, depth: int = 0) -> tuple[object, int]:
    """Deep copy of a value plus its size estimate in bytes, paid for as it is built.

    Charges COPY_GAS per unit (as ``charge_weight`` counts them) and the copied
    elements as allocated;
    dict keys go through ``store_key``.  Rejects (type_error) anything that is
    not a contract value, ints out of range (int_overflow) and nesting deeper
    than MAX_VALUE_DEPTH.
    """
    t = type(value)
    if t is str or t is bytes:
        gas.remaining -= COPY_GAS * (len(value) // BYTES_PER_UNIT + 1)   # inline: the hot path
        if gas.remaining < 0:
            gas.exhaust()
        return value, len(value) + 1
    if t is int or t is bool or t is NoneType:
        gas.remaining -= COPY_GAS
        if gas.remaining < 0:
            gas.exhaust()
        return (check_int(value), value.bit_length() // 8 + 1) if t is int else (value, 1)
    if t not in VALUE_TYPES:
        raise VMError("type_error", f"{type_name(value)} is not a contract value")
    if depth >= MAX_VALUE_DEPTH:
        raise too_deep()
    gas.allocate(len(value) + 1)   # UNIT_GAS of the COPY_GAS per element, and the memory
    gas.remaining -= (COPY_GAS - UNIT_GAS) * (len(value) + 1)
    if gas.remaining < 0:
        gas.exhaust()
    size = 1
    if t is dict:
        out = {}
        for key, item in value.items():
            if type(key) is str and len(key) <= MAX_DICT_KEY_LENGTH:   # the usual key: no guard needed
                gas.remaining -= DICT_INSERT_GAS + COPY_GAS * (len(key) // BYTES_PER_UNIT + 1)
                if gas.remaining < 0:
                    gas.exhaust()
                key_size = len(key) + 1
            else:
                key, key_size = copy_value(gas, store_key(gas, key), depth + 1)
            out[key], item_size = copy_value(gas, item, depth + 1)
            size += key_size + item_size
        return out, size
    items = []
    for item in value:
        item, item_size = copy_value(gas, item, depth + 1)
        items.append(item)
        size += item_size
    return (items if t is list else tuple(items)), size


def check_text(value: object) -> None:
    """Refuse strs that are not valid Unicode (lone surrogates): the node could not encode them.

    For values from outside (call arguments); contract code cannot make such strs.
    """
    t = type(value)
    if t is str:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise VMError("bad_argument", "text is not valid Unicode (a lone surrogate)") from None
    elif t is list or t is tuple:
        for item in value:
            check_text(item)
    elif t is dict:
        for key, item in value.items():
            check_text(key)
            check_text(item)


def to_str(value: object) -> str:
    """str() of a scalar, as used by str() and f-strings."""
    t = type(value)
    if t is str:
        return value
    if t is int or t is bool or t is NoneType:
        return str(value)
    raise VMError("type_error", f"cannot convert {type_name(value)} to str "
                  "(only int, bool, str and None; use bytes.hex())")


def iterable(value: object) -> object:
    """``value`` itself if a for loop may iterate it (dicts iterate their keys)."""
    t = type(value)
    if t is list or t is tuple or t is dict or t is str or t is bytes:
        return value
    raise VMError("type_error", f"{type_name(value)} is not iterable")
