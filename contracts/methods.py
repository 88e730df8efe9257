"""The whitelist of methods callable on values (``lst.append(x)``, ``d.get(k)``...).

``METHODS[name][type] = (impl, min_args, max_args)``; ``impl(c, obj, *args)``.
Any other attribute is rejected by the checker (``attribute_not_allowed``).
Methods that would return views or iterators in Python return lists.
"""

from __future__ import annotations

import re
import string

from contracts.errors import VMError
from contracts.gas import PART_GAS, STR_ITEM_UNITS, UNIT_GAS, units
from contracts.operators import charge_search
from contracts.values import check_key, is_int, iterable, show, store_key, type_name


def _charge(c, amount: int) -> None:
    c.gas.charge(UNIT_GAS * amount)


def _allocate(c, amount: int) -> None:
    c.gas.allocate(amount)


def _index_arg(value: object) -> int:
    if not is_int(value):
        raise VMError("type_error", f"index must be int, not {type_name(value)}")
    return value


def _same_type(obj: object, arg: object, what: str) -> None:
    if type(arg) is not type(obj):
        raise VMError("type_error", f"{what} must be {type_name(obj)}, not {type_name(arg)}")


def _not_found(what: str) -> VMError:
    return VMError("runtime_error", f"{what} not found")


# -- list / tuple ------------------------------------------------------------------------

def list_append(c, lst, item):
    _allocate(c, 1)
    lst.append(item)


def list_extend(c, lst, items):
    items = iterable(items)
    _allocate(c, len(items) * (STR_ITEM_UNITS if type(items) is str else 1))
    lst.extend(items)


def list_insert(c, lst, index, item):
    _charge(c, len(lst))
    _allocate(c, 1)
    lst.insert(_index_arg(index), item)


def list_pop(c, lst, index=-1):
    _index_arg(index)
    if not -len(lst) <= index < len(lst):
        raise VMError("runtime_error", "pop from empty list" if not lst else "pop index out of range")
    _charge(c, len(lst) - index % len(lst))
    return lst.pop(index)


def seq_index(c, seq, item):
    charge_search(c, seq, item)
    try:
        return seq.index(item)
    except ValueError:
        raise _not_found("value") from None


def seq_count(c, seq, item):
    charge_search(c, seq, item)
    return seq.count(item)


def list_remove(c, lst, item):
    seq_index(c, lst, item)
    _charge(c, len(lst))
    lst.remove(item)


def list_reverse(c, lst):
    _charge(c, len(lst))
    lst.reverse()


def copy(c, obj):
    _allocate(c, len(obj))
    return obj.copy()


# -- dict --------------------------------------------------------------------------------

def dict_get(c, d, key, default=None):
    return d.get(check_key(key), default)


def dict_keys(c, d):
    _allocate(c, len(d))
    return list(d)


def dict_values(c, d):
    _allocate(c, len(d))
    return list(d.values())


def dict_items(c, d):
    _allocate(c, 3 * len(d))
    return list(d.items())


def dict_pop(c, d, key, *default):
    key = check_key(key)
    if key in d:
        return d.pop(key)
    if default:
        return default[0]
    raise _not_found(f"key {show(key)}")


def dict_setdefault(c, d, key, default=None):
    return d.setdefault(store_key(c.gas, key), default)


def dict_update(c, d, other):
    if type(other) is not dict:
        raise VMError("type_error", f"dict.update() needs a dict, not {type_name(other)}")
    for key in other:   # the keys were checked when ``other`` was built
        c.gas.insert_key(key)
    d.update(other)


# -- str / bytes -------------------------------------------------------------------------

def _affix(python_method):
    def impl(c, text, affix):
        _same_type(text, affix, "prefix/suffix")
        _charge(c, units(len(affix)))
        return python_method(text, affix)
    return impl


# Case and whitespace are ASCII-only, so results never depend on the Unicode tables
# of the Python version: other characters are left as they are.
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"
_WHITESPACE_RUN = re.compile(f"[{_ASCII_WHITESPACE}]+")
# Translated as UTF-8 bytes: bytes.translate is one table lookup per byte, while
# str.translate goes character by character through a dict once the text is not ASCII.
# Multi-byte UTF-8 sequences hold no ASCII bytes, so only ASCII letters change.
_LOWER = bytes.maketrans(string.ascii_uppercase.encode(), string.ascii_lowercase.encode())
_UPPER = bytes.maketrans(string.ascii_lowercase.encode(), string.ascii_uppercase.encode())


