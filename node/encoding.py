"""Canonical byte encoding and hashing for everything that is hashed, signed or stored.

msgpack with a fixed layout: records are encoded as arrays in a fixed field order (each
record type has its own ``to_list``/``from_list``), strings as UTF-8 ``str``, bytes as
``bin``. Two extension types keep VM values round-trippable:

- ext 1: an integer outside the 64-bit range, as a sign byte and big-endian magnitude;
- ext 2: a tuple, as the canonical encoding of its items (plain lists stay arrays).

Floats are refused: nothing on chain may depend on floating point.

Decoding is bounded, because its input comes from anyone who can reach the API or a peer:
at most ``max_bytes`` of input (MAX_DECODE_BYTES unless the caller gives less), nesting of at
most MAX_DECODE_DEPTH lists, maps and tuples (a tuple counts one level, as in the VM), at most
MAX_CONTAINER_ITEMS items per list or map, big ints of at most MAX_BIGINT_BYTES, and no map with
more than MAX_KEYS_PER_HASH keys sharing one hash. Tuples are decoded one level per msgpack
pass from an explicit work list, never by recursion: a value nested in hundreds of ext types
used to exhaust the C stack and kill the process.
"""
from __future__ import annotations

import hashlib
import threading
from typing import Any, Callable

import msgpack

from contracts.keyhash import collision_class

EXT_BIGINT = 1
EXT_TUPLE = 2

MAX_DECODE_DEPTH = 64  # VM values nest at most 32 levels (contracts/limits.py), inside records of a few
MAX_DECODE_BYTES = 32 * 1024 * 1024  # above any block: p2p frames carry at most 16 MiB
MAX_CONTAINER_ITEMS = 1 << 20  # a block's transactions are far fewer: the frame size bounds them
MAX_BIGINT_BYTES = 64  # twice the VM's 256-bit integers
MAX_KEYS_PER_HASH = 8  # distinct map keys sharing one hash; honest maps practically never have two
_INT64_MIN, _UINT64_MAX = -(1 << 63), (1 << 64) - 1


class EncodingError(ValueError):
    """Raised for values that have no canonical encoding or bytes that do not decode."""


