"""The light client's checks as pure functions: certificates, validator-set changes, proofs, trust file."""
import hashlib
import json

import pytest

from consensus.types import PRECOMMIT, Commit, CommitSignature, Validator, ValidatorSet, vote_sign_bytes
from node.block import Header
from node.encoding import encode, merkle_root, sha256
from node.keys import KeyPair
from node.lightclient import (TrustedSet, TrustHistory, VerificationError, verify_commit, verify_header, verify_inclusion,
                              verify_state_entry)
from node.merkleproof import merkle_path, root_from_path
from node.smt import SparseMerkleTree
from node.trustfile import load_trust, save_trust, trust_path

CHAIN = "flexledger-light"
KEYS = {name: KeyPair(hashlib.sha256(name.encode()).digest()) for name in ("dso", "a1", "a2", "a3", "a4", "x")}


def vset(*names: str, power: int = 10) -> ValidatorSet:
    return ValidatorSet(tuple(Validator(n, KEYS[n].public_key, power, "dso" if n == "dso" else "aggregator")
                              for n in names))


GENESIS_SET = vset("dso", "a1", "a2", "a3")
TRUSTED = TrustedSet(CHAIN, 0, GENESIS_SET)


def header(height: int, validators: ValidatorSet, state_root: bytes = b"\x05" * 32, chain_id: str = CHAIN,
           tx_root: bytes = b"\x03" * 32, receipts_root: bytes = b"\x04" * 32) -> Header:
    return Header(chain_id, height, 1_000 + height, b"\x01" * 32, tx_root, state_root, receipts_root,
                  validators.hash(), KEYS["dso"].address)


def commit(h: Header, *signers: str) -> Commit:
    message = vote_sign_bytes(h.chain_id, PRECOMMIT, h.height, 0, h.hash)
    return Commit(h.height, 0, h.hash, tuple(CommitSignature(KEYS[n].address, KEYS[n].sign(message)) for n in signers))


def refused(code: str, call, *args) -> str:
    with pytest.raises(VerificationError) as info:
        call(*args)
    assert info.value.code == code
    return info.value.message


def test_a_header_signed_by_more_than_two_thirds_of_the_trusted_set_is_verified():
    h = header(5, GENESIS_SET)
    trusted, certified = verify_header(TRUSTED, h, commit(h, "dso", "a1", "a3"), GENESIS_SET)
    assert certified.summary() == "verified by 3 of 4 validators (power 30 of 40) at height 5"
    assert trusted is TRUSTED


def test_a_certificate_below_two_thirds_is_refused():
    h = header(5, GENESIS_SET)
    assert refused("insufficient_power", verify_commit, CHAIN, h, commit(h, "dso", "a1"), GENESIS_SET) == \
        "block 5 is signed with power 20 of 40, not more than 2/3 (needs 27)"


def test_a_signature_of_a_non_validator_is_refused():
    h = header(5, GENESIS_SET)
    assert refused("unknown_validator", verify_commit, CHAIN, h, commit(h, "dso", "a1", "x"), GENESIS_SET) == \
        f"block 5 is signed by {KEYS['x'].address}, not a validator of the set that signs it"


def test_a_forged_or_repeated_signature_is_refused():
    h = header(5, GENESIS_SET)
    good = commit(h, "dso", "a1", "a2")
    forged = Commit(5, 0, h.hash, good.signatures[:2] + (CommitSignature(KEYS["a2"].address, b"\x00" * 64),))
    message = f"block 5 carries a bad or repeated signature of a2 ({KEYS['a2'].address})"
    assert refused("bad_signature", verify_commit, CHAIN, h, forged, GENESIS_SET) == message
    repeated = Commit(5, 0, h.hash, good.signatures + good.signatures[2:])
    assert refused("bad_signature", verify_commit, CHAIN, h, repeated, GENESIS_SET) == message


def test_a_certificate_for_another_block_is_refused():
    h, other = header(5, GENESIS_SET), header(5, GENESIS_SET, state_root=b"\x09" * 32)
    assert refused("commit_mismatch", verify_commit, CHAIN, h, commit(other, "dso", "a1", "a2"), GENESIS_SET) == \
        "the commit certificate is for another block than the header at height 5"


def test_another_chain_is_refused():
    h = header(5, GENESIS_SET, chain_id="other-chain")
    assert refused("chain_id_mismatch", verify_header, TRUSTED, h, commit(h, "dso", "a1", "a2"), GENESIS_SET) == \
        "the node serves chain 'other-chain', the wallet trusts chain 'flexledger-light'"


def test_a_validator_set_change_is_followed_and_then_trusted():
    added_removed = vset("dso", "a2", "a3", "a4")  # a4 added, a1 removed
    h = header(10, added_removed)
    trusted, certified = verify_header(TRUSTED, h, commit(h, "dso", "a2", "a4"), added_removed)
    assert trusted == TrustedSet(CHAIN, 10, added_removed)
    assert certified.summary() == "verified by 3 of 4 validators (power 30 of 40) at height 10"
    later = header(12, added_removed)
    assert verify_header(trusted, later, commit(later, "a2", "a3", "a4"), added_removed)[1].height == 12
    # the old set no longer signs: a4 is now needed, a1 is not a validator
    old = header(13, GENESIS_SET)
    assert refused("validators_mismatch", verify_header, trusted, header(9, GENESIS_SET),
                   commit(old, "dso", "a1", "a2"), GENESIS_SET) == \
        "block 9 names another validator set than the one trusted from height 10"


