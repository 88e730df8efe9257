"""Tests for node.smt: roots against a naive reference built straight from the
definition, order independence, canonical collapse on delete, and inclusion /
non-inclusion proofs (including tampering and JSON round-trips)."""

import hashlib
import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.smt import EMPTY, Proof, SparseMerkleTree, verify_proof


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def bit(h: bytes, depth: int) -> int:
    return (h[depth // 8] >> (7 - depth % 8)) & 1


def reference_root(entries: dict[bytes, bytes]) -> bytes:
    """Root straight from the definition, over the set of (kh, vh)."""

    def subtree(items: list[tuple[bytes, bytes]], depth: int) -> bytes:
        if not items:
            return EMPTY
        if len(items) == 1:
            kh, vh = items[0]
            return sha(b"\x00" + kh + vh)
        left = [i for i in items if bit(i[0], depth) == 0]
        right = [i for i in items if bit(i[0], depth) == 1]
        return sha(b"\x01" + subtree(left, depth + 1) + subtree(right, depth + 1))

    return subtree(sorted((sha(k), sha(v)) for k, v in entries.items()), 0)


def shared_prefix_bits(a: bytes, b: bytes) -> int:
    x = int.from_bytes(sha(a), "big") ^ int.from_bytes(sha(b), "big")
    return 256 - x.bit_length()


def keys_sharing_prefix(bits: int) -> tuple[bytes, bytes]:
    """Two small-int keys whose sha256 agree on at least the first ``bits`` bits (birthday search)."""
    seen: dict[int, bytes] = {}
    i = 0
    while True:
        key = i.to_bytes(4, "big")
        prefix = int.from_bytes(sha(key), "big") >> (256 - bits)
        if prefix in seen:
            return seen[prefix], key
        seen[prefix] = key
        i += 1


KEY_A, KEY_B = keys_sharing_prefix(24)
SHARED = shared_prefix_bits(KEY_A, KEY_B)

# A small key pool makes overwrites, deletes of present keys and prefix splits common.
keys = st.binary(max_size=2)
values = st.binary(max_size=4)
entry_sets = st.dictionaries(keys, values, max_size=40)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), keys, values),
        st.tuples(st.just("delete"), keys),
        st.tuples(st.just("update"), st.dictionaries(keys, st.none() | values, max_size=10)),
        st.tuples(st.just("root")),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(initial=entry_sets, operations=ops)
def test_root_matches_reference_and_is_order_independent(initial, operations):
    tree = SparseMerkleTree.from_items(initial.items())
    model = dict(initial)
    assert tree.root() == reference_root(model)
    for op in operations:
        if op[0] == "set":
            tree.set(op[1], op[2])
            model[op[1]] = op[2]
        elif op[0] == "delete":
            tree.delete(op[1])
            model.pop(op[1], None)
        elif op[0] == "update":
            tree.update(op[1])
            for k, v in op[1].items():
                if v is None:
                    model.pop(k, None)
                else:
                    model[k] = v
        else:  # computing the root mid-way exercises the dirty-hash cache
            assert tree.root() == reference_root(model)
        assert len(tree) == len(model)
    assert tree.root() == reference_root(model)
    assert tree.root() == SparseMerkleTree.from_items(model.items()).root()
    assert tree.root() == SparseMerkleTree.from_items(reversed(model.items())).root()


def test_from_items_last_value_wins():
    tree = SparseMerkleTree.from_items([(b"k", b"1"), (b"j", b"x"), (b"k", b"2")])
    assert len(tree) == 2
    assert tree.root() == reference_root({b"k": b"2", b"j": b"x"})


def check_proofs(tree: SparseMerkleTree, entries: dict[bytes, bytes], absent: list[bytes]) -> None:
    root = tree.root()
    for key, value in entries.items():
        proof = tree.prove(key)
        assert verify_proof(root, key, value, proof)
        assert not verify_proof(root, key, value + b"!", proof)
        assert not verify_proof(root, key, None, proof)
        assert not verify_proof(sha(root), key, value, proof)
        for i in range(len(proof.siblings)):
            tampered = list(proof.siblings)
            tampered[i] = sha(tampered[i])
            assert not verify_proof(root, key, value, replace(proof, siblings=tuple(tampered)))
        if proof.siblings:
            assert not verify_proof(root, key, value, replace(proof, siblings=proof.siblings[:-1]))
    for key in absent:
        proof = tree.prove(key)
        assert verify_proof(root, key, None, proof)
        assert not verify_proof(root, key, b"", proof)
        assert not verify_proof(root, key, b"anything", proof)
        assert not verify_proof(sha(root), key, None, proof)


