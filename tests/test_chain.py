"""The ledger core in one process: genesis, execution, failures, restart, proofs, governance."""
import asyncio
from pathlib import Path

import pytest

from node import statekeys
from node.chain import Chain, ChainError
from node.errors import ApiError
from node.keys import KeyPair, contract_address
from node.smt import verify_proof
from node.tx import CallPayload, DeployPayload, GovernancePayload, Transaction
from tests.chainkit import ALICE, BOB, SUPPLY, TOKEN

COUNTER = (Path(__file__).parent / "contracts" / "counter.py").read_text()


def test_genesis_deploys_the_token_with_the_issuer_allocation(chain):
    assert chain.chain.height == 0
    assert chain.balance(chain.issuer.address) == SUPPLY
    assert chain.query(TOKEN, "total_supply") == SUPPLY
    assert chain.query(TOKEN, "issuer") == chain.issuer.address


def test_transfer_moves_tokens_and_emits_event(chain):
    alice = KeyPair.generate()
    receipt = chain.call(chain.issuer, TOKEN, "transfer", alice.address, 5_000_000)
    assert receipt.ok and receipt.height == 1
    assert chain.balance(alice.address) == 5_000_000
    assert chain.balance(chain.issuer.address) == SUPPLY - 5_000_000
    assert [e.name for e in receipt.events] == ["Transfer"]
    assert chain.chain.nonce(chain.issuer.address) == 1


def _storage_snapshot(chain, contract):
    return list(chain.chain.state.scan(statekeys.storage_prefix(contract)))


def test_out_of_gas_reverts_writes_but_charges_gas_and_bumps_nonce(chain):
    alice = ALICE
    deployed = chain.deploy(alice, COUNTER, 7)
    assert deployed.ok, deployed.error
    counter = deployed.contract_address
    before = _storage_snapshot(chain, counter)
    receipt = chain.call(alice, counter, "fail_after_write", "x")
    assert (receipt.status, receipt.error_code, receipt.error) == ("failed", "require_failed", "always fails")
    assert _storage_snapshot(chain, counter) == before
    receipt = chain.call(alice, counter, "spin", 10**9, gas=200_000)
    assert (receipt.status, receipt.error_code, receipt.gas_used) == ("failed", "out_of_gas", 200_000)
    assert _storage_snapshot(chain, counter) == before
    assert chain.chain.nonce(alice.address) == 3


def test_failed_require_in_token_leaves_balances(chain):
    alice, bob = ALICE, BOB
    receipt = chain.call(alice, TOKEN, "transfer", bob.address, 1)
    assert (receipt.error_code, receipt.error) == ("require_failed", "insufficient balance")
    assert chain.balance(alice.address) == 0 and chain.balance(bob.address) == 0


def test_missing_contract_and_function(chain):
    alice = ALICE
    receipt = chain.call(alice, "0x" + "ee" * 20, "anything")
    assert receipt.error_code == "contract_not_found"
    receipt = chain.call(alice, TOKEN, "no_such_thing")
    assert receipt.error_code == "no_such_function"
    receipt = chain.call(alice, TOKEN, "init", alice.address)
    assert receipt.error_code == "no_such_function"  # init runs only at deploy


@pytest.mark.parametrize("source, code", [("def f():\n    return 1.5\n", "float_not_allowed"),
                                          ("import os\n\ndef f():\n    return 1\n", "import_not_allowed")])
def test_bad_contract_source_is_refused_at_admission(chain, source, code):
    with pytest.raises(ApiError) as info:
        asyncio.run(chain.service.submit(chain.tx(ALICE, DeployPayload(source, [])).to_bytes()))
    assert info.value.code == code
    assert "line" in info.value.message
    assert len(chain.service.mempool) == 0


def test_deployed_contract_runs_and_has_deterministic_address(chain):
    alice = ALICE
    receipt = chain.deploy(alice, COUNTER, 10)
    assert receipt.contract_address == contract_address(alice.address, 0)
    assert chain.call(alice, receipt.contract_address, "incr", 5).result == 15
    assert chain.query(receipt.contract_address, "get") == 15


def test_restart_resumes_at_the_same_head_and_root(chain):
    alice = KeyPair.generate()
    for i in range(3):
        chain.call(chain.issuer, TOKEN, "transfer", alice.address, 1 + i)
    head = chain.chain.head
    chain.reopen()
    assert chain.chain.head == head
    assert chain.chain.state.root() == head.header.state_root
    assert chain.balance(alice.address) == 6
    chain.driver.produce_block()
    assert chain.chain.height == head.height + 1


def test_damaged_state_is_detected_at_start(chain):
    chain.call(chain.issuer, TOKEN, "transfer", KeyPair.generate().address, 1)
    key = statekeys.storage(TOKEN, "balance:" + chain.issuer.address)
    chain.chain.store.db.put(b"s:" + key, b"\x01")
    chain.chain.close()
    with pytest.raises(ChainError, match="state root of the stored state does not match"):
        Chain(chain.directory, chain.genesis)