def test_a_new_set_vouched_for_by_at_most_a_third_of_the_trusted_power_is_refused():
    taken_over = ValidatorSet(vset("dso").validators + vset("x", "a4", power=40).validators)
    h = header(10, taken_over)
    assert refused("insufficient_trusted_power", verify_header, TRUSTED, h, commit(h, "dso", "x", "a4"),
                   taken_over) == ("the validator set changed after height 0, and the validators trusted then "
                                   "signed block 10 with power 10 of 40, not more than 1/3")


def test_a_validator_set_that_is_not_the_one_the_header_names_is_refused():
    h = header(10, vset("dso", "a2", "a3", "a4"))
    assert refused("validators_mismatch", verify_header, TRUSTED, h, commit(h, "dso", "a2", "a4"),
                   vset("dso", "a2", "a4", "x")) == \
        "the validator set the node sent for block 10 is not the one its header names"


def _state() -> SparseMerkleTree:
    return SparseMerkleTree.from_items([(b"stor:balance:%d" % i, encode(i * 100)) for i in range(50)])


def test_a_proven_value_and_a_proven_absence_pass():
    tree = _state()
    h = header(7, GENESIS_SET, state_root=tree.root())
    verify_state_entry(h, tree.root(), b"stor:balance:7", encode(700), tree.prove(b"stor:balance:7"))
    verify_state_entry(h, tree.root(), b"stor:balance:99", None, tree.prove(b"stor:balance:99"))


def test_a_forged_value_is_refused():
    tree = _state()
    h = header(7, GENESIS_SET, state_root=tree.root())
    assert refused("bad_proof", verify_state_entry, h, tree.root(), b"stor:balance:7", encode(10**9),
                   tree.prove(b"stor:balance:7")) == \
        "the proof of state key b'stor:balance:7' does not lead from the value given to the state root of block 7"
    refused("bad_proof", verify_state_entry, h, tree.root(), b"stor:balance:7", None, tree.prove(b"stor:balance:7"))


def test_a_forged_root_is_refused():
    tree, forged = _state(), _state()
    forged.set(b"stor:balance:7", encode(10**9))
    h = header(7, GENESIS_SET, state_root=tree.root())
    message = refused("root_mismatch", verify_state_entry, h, forged.root(), b"stor:balance:7", encode(10**9),
                      forged.prove(b"stor:balance:7"))
    assert message == (f"the proof is against state root {forged.root().hex()[:16]}…, block 7 has "
                       f"{tree.root().hex()[:16]}…")


@pytest.mark.parametrize("count", range(1, 10))
def test_merkle_paths_lead_to_the_block_roots(count):
    leaves = [sha256(bytes([i])) for i in range(count)]
    for index in range(count):
        path = merkle_path(leaves, index)
        assert root_from_path(leaves[index], index, count, path) == merkle_root(leaves)
        assert root_from_path(leaves[index], index, count, path + [b"\x00" * 32]) is None
        if path:
            assert root_from_path(leaves[index], index, count, path[:-1]) is None
    assert root_from_path(leaves[0], count, count, []) is None


def test_a_transaction_not_in_the_block_is_refused():
    leaves = [sha256(bytes([i])) for i in range(5)]
    root = merkle_root(leaves)
    verify_inclusion(root, leaves[3], 3, 5, merkle_path(leaves, 3), "transaction")
    assert refused("bad_proof", verify_inclusion, root, sha256(b"other"), 3, 5, merkle_path(leaves, 3),
                   "transaction") == \
        "the transaction is not in the block: its Merkle path does not lead to the block's transaction root"


def test_trust_starts_from_a_genesis_file_and_is_kept_in_the_wallet_home(tmp_path):
    assert refused("no_trusted_validators", load_trust, tmp_path, None) == \
        (f"no trusted validator set in {tmp_path / 'trusted-validators.json'}: give the chain's genesis file once "
         f"with --genesis FILE (check its hash with your consortium)")
    changed = TrustHistory((TRUSTED, TrustedSet(CHAIN, 12, vset("dso", "a2"))))
    save_trust(tmp_path, changed)
    assert load_trust(tmp_path, None) == changed
    trust_path(tmp_path).write_text(json.dumps({"trusted_sets": [{"chain_id": CHAIN}]}))
    assert refused("bad_trusted_set", load_trust, tmp_path, None) == \
        f"cannot read {trust_path(tmp_path)}: not a trusted validator set: 'height'; remove it and give --genesis FILE"


def test_the_trust_history_checks_each_header_against_the_set_trusted_at_its_height():
    changed_set = vset("dso", "a2", "a3", "a4")
    history = TrustHistory.from_genesis(CHAIN, GENESIS_SET).learn(TrustedSet(CHAIN, 10, changed_set))
    assert history.learn(TrustedSet(CHAIN, 20, changed_set)) == history  # nothing new: the set is in force there
    assert (history.at(9), history.at(10), history.at(99)) == (TRUSTED, TrustedSet(CHAIN, 10, changed_set),
                                                              TrustedSet(CHAIN, 10, changed_set))
    old = header(7, GENESIS_SET)  # a block from before the change, still verified by the genesis set
    assert verify_header(history.at(7), old, commit(old, "dso", "a1", "a2"), GENESIS_SET)[1].height == 7
    assert refused("bad_trusted_set", TrustHistory, (TrustedSet(CHAIN, 3, GENESIS_SET),)) == \
        "trusted sets start at height 0 and are all of one chain"