def _default(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return msgpack.ExtType(EXT_TUPLE, encode(list(obj)))
    if isinstance(obj, int) and not isinstance(obj, bool):
        sign = b"\x01" if obj < 0 else b"\x00"
        magnitude = abs(obj)
        return msgpack.ExtType(EXT_BIGINT, sign + magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big"))
    raise EncodingError(f"cannot encode value of type {type(obj).__name__}")


def _prepare(obj: Any) -> Any:
    """Turn tuples and big ints into ext types (msgpack's default hook is not called for them).

    The plain types are recognised by their exact type first (the common case, and much
    cheaper than isinstance chains); everything else goes through ``_prepare_other``.
    """
    t = type(obj)
    if t is str or t is bytes or t is bool or obj is None:
        return obj
    if t is int:
        return obj if _INT64_MIN <= obj <= _UINT64_MAX else _default(obj)
    if t is list:
        return [_prepare(x) for x in obj]
    if t is dict:
        return {_prepare(k): _prepare(v) for k, v in obj.items()}
    return _prepare_other(obj)


def _prepare_other(obj: Any) -> Any:
    """The slow path: tuples, and subclasses of the plain types (lists and dicts become plain ones)."""
    if isinstance(obj, (bool, str, bytes)):
        return obj
    if isinstance(obj, int):
        return obj if _INT64_MIN <= obj <= _UINT64_MAX else _default(obj)
    if isinstance(obj, list):
        return _prepare(list(obj))
    if isinstance(obj, tuple):
        return _default(obj)
    if isinstance(obj, dict):
        return _prepare(dict(obj.items()))
    raise EncodingError(f"cannot encode value of type {type(obj).__name__}")


_packers = threading.local()


def _packer() -> msgpack.Packer:
    """This thread's msgpack packer (creating one per call costs more than packing a small value)."""
    packer = getattr(_packers, "packer", None)
    if packer is None:
        packer = _packers.packer = msgpack.Packer(use_bin_type=True, strict_types=True)
    return packer


def encode(obj: Any) -> bytes:
    """Encode a value canonically. Raises EncodingError for floats, sets and other types."""
    return _packer().pack(_prepare(obj))


def _ext_hook(code: int, data: bytes) -> Any:
    """Big ints are finished at once; a tuple's items wait for ``_finish`` (no recursion here)."""
    if code == EXT_TUPLE:
        return _TuplePayload(data)
    if code == EXT_BIGINT:
        if len(data) > MAX_BIGINT_BYTES + 1:
            raise EncodingError(f"an integer of more than {MAX_BIGINT_BYTES} bytes")
        value = int.from_bytes(data[1:], "big")
        return -value if data[:1] == b"\x01" else value
    raise EncodingError(f"unknown extension type {code}")


class _TuplePayload:
    """A tuple as msgpack leaves it: the encoding of its items, decoded later by ``_finish``."""
    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data


class _MapWithTupleKeys:
    """A map whose tuple keys are not decoded yet: keys and values alternating, built by ``_finish``."""
    __slots__ = ("flat",)

    def __init__(self, pairs: list[tuple]):
        self.flat = [item for pair in pairs for item in pair]


def _map_hook(pairs: list[tuple]) -> Any:
    for key, _ in pairs:
        if type(key) is _TuplePayload:
            return _MapWithTupleKeys(pairs)
    return map_from_pairs(pairs)


def map_from_pairs(pairs: list[tuple]) -> dict:
    """``dict(pairs)``, refusing more than MAX_KEYS_PER_HASH distinct keys that share one hash.

    Keys other than str and bytes (ints, bools, None, tuples) have hashes anyone can solve for
    collisions, and building a dict of n colliding keys takes O(n**2) comparisons. str and
    bytes hashes are randomised per process, so they are not checked. The decision uses
    ``contracts.keyhash.collision_class`` (CPython 3.12's hash, computed the same way on every
    version), so every node refuses the same maps.
    """
    by_hash: dict[int, list] = {}
    for key, _ in pairs:
        cls = collision_class(key)   # the same on every node and Python version, unlike hash(None)
        if cls is None:
            continue
        same = by_hash.setdefault(cls, [])
        if key not in same:
            same.append(key)
            if len(same) > MAX_KEYS_PER_HASH:
                raise EncodingError(f"a map with more than {MAX_KEYS_PER_HASH} keys sharing one hash")
    return dict(pairs)


def _map_from_flat(flat: list) -> dict:
    return map_from_pairs(list(zip(flat[::2], flat[1::2])))


def _unpack(data: bytes) -> tuple[Any, bool]:
    """One msgpack pass, and whether it left tuples to finish: they stay ``_TuplePayload``,
    so nothing nests on the C stack."""
    tuples = []

    def ext_hook(code: int, payload: bytes) -> Any:
        value = _ext_hook(code, payload)
        if type(value) is _TuplePayload:
            tuples.append(value)
        return value
    value = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True, ext_hook=ext_hook,
                            object_pairs_hook=_map_hook, max_array_len=MAX_CONTAINER_ITEMS,
                            max_map_len=MAX_CONTAINER_ITEMS)
    return value, bool(tuples)


_UNFINISHED = frozenset({list, dict, _TuplePayload, _MapWithTupleKeys})
# Bytes other than those that can start an array or a map.
_NOT_A_CONTAINER_HEADER = bytes(sorted(set(range(256)) - set(range(0x80, 0xa0)) - set(b"\xdc\xdd\xde\xdf")))


def _shallow(data: bytes) -> bool:
    """Whether ``data`` surely nests at most MAX_DECODE_DEPTH deep, judged from its bytes alone:
    it holds at most that many bytes that could start an array or a map (bytes inside strings
    count too, so this errs towards ``_finish``'s walk). A transfer is judged at C speed."""
    return len(data.translate(None, _NOT_A_CONTAINER_HEADER)) <= MAX_DECODE_DEPTH


def _finish(root: Any) -> Any:
    """Check the nesting depth under ``root`` and build its tuples, iteratively.

    Containers are visited parents first, each with its depth (a tuple is one level, like a
    list). A tuple with nothing left to finish inside is built at once; other tuples and maps
    with tuple keys are built afterwards, children first (reverse visiting order), each put in
    its parent where its placeholder was.
    """
    if type(root) not in _UNFINISHED:
        return root
    holder = [root]
    to_build: list[tuple[Callable[[list], Any], list, Any, Any]] = []  # (builder, contents, parent, slot)
    stack = [(root, holder, 0, 1)]
    while stack:
        node, parent, slot, depth = stack.pop()
        if depth > MAX_DECODE_DEPTH:
            raise EncodingError(f"value nested deeper than {MAX_DECODE_DEPTH} levels")
        kind = type(node)
        if kind is _TuplePayload:
            payload, node = node, _unpack(node.data)[0]
            payload.data = b""  # do not hold every level's bytes at once
            if type(node) is not list:
                raise EncodingError("a tuple must hold an array of its items")
            if _UNFINISHED.isdisjoint(map(type, node)):  # nothing to finish inside: build it now
                parent[slot] = tuple(node)
                continue
            to_build.append((tuple, node, parent, slot))
        elif kind is _MapWithTupleKeys:
            node = node.flat
            to_build.append((_map_from_flat, node, parent, slot))
        depth += 1
        if kind is dict:
            for key, child in node.items():
                if type(child) in _UNFINISHED:
                    stack.append((child, node, key, depth))
        elif len(node) < 16 or not _UNFINISHED.isdisjoint(map(type, node)):  # a C-speed look at long leaves
            for i, child in enumerate(node):
                if type(child) in _UNFINISHED:
                    stack.append((child, node, i, depth))
    for build, contents, parent, slot in reversed(to_build):
        parent[slot] = build(contents)
    return holder[0]


def decode(data: bytes, max_bytes: int = MAX_DECODE_BYTES) -> Any:
    """Decode bytes produced by ``encode``. Raises EncodingError on malformed or oversized input.

    Refuses inputs over ``max_bytes``, values nested deeper than MAX_DECODE_DEPTH, arrays and
    maps of more than MAX_CONTAINER_ITEMS items, integers of more than MAX_BIGINT_BYTES bytes
    and maps of colliding keys (``map_from_pairs``); strings and bytes are bounded by the input.
    """
    try:
        size = len(data)
    except TypeError:
        raise EncodingError(f"cannot decode a {type(data).__name__}") from None
    if size > max_bytes:
        raise EncodingError(f"{size} bytes to decode, the limit is {max_bytes}")
    try:
        value, has_tuples = _unpack(data)
        return value if not has_tuples and _shallow(data) else _finish(value)
    except EncodingError:
        raise
    except msgpack.StackError:  # msgpack's own (iterative) limit on arrays within arrays
        raise EncodingError(f"value nested deeper than {MAX_DECODE_DEPTH} levels") from None
    except (msgpack.ExtraData, msgpack.FormatError, ValueError, TypeError) as exc:
        raise EncodingError(f"malformed bytes: {str(exc) or type(exc).__name__}") from None


def sha256(data: bytes) -> bytes:
    """SHA-256 digest: the one hash function of the chain."""
    return hashlib.sha256(data).digest()


def merkle_root(leaves: list[bytes]) -> bytes:
    """Binary Merkle root over leaf hashes (RFC 6962 style: 0x00 leaf, 0x01 node prefixes).

    An empty list hashes to SHA-256 of the empty string. An odd node is promoted unchanged.
    """
    if not leaves:
        return sha256(b"")
    level = [sha256(b"\x00" + leaf) for leaf in leaves]
    while len(level) > 1:
        nxt = [sha256(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