@settings(max_examples=200, deadline=None)
@given(entries=entry_sets, absent=st.lists(keys, max_size=10))
def test_proofs(entries, absent):
    tree = SparseMerkleTree.from_items(entries.items())
    check_proofs(tree, entries, [k for k in absent if k not in entries])


def test_empty_tree():
    tree = SparseMerkleTree()
    assert len(tree) == 0
    assert tree.root() == EMPTY
    proof = tree.prove(b"missing")
    assert proof == Proof((), None)
    assert verify_proof(EMPTY, b"missing", None, proof)
    assert not verify_proof(EMPTY, b"missing", b"", proof)
    tree.delete(b"missing")
    assert tree.root() == EMPTY and len(tree) == 0


def test_single_entry():
    tree = SparseMerkleTree()
    tree.set(b"k", b"v")
    assert tree.root() == sha(b"\x00" + sha(b"k") + sha(b"v"))
    proof = tree.prove(b"k")
    assert proof == Proof((), (sha(b"k"), sha(b"v")))
    check_proofs(tree, {b"k": b"v"}, [b"other"])
    tree.delete(b"k")
    assert tree.root() == EMPTY and len(tree) == 0


def test_long_shared_prefix_splits_and_collapses():
    assert SHARED >= 24
    tree = SparseMerkleTree()
    tree.set(KEY_A, b"a")
    tree.set(KEY_B, b"b")
    assert tree.root() == reference_root({KEY_A: b"a", KEY_B: b"b"})
    proof = tree.prove(KEY_A)
    assert len(proof.siblings) == SHARED + 1
    assert proof.siblings[:SHARED] == (EMPTY,) * SHARED
    assert proof.siblings[SHARED] == sha(b"\x00" + sha(KEY_B) + sha(b"b"))

    # Absent keys whose search ends in EMPTY part-way down the shared chain.
    near = [k for k in (i.to_bytes(4, "big") for i in range(5000)) if 4 <= shared_prefix_bits(k, KEY_A)][:20]
    absent = [k for k in near if k not in (KEY_A, KEY_B)]
    check_proofs(tree, {KEY_A: b"a", KEY_B: b"b"}, absent)

    tree.delete(KEY_B)  # the whole branch chain collapses back into KEY_A's leaf
    assert tree.root() == sha(b"\x00" + sha(KEY_A) + sha(b"a"))
    assert tree.prove(KEY_A).siblings == ()


def test_update_is_equivalent_to_set_and_delete():
    base = {bytes([i]): bytes([i]) * 3 for i in range(50)}
    changes = {bytes([i]): (None if i % 3 == 0 else b"new") for i in range(0, 80, 2)}
    tree = SparseMerkleTree.from_items(base.items())
    tree.update(changes)
    expected = {k: v for k, v in base.items() if k not in changes}
    expected.update({k: v for k, v in changes.items() if v is not None})
    assert len(tree) == len(expected)
    assert tree.root() == reference_root(expected)


@settings(max_examples=100, deadline=None)
@given(entries=entry_sets, key=keys)
def test_proof_dict_round_trip(entries, key):
    proof = SparseMerkleTree.from_items(entries.items()).prove(key)
    d = json.loads(json.dumps(proof.to_dict()))
    assert Proof.from_dict(d) == proof


def test_overlong_proof_is_rejected():
    tree = SparseMerkleTree.from_items([(b"k", b"v")])
    proof = Proof((EMPTY,) * 257, None)
    assert not verify_proof(tree.root(), b"absent", None, proof)


def test_from_dict_rejects_malformed_hashes():
    with pytest.raises(ValueError):
        Proof.from_dict({"siblings": ["00" * 31], "leaf": None})
    with pytest.raises(ValueError):
        Proof.from_dict({"siblings": [], "leaf": ["zz" * 32, "00" * 32]})
