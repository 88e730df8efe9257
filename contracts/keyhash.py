"""Guarding dicts against keys chosen to collide in CPython's hash table.

A dict lookup costs one comparison per stored key that shares its hash, so a
dict of n keys with one hash makes every insertion O(n) and building it
O(n**2).  The hashes of str and bytes are randomised per process (SipHash with
a secret seed), so nobody can choose them; the hashes of ints and of tuples of
ints are fixed functions anyone can solve for collisions.

``collision_class(key)`` is CPython's own hash of such keys (ints, bools,
None and tuples of those, as CPython 3.12+ computes it), written out here so
that it is the same on every node and Python version: on 3.11 ``hash(None)``
is a random pointer, but the *decision* to refuse a key must not depend on
the node.  Keys with a str or bytes inside have no class: they cannot be
attacked.  ``KeyGuard`` counts distinct keys per class and refuses the
(MAX_COLLIDING_KEYS + 1)-th, which no honest program meets (it takes ints
exactly a multiple of 2**61 - 1 apart, or tuples solved for the purpose).

Requires a 64-bit CPython (hash modulus 2**61 - 1), like the rest of the node.
"""

from __future__ import annotations

import sys

MAX_COLLIDING_KEYS = 8

_MASK = (1 << 64) - 1
_MODULUS = (1 << 61) - 1
_NONE_HASH = 0xFCA86420                       # CPython 3.12+ Objects/object.c none_hash
_XXPRIME_1 = 11400714785074694791             # Objects/tupleobject.c tuplehash
_XXPRIME_2 = 14029467366897019727
_XXPRIME_5 = 2870177450012600261
_LENGTH_SALT = _XXPRIME_5 ^ 3527539

if sys.hash_info.modulus != _MODULUS:   # pragma: no cover - 32-bit builds
    raise ImportError("FlexLedger needs a 64-bit CPython (hash modulus 2**61 - 1)")


def _scalar_class(key: object) -> int | None:
    t = type(key)
    if t is int or t is bool:
        return hash(key)    # the documented int hash: sign * (abs(key) mod 2**61 - 1), -1 -> -2
    if key is None:
        return _NONE_HASH
    return None


def collision_class(key: object) -> int | None:
    """CPython 3.12+'s hash of ``key`` if anyone can predict it, else None."""
    if type(key) is not tuple:
        return _scalar_class(key)
    acc = _XXPRIME_5
    for item in key:
        lane = _scalar_class(item)
        if lane is None:
            return None
        acc = (acc + (lane & _MASK) * _XXPRIME_2) & _MASK
        acc = ((acc << 31) | (acc >> 33)) & _MASK
        acc = (acc * _XXPRIME_1) & _MASK
    acc = (acc + (len(key) ^ _LENGTH_SALT)) & _MASK
    if acc == _MASK:
        return 1546275796
    return acc - (1 << 64) if acc >> 63 else acc


class KeyCollision(Exception):
    """More than MAX_COLLIDING_KEYS distinct keys share one predictable hash."""


class KeyGuard:
    """Distinct keys seen per collision class (one guard per transaction or decoded value)."""

    __slots__ = ("_first", "_shared")

    def __init__(self) -> None:
        self._first: dict[int, object] = {}          # class -> the first key seen in it
        self._shared: dict[int, list] = {}           # class -> its distinct keys, once two

    def admit(self, key: object) -> None:
        """Record ``key``; raise KeyCollision if its class already holds too many keys."""
        cls = hash(key) if type(key) is int else collision_class(key)
        if cls is None:
            return
        first = self._first.setdefault(cls, key)
        if first == key:
            return
        shared = self._shared.setdefault(cls, [first])
        if key in shared:
            return
        if len(shared) >= MAX_COLLIDING_KEYS:
            raise KeyCollision(f"more than {MAX_COLLIDING_KEYS} distinct keys share one hash")
        shared.append(key)