def test_storage_proof_verifies_against_the_state_root(chain):
    alice = KeyPair.generate()
    chain.call(chain.issuer, TOKEN, "transfer", alice.address, 42)
    key = statekeys.storage(TOKEN, "balance:" + alice.address)
    value, proof, header = chain.chain.prove(key)
    assert verify_proof(header.state_root, key, value, proof)
    absent = statekeys.storage(TOKEN, "balance:" + KeyPair.generate().address)
    value, proof, header = chain.chain.prove(absent)
    assert value is None and verify_proof(header.state_root, absent, None, proof)


def test_governance_set_param_by_validator_only(chain):
    receipt = chain.run(BOB, GovernancePayload("set_param", {"name": "max_tx_gas", "value": 5_000_000}))
    assert receipt.error_code == "not_a_validator"
    receipt = chain.run(chain.validator, GovernancePayload("set_param", {"name": "max_tx_gas", "value": 5_000_000}))
    assert receipt.ok and receipt.result["applied"] is True
    assert chain.chain.params().max_tx_gas == 5_000_000
    receipt = chain.run(chain.validator, GovernancePayload("set_param", {"name": "nope", "value": 1}))
    assert receipt.error_code == "bad_governance_params"
    receipt = chain.run(chain.validator, GovernancePayload("fly", {}))
    assert receipt.error_code == "unknown_governance_action"


def test_validator_path_rejects_a_tampered_block(chain, tmp_path):
    from tests.chainkit import LocalChain
    replica = LocalChain(tmp_path / "replica", chain.validator, chain.issuer)
    chain.call(chain.issuer, TOKEN, "transfer", KeyPair.generate().address, 1)
    block = chain.chain.head
    forged = block.with_header(state_root=b"\x01" * 32)
    with pytest.raises(ChainError) as info:
        replica.chain.execute_block(forged)
    assert info.value.code == "state_mismatch"
    executed = replica.chain.execute_block(block)
    replica.chain.commit(executed, chain.chain.store.commit(1))
    assert replica.chain.state.root() == chain.chain.state.root()
    replica.close()


def test_block_gas_limit_spreads_txs_over_blocks(tmp_path):
    from node.params import ChainParams
    from tests.chainkit import LocalChain
    small = LocalChain(tmp_path / "small", params=ChainParams(block_gas_limit=5_000_000, max_tx_gas=2_000_000))
    alice = KeyPair.generate()
    txs = [small.tx(small.issuer, CallPayload(TOKEN, "transfer", [alice.address, 1]), nonce=n) for n in range(5)]
    small.submit(*txs)
    small.driver.produce_block()
    assert len(small.chain.head.txs) == 2  # 2 x 2M gas limit fit under 5M, the third does not
    small.driver.produce_block()
    small.driver.produce_block()
    assert small.balance(alice.address) == 5 and len(small.service.mempool) == 0
    small.close()


def test_block_with_timestamp_too_far_ahead_is_refused(chain, tmp_path):
    from tests.chainkit import LocalChain
    replica = LocalChain(tmp_path / "replica", chain.validator, chain.issuer)
    chain.driver.produce_block()
    block = chain.chain.head
    with pytest.raises(ChainError) as info:
        replica.chain.execute_block(block, now_ms=block.header.timestamp_ms - 60_000)
    assert info.value.code == "bad_timestamp"
    replica.chain.execute_block(block, now_ms=block.header.timestamp_ms)
    replica.close()


def test_proofs_are_against_the_committed_root_while_a_block_is_staged(chain):
    alice = KeyPair.generate()
    chain.call(chain.issuer, TOKEN, "transfer", alice.address, 42)
    key = statekeys.storage(TOKEN, "balance:" + alice.address)
    committed_root = chain.chain.head.header.state_root
    chain.submit(chain.tx(chain.issuer, CallPayload(TOKEN, "transfer", [alice.address, 8])))
    staged = chain.chain.propose(chain.service.mempool.reap(chain.chain.nonce, 10), chain.chain.next_timestamp(0),
                                 chain.validator.address, None)
    assert staged.block.header.state_root != committed_root
    value, proof, header = chain.chain.prove(key)
    assert header.state_root == committed_root and verify_proof(committed_root, key, value, proof)
    assert chain.chain.state.root() == staged.block.header.state_root  # still staged afterwards
    chain.chain.abandon()
    assert chain.chain.state.root() == committed_root


def test_validator_refuses_a_block_with_a_forged_transaction(chain, tmp_path):
    from node.block import tx_root
    from tests.chainkit import LocalChain
    replica = LocalChain(tmp_path / "replica", chain.validator, chain.issuer)
    mallory = KeyPair.generate()
    honest = chain.tx(chain.issuer, CallPayload(TOKEN, "transfer", [mallory.address, 5]))
    forged = Transaction(honest.chain_id, chain.issuer.public_key, honest.nonce, honest.gas_limit,
                         CallPayload(TOKEN, "transfer", [mallory.address, 10**9]), mallory.sign(b"not the issuer"))
    staged = chain.chain.propose([forged], chain.chain.next_timestamp(0), chain.validator.address, None)
    block = staged.block.with_header(tx_root=tx_root([forged]))
    chain.chain.abandon()
    with pytest.raises(ChainError) as info:
        replica.chain.execute_block(block)
    assert info.value.code == "invalid_tx" and "bad signature" in info.value.message
    replica.close()
