"""Canonical encoding: round trips, refusals, and the Merkle root."""
import pytest
from hypothesis import given, strategies as st

from node.encoding import EncodingError, decode, encode, merkle_root, sha256

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**300), max_value=2**300),
                    st.text(max_size=20), st.binary(max_size=20))
keys = st.one_of(st.text(max_size=8), st.integers(-1000, 1000), st.binary(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.tuples(inner, inner), st.dictionaries(keys, inner, max_size=5)), max_leaves=20)


@given(values)
def test_round_trip_preserves_value_and_type(value):
    assert decode(encode(value)) == value
    assert type(decode(encode(value))) is type(value)


@given(values)
def test_encoding_is_deterministic(value):
    assert encode(value) == encode(decode(encode(value)))


@pytest.mark.parametrize("bad", [1.5, {1, 2}, object(), [0.0]])
def test_floats_and_unknown_types_are_refused(bad):
    with pytest.raises(EncodingError):
        encode(bad)


def test_malformed_bytes_raise_encoding_error():
    with pytest.raises(EncodingError):
        decode(b"\xc1")
    with pytest.raises(EncodingError):
        decode(encode(1) + b"extra")


def test_tuple_dict_keys_survive():
    value = {("a", 1): [1, 2], "b": (1, (2, 3))}
    assert decode(encode(value)) == value


def test_merkle_root():
    a, b, c = sha256(b"a"), sha256(b"b"), sha256(b"c")
    assert merkle_root([]) == sha256(b"")
    assert merkle_root([a]) == sha256(b"\x00" + a)
    ab = sha256(b"\x01" + sha256(b"\x00" + a) + sha256(b"\x00" + b))
    assert merkle_root([a, b]) == ab
    assert merkle_root([a, b, c]) == sha256(b"\x01" + ab + sha256(b"\x00" + c))
    assert merkle_root([b, a]) != ab
