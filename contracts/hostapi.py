"""The host API seen by contract code: storage, crypto, events, require/revert, call.

Every function is a ``Native`` taking the call context ``c`` (``contracts.vm.Ctx``).
Values crossing to or from the host are deep-copied (so the host keeps a
snapshot and the contract gets a fresh value) and size-checked.  Writes in a
read-only query raise ``write_in_query``.  An exception raised by the host
that is not a VMError becomes ``host_error``.
"""

from __future__ import annotations

import hashlib

import nacl.exceptions
import nacl.signing

from contracts import gas
from contracts.errors import VMError
from contracts.limits import MAX_EVENT_NAME, MAX_KEY_BYTES, MAX_MESSAGE_CHARS, MAX_SCAN_LIMIT
from contracts.signature import Native, Signature
from contracts.values import copy_value, is_int, type_name


def host_call(method, *args):
    """Call a host method, turning its unexpected exceptions into VMError("host_error")."""
    try:
        return method(*args)
    except VMError:
        raise
    except Exception as exc:
        raise VMError("host_error", f"host failed: {type(exc).__name__}: {exc}") from exc


def _writable(c, what: str) -> None:
    if c.read_only:
        raise VMError("write_in_query", f"{what} is not allowed in a read-only query")


def _str_arg(what: str, value: object) -> str:
    if type(value) is not str:
        raise VMError("type_error", f"{what} must be str, not {type_name(value)}")
    return value


def _key(key: object, what: str = "storage key") -> int:
    """Check a storage key; returns its UTF-8 length."""
    size = len(_str_arg(what, key).encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise VMError("bad_argument", f"{what} longer than {MAX_KEY_BYTES} bytes")
    return size


def _bytes_arg(what: str, value: object) -> bytes:
    if type(value) is not bytes:
        raise VMError("type_error", f"{what} must be bytes, not {type_name(value)}")
    return value


# -- storage -----------------------------------------------------------------------------

def storage_get(c, key, default):
    key_size = _key(key)
    c.gas.charge(gas.STORAGE_GET_GAS)
    stored = host_call(c.host.storage_get, c.address, key)
    if stored is None:
        c.gas.charge(gas.STORAGE_READ_BYTE_GAS * key_size)
        return default
    value, size = copy_value(c.gas, stored)
    c.gas.charge(gas.STORAGE_READ_BYTE_GAS * (key_size + size))
    return value


def storage_has(c, key):
    c.gas.charge(gas.STORAGE_GET_GAS + gas.STORAGE_READ_BYTE_GAS * _key(key))
    return host_call(c.host.storage_get, c.address, key) is not None


def storage_set(c, key, value):
    _writable(c, "storage.set")
    _key(key)
    if value is None:
        raise VMError("type_error", "storage value cannot be None (use storage.delete)")
    value, _ = copy_value(c.gas, value)
    c.gas.charge(gas.STORAGE_SET_GAS)
    size = host_call(c.host.storage_set, c.address, key, value)
    c.gas.charge(gas.STORAGE_WRITE_BYTE_GAS * size)


def storage_delete(c, key):
    _writable(c, "storage.delete")
    _key(key)
    c.gas.charge(gas.STORAGE_DELETE_GAS)
    host_call(c.host.storage_delete, c.address, key)


def storage_scan(c, prefix, start_after, limit):
    _key(prefix, "scan prefix")
    if start_after is not None:
        _key(start_after, "scan start_after")
    if not is_int(limit) or not 1 <= limit <= MAX_SCAN_LIMIT:
        raise VMError("bad_argument", f"scan limit must be an int in 1..{MAX_SCAN_LIMIT}")
    c.gas.charge(gas.STORAGE_SCAN_GAS)
    entries = host_call(c.host.storage_scan, c.address, prefix, start_after, int(limit))
    if len(entries) > limit:
        raise VMError("host_error", "storage_scan returned more entries than the limit")
    result, previous = [], start_after.encode("utf-8") if start_after is not None else None
    for key, stored in entries:
        encoded = key.encode("utf-8") if type(key) is str else None
        if encoded is None or not encoded.startswith(prefix.encode("utf-8")) or (
                previous is not None and encoded <= previous):
            raise VMError("host_error", "storage_scan returned keys out of order or range")
        previous = encoded
        value, size = copy_value(c.gas, stored)
        c.gas.charge(gas.STORAGE_SCAN_ENTRY_GAS + gas.STORAGE_READ_BYTE_GAS * (len(encoded) + size))
        result.append((key, value))
    return result


# -- crypto ------------------------------------------------------------------------------

def sha256(c, data):
    _bytes_arg("sha256 data", data)
    c.gas.charge(gas.SHA256_GAS + gas.SHA256_BYTE_GAS * len(data))
    return hashlib.sha256(data).digest()


def ed25519_verify(c, public_key, message, signature):
    for what, value in (("public key", public_key), ("message", message),
                        ("signature", signature)):
        _bytes_arg(what, value)
    c.gas.charge(gas.ED25519_VERIFY_GAS + gas.SHA256_BYTE_GAS * len(message))
    if len(public_key) != 32 or len(signature) != 64:
        return False
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.CryptoError, ValueError):
        return False
    return True


