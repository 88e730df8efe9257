"""Canonical byte encoding and hashing for everything that is hashed, signed or stored.

msgpack with a fixed layout: records are encoded as arrays in a fixed field order (each
record type has its own ``to_list``/``from_list``), strings as UTF-8 ``str``, bytes as
``bin``. Two extension types keep VM values round-trippable:

- ext 1: an integer outside the 64-bit range, as a sign byte and big-endian magnitude;
- ext 2: a tuple, as the canonical encoding of its items (plain lists stay arrays).

Floats are refused: nothing on chain may depend on floating point.
"""
from __future__ import annotations

import hashlib
import threading
from typing import Any

import msgpack

EXT_BIGINT = 1
EXT_TUPLE = 2
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
    if code == EXT_BIGINT:
        value = int.from_bytes(data[1:], "big")
        return -value if data[:1] == b"\x01" else value
    if code == EXT_TUPLE:
        return tuple(decode(data))
    raise EncodingError(f"unknown extension type {code}")


def decode(data: bytes) -> Any:
    """Decode bytes produced by ``encode``. Raises EncodingError on malformed input."""
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook,
                               use_list=True)
    except EncodingError:
        raise
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError, TypeError) as exc:
        raise EncodingError(f"malformed bytes: {exc}") from None


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