def _split_parts(c, text: str, parts: int) -> None:
    """Pay for splitting ``text`` into at most ``parts`` new strs."""
    _charge(c, (PART_GAS - UNIT_GAS) * parts)
    _allocate(c, units(len(text)) + parts)


def str_split(c, text, sep=None):
    """Charged for the search and, before splitting, for an upper bound of the parts."""
    if sep is None:
        _split_parts(c, text, (len(text) + 1) // 2 + 1)
        text = text.strip(_ASCII_WHITESPACE)
        return _WHITESPACE_RUN.split(text) if text else []
    _same_type(text, sep, "separator")
    if not sep:
        raise VMError("runtime_error", "empty separator")
    _charge(c, units(len(text)))
    _split_parts(c, text, text.count(sep) + 1)
    return text.split(sep)


def str_join(c, sep, items):
    if type(items) is not list and type(items) is not tuple:
        raise VMError("type_error", f"str.join() needs a list or tuple, not {type_name(items)}")
    for item in items:
        _same_type(sep, item, "joined item")
    _allocate(c, units(sum(map(len, items)) + len(sep) * len(items)) + len(items))
    return sep.join(items)


def str_encode(c, text):
    _allocate(c, units(len(text)))
    return text.encode("utf-8")


def _translate(table):
    def impl(c, text):
        _allocate(c, units(4 * len(text)))   # the UTF-8 copy and the result
        return text.encode("utf-8").translate(table).decode("utf-8")
    return impl


def str_strip(c, text, chars=None):
    if chars is not None:
        _same_type(text, chars, "characters")
    _charge(c, units(len(text)) * (units(len(chars)) if chars else 1))
    _allocate(c, units(len(text)))
    return text.strip(_ASCII_WHITESPACE if chars is None else chars)


def _search(python_method):
    def impl(c, text, sub):
        _same_type(text, sub, "substring")
        _charge(c, units(len(text) + len(sub)))
        return python_method(text, sub)
    return impl


str_find = _search(str.find)


def str_index(c, text, sub):
    position = str_find(c, text, sub)
    if position < 0:
        raise _not_found("substring")
    return position


def bytes_hex(c, data):
    _allocate(c, units(2 * len(data)))
    return data.hex()


def bytes_decode(c, data):
    _allocate(c, units(len(data)))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise VMError("runtime_error", "bytes are not valid UTF-8") from None


METHODS: dict[str, dict[type, tuple]] = {
    "append": {list: (list_append, 1, 1)},
    "extend": {list: (list_extend, 1, 1)},
    "insert": {list: (list_insert, 2, 2)},
    "pop": {list: (list_pop, 0, 1), dict: (dict_pop, 1, 2)},
    "index": {list: (seq_index, 1, 1), tuple: (seq_index, 1, 1), str: (str_index, 1, 1)},
    "count": {list: (seq_count, 1, 1), tuple: (seq_count, 1, 1), str: (_search(str.count), 1, 1)},
    "remove": {list: (list_remove, 1, 1)},
    "reverse": {list: (list_reverse, 0, 0)},
    "copy": {list: (copy, 0, 0), dict: (copy, 0, 0)},
    "get": {dict: (dict_get, 1, 2)},
    "keys": {dict: (dict_keys, 0, 0)},
    "values": {dict: (dict_values, 0, 0)},
    "items": {dict: (dict_items, 0, 0)},
    "setdefault": {dict: (dict_setdefault, 1, 2)},
    "update": {dict: (dict_update, 1, 1)},
    "startswith": {str: (_affix(str.startswith), 1, 1), bytes: (_affix(bytes.startswith), 1, 1)},
    "endswith": {str: (_affix(str.endswith), 1, 1), bytes: (_affix(bytes.endswith), 1, 1)},
    "split": {str: (str_split, 0, 1)},
    "join": {str: (str_join, 1, 1)},
    "encode": {str: (str_encode, 0, 0)},
    "lower": {str: (_translate(_LOWER), 0, 0)},
    "upper": {str: (_translate(_UPPER), 0, 0)},
    "strip": {str: (str_strip, 0, 1)},
    "find": {str: (str_find, 1, 1)},
    "hex": {bytes: (bytes_hex, 0, 0)},
    "decode": {bytes: (bytes_decode, 0, 0)},
}
