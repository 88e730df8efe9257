"""Mempool admission: every rejection has its own code; accepted txs are reaped in nonce order."""
import pytest

from node.errors import ApiError
from node.keys import KeyPair
from node.mempool import Mempool
from node.params import ChainParams
from node.tx import CallPayload, Transaction

CHAIN = "test-chain"
TOKEN = "0x" + "11" * 20
PARAMS = ChainParams()


def make_tx(key, nonce=0, gas=100_000, chain=CHAIN, args=None):
    return Transaction(chain, key.public_key, nonce, gas, CallPayload(TOKEN, "transfer", args or [key.address, 1])).signed(key)


def rejection(pool, data, nonces=None):
    with pytest.raises(ApiError) as info:
        pool.check(data, PARAMS, lambda a: (nonces or {}).get(a, 0))
    return info.value.code


@pytest.fixture
def key():
    return KeyPair.generate()


def test_accepts_and_reaps_consecutive_nonces(key):
    pool = Mempool(CHAIN)
    for nonce in (1, 0, 3):
        pool.add(pool.check(make_tx(key, nonce).to_bytes(), PARAMS, lambda a: 0))
    assert [tx.nonce for tx in pool.reap(lambda a: 0, 100)] == [0, 1]  # 3 waits for 2
    assert pool.next_nonce(key.address, 0) == 2
    pool.remove_committed(lambda a: 2)
    assert len(pool) == 1


def test_each_rejection_has_its_code(key):
    pool = Mempool(CHAIN, capacity=2)
    good = make_tx(key, 0)
    assert rejection(pool, good.to_bytes()[:-3]) == "malformed_tx"
    assert rejection(pool, b"\xff" * 10) == "malformed_tx"
    assert rejection(pool, make_tx(key, chain="other").to_bytes()) == "wrong_chain_id"
    forged = Transaction(CHAIN, key.public_key, 0, 100_000, good.payload, KeyPair.generate().sign(good.signing_bytes()))
    assert rejection(pool, forged.to_bytes()) == "bad_signature"
    assert rejection(pool, make_tx(key, 0).to_bytes(), {key.address: 5}) == "nonce_too_low"
    assert rejection(pool, make_tx(key, 65).to_bytes()) == "nonce_too_high"
    assert rejection(pool, make_tx(key, gas=PARAMS.max_tx_gas + 1).to_bytes()) == "gas_limit_too_high"
    assert rejection(pool, make_tx(key, gas=10).to_bytes()) == "gas_limit_too_low"
    big = make_tx(key, args=["x" * PARAMS.max_tx_bytes])
    assert rejection(pool, big.to_bytes()) == "tx_too_large"
    pool.add(pool.check(good.to_bytes(), PARAMS, lambda a: 0))
    assert rejection(pool, good.to_bytes()) == "already_known"
    assert rejection(pool, make_tx(key, 0, gas=200_000).to_bytes()) == "nonce_taken"
    pool.add(pool.check(make_tx(key, 1).to_bytes(), PARAMS, lambda a: 0))
    full = rejection(pool, make_tx(KeyPair.generate(), 0).to_bytes())
    assert full == "mempool_full"


def test_rejection_messages_are_explicit(key):
    pool = Mempool(CHAIN, capacity=0)
    with pytest.raises(ApiError, match=r"mempool is full \(0 transactions\); retry later") as info:
        pool.check(make_tx(key).to_bytes(), PARAMS, lambda a: 0)
    assert info.value.status == 503
    with pytest.raises(ApiError, match="nonce 0 was already used; the account's next nonce is 4"):
        Mempool(CHAIN).check(make_tx(key).to_bytes(), PARAMS, lambda a: 4)
