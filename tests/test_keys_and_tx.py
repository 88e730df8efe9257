"""Keys, addresses, keystore files and signed transactions."""
import json
import os

import pytest

from node.keys import KeyPair, address_of, contract_address, is_address, verify
from node.keystore import Keystore, KeystoreError
from node.tx import CallPayload, DeployPayload, GovernancePayload, Transaction, TxFormatError


def test_address_is_hash_of_public_key():
    key = KeyPair.generate()
    assert is_address(key.address) and key.address == address_of(key.public_key)
    assert contract_address(key.address, 0) != contract_address(key.address, 1)


def test_signature_verifies_only_for_its_message_and_key():
    key, other = KeyPair.generate(), KeyPair.generate()
    sig = key.sign(b"hello")
    assert verify(key.public_key, b"hello", sig)
    assert not verify(key.public_key, b"hellp", sig)
    assert not verify(other.public_key, b"hello", sig)
    assert not verify(key.public_key, b"hello", sig[:10])


def test_keystore_round_trip_and_wrong_password(tmp_path):
    store = Keystore(tmp_path / "keys")
    key = store.create("alice", "secret")
    assert store.names() == ["alice"]
    assert store.load("alice", "secret") == key
    assert oct(os.stat(tmp_path / "keys" / "alice.json").st_mode & 0o777) == "0o600"
    doc = json.loads((tmp_path / "keys" / "alice.json").read_text())
    assert key.seed.hex() not in json.dumps(doc)
    with pytest.raises(KeystoreError, match="wrong password for key 'alice'"):
        store.load("alice", "nope")
    with pytest.raises(KeystoreError, match="already exists"):
        store.create("alice", "x")
    with pytest.raises(KeystoreError, match="no key named 'bob'"):
        store.load("bob", "secret")
    with pytest.raises(KeystoreError, match="invalid key name"):
        store.create("../evil", "x")


@pytest.mark.parametrize("payload", [CallPayload("0x" + "ab" * 20, "transfer", ["0x" + "cd" * 20, 5]),
                                     DeployPayload("def f():\n    return 1\n", [1, "x"]),
                                     GovernancePayload("set_param", {"name": "max_tx_gas", "value": 5})])
def test_tx_round_trip_and_signature(payload):
    key = KeyPair.generate()
    tx = Transaction("chain-a", key.public_key, 3, 100_000, payload).signed(key)
    assert tx.signature_valid()
    decoded = Transaction.from_bytes(tx.to_bytes())
    assert decoded == tx and decoded.hash == tx.hash
    tampered = Transaction(tx.chain_id, tx.sender, tx.nonce + 1, tx.gas_limit, tx.payload, tx.signature)
    assert not tampered.signature_valid()


@pytest.mark.parametrize("data, message", [
    (b"\x00\x01garbage", "malformed bytes|array of 7 fields"),
    (b"\x93\x01\x02\x03", "array of 7 fields"),
])
def test_malformed_tx_bytes_are_refused(data, message):
    with pytest.raises(TxFormatError, match=message):
        Transaction.from_bytes(data)


def test_unknown_payload_kind_is_refused():
    from node.encoding import encode
    key = KeyPair.generate()
    data = encode([1, "c", key.public_key, 0, 10, ["teleport", 1], b"\x00" * 64])
    with pytest.raises(TxFormatError, match="unknown payload kind 'teleport'"):
        Transaction.from_bytes(data)


def test_an_address_with_a_trailing_newline_is_not_an_address():
    from consensus.messages import _address
    from node.keys import address_bytes, is_address

    address = "0x" + "ab" * 20
    assert is_address(address) and not is_address(address + "\n")
    with pytest.raises(ValueError, match="not an address"):
        address_bytes(address + "\n")
    _address("validator", address)
    with pytest.raises(ValueError, match="validator must be an address"):
        _address("validator", address + "\n")
