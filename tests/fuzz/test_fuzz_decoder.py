"""Fuzzing the canonical decoder: random and mutated bytes only ever raise EncodingError (the
same result on replay, within a memory bound), generated values round-trip exactly, and
nesting past the limit is always refused."""
from __future__ import annotations

import tracemalloc

import msgpack
from hypothesis import given, strategies as st

from node.encoding import MAX_DECODE_DEPTH, EncodingError, decode, encode
from tests.fuzz import canonical_values as values, fuzz, mutated

LEVEL_PREFIX = {"list": b"\x91", "map": b"\x81\xa1k"}  # a one-item array; a map {"k": ...}


def nested_bytes(kinds: list[str]) -> bytes:
    """The encoding of None inside the given containers (outermost first), built without recursion."""
    data = b"\xc0"
    for kind in reversed(kinds):
        data = msgpack.packb(msgpack.ExtType(2, b"\x91" + data)) if kind == "tuple" else LEVEL_PREFIX[kind] + data
    return data


MAX_PEAK_MEMORY = 1024 * 1024  # bytes traced while decoding one input of at most a few kB


def outcome(data: bytes) -> str:
    """What decoding ``data`` gives (its repr, or the EncodingError's message); nothing else may escape."""
    try:
        return repr(decode(data))
    except EncodingError as exc:
        return f"EncodingError: {exc}"


def decode_or_refuse(data: bytes) -> None:
    """Decoding ``data`` gives a value or an EncodingError, the same one twice, within MAX_PEAK_MEMORY."""
    tracemalloc.start()
    try:
        first = outcome(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MAX_PEAK_MEMORY, f"{peak} bytes to decode {len(data)}"
    assert outcome(data) == first


@given(st.binary(max_size=600))
@fuzz(examples=400, deadline_ms=500)
def test_random_bytes_decode_or_raise_encoding_error(data):
    decode_or_refuse(data)


@given(mutated(values.map(encode)))
@fuzz(examples=300, deadline_ms=500)
def test_mutated_encodings_decode_or_raise_encoding_error(data):
    decode_or_refuse(data)


@given(values)
@fuzz(examples=200, deadline_ms=500)
def test_values_round_trip_exactly(value):
    data = encode(value)
    back = decode(data)
    assert back == value and type(back) is type(value)
    assert encode(back) == data


@given(st.lists(st.sampled_from(("list", "tuple", "map")), min_size=MAX_DECODE_DEPTH + 1, max_size=3000))
@fuzz(examples=60, deadline_ms=1000)
def test_nesting_past_the_limit_is_refused(kinds):
    try:
        decode(nested_bytes(kinds))
    except EncodingError as exc:
        assert "nested deeper" in str(exc)
    else:
        raise AssertionError(f"{len(kinds)} levels decoded")


@given(st.lists(st.sampled_from(("list", "tuple", "map")), max_size=MAX_DECODE_DEPTH))
@fuzz(examples=60, deadline_ms=500)
def test_nesting_within_the_limit_decodes(kinds):
    decode(nested_bytes(kinds))