# -- control, events, calls --------------------------------------------------------------

def _receipt_message(c, message: object, what: str) -> str:
    """A revert/require message as the receipt keeps it: cut to MAX_MESSAGE_CHARS, paid per byte."""
    kept = _str_arg(what, message)[:MAX_MESSAGE_CHARS]
    c.gas.charge(gas.MESSAGE_BYTE_GAS * len(kept.encode("utf-8")))
    return kept


def require(c, condition, message):
    _str_arg("require() message", message)
    if not condition:
        raise VMError("require_failed", _receipt_message(c, message, "require() message"))


def revert(c, message):
    raise VMError("reverted", _receipt_message(c, message, "revert() message"))


def emit(c, name, data):
    _writable(c, "emit")
    if not 1 <= len(_str_arg("event name", name)) <= MAX_EVENT_NAME:
        raise VMError("bad_argument", f"event name must be 1 to {MAX_EVENT_NAME} characters")
    if type(data) is not dict:
        raise VMError("type_error", f"event data must be dict, not {type_name(data)}")
    data, _ = copy_value(c.gas, data)
    name_bytes = len(name.encode("utf-8"))
    c.gas.charge(gas.EMIT_GAS + gas.EMIT_BYTE_GAS * name_bytes)
    size = host_call(c.host.emit, c.address, name, data)
    c.gas.charge(gas.EMIT_BYTE_GAS * size)
    c.gas.count_event(name_bytes + size)


def call(c, address, function, *args):
    return c.call_contract(_str_arg("call() address", address),
                           _str_arg("call() function", function), list(args))


def _native(name, impl, params, defaults=(), varargs=False):
    return name, Native(name, impl, Signature(params, defaults, varargs=varargs))


HOST_NATIVES: dict[str, Native] = dict([
    _native("storage.get", storage_get, ("key", "default"), (None,)),
    _native("storage.has", storage_has, ("key",)),
    _native("storage.set", storage_set, ("key", "value")),
    _native("storage.delete", storage_delete, ("key",)),
    _native("storage.scan", storage_scan, ("prefix", "start_after", "limit"), (None, 100)),
    _native("crypto.sha256", sha256, ("data",)),
    _native("crypto.ed25519_verify", ed25519_verify, ("public_key", "message", "signature")),
    _native("require", require, ("condition", "message"), ("requirement failed",)),
    _native("revert", revert, ("message",)),
    _native("emit", emit, ("name", "data")),
    _native("call", call, ("address", "function"), varargs=True),
])

HOST_OBJECTS = frozenset({"chain", "storage", "crypto"})

# chain.<name> -> how the compiled code reads it from the call context
CHAIN_ATTRIBUTES = {
    "caller": lambda c: c.caller,
    "origin": lambda c: c.host.origin,
    "self": lambda c: c.address,
    "height": lambda c: c.host.block_height,
    "time": lambda c: c.host.block_time,
}
