"""Genesis files: validation errors name the field; a data dir refuses a different genesis."""
import json

import pytest

from node.chain import Chain, ChainError
from node.genesis import Genesis, GenesisError
from node.keys import KeyPair
from tests.chainkit import make_genesis


@pytest.fixture
def doc():
    return make_genesis(KeyPair.generate(), KeyPair.generate()).to_json()


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("chain_id"), "genesis is missing field 'chain_id'"),
    (lambda d: d.update(chain_id=""), "chain_id must be non-empty text"),
    (lambda d: d.update(genesis_time_ms="soon"),
     "genesis_time_ms must be milliseconds since 1970 (a whole number), not 'soon'"),
    (lambda d: d["validators"][0].update(role="king"),
     "validators[0].role must be one of ('dso', 'aggregator'), not 'king'"),
    (lambda d: d["validators"][0].update(power=0), "validators[0].power must be a positive whole number, not 0"),
    (lambda d: d["validators"][0].update(public_key="abc"),
     "validators[0].public_key must be 32 bytes as 64 hex digits, not 'abc'"),
    (lambda d: d["validators"][0].pop("name"), "validators[0] is missing field 'name'"),
    (lambda d: d["validators"][0].update(p2p="0.0.0.0"),
     "validators[0].p2p: '0.0.0.0' is not HOST:PORT (e.g. 203.0.113.7:26656 or node1.example.org:26656)"),
    (lambda d: d["validators"].append(dict(d["validators"][0], public_key="11" * 32)),
     "validators: two validators are named 'dso'"),
    (lambda d: d["validators"].append(dict(d["validators"][0], name="dso2")), "validators: duplicate validator key"),
    (lambda d: d["contracts"][0].update(deployer="bob"), "contracts[0].deployer is not an address: 'bob'"),
    (lambda d: d["calls"][0].update(contract="nft"), "calls[0].contract: unknown genesis contract 'nft'"),
    (lambda d: d["params"].update(max_tx_gas=-1), "params: chain parameter max_tx_gas must be a positive integer"),
    (lambda d: d["params"].update(warp=1), "params: unknown chain parameter 'warp'"),
    (lambda d: d.update(allowed_accounts=["0x12"]), "an entry of allowed_accounts is not an address: '0x12'"),
])
def test_invalid_genesis_names_the_problem(doc, change, message):
    change(doc)
    with pytest.raises(GenesisError) as error:
        Genesis.from_json(doc)
    assert str(error.value).startswith(message)


def test_validator_p2p_addresses_round_trip_and_leave_the_state_alone(tmp_path, doc):
    doc["validators"][0]["p2p"] = "dso.example.org:26656"
    genesis = Genesis.from_json(doc)
    assert genesis.p2p == {genesis.validators.validators[0].address: "dso.example.org:26656"}
    assert Genesis.from_json(genesis.to_json()) == genesis
    Chain(tmp_path, genesis).close()
    doc["validators"][0].pop("p2p")
    Chain(tmp_path, Genesis.from_json(doc)).close()  # the same chain: p2p is not genesis state


def test_genesis_file_errors(tmp_path):
    with pytest.raises(GenesisError, match="not found"):
        Genesis.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(GenesisError, match="not valid JSON"):
        Genesis.load(tmp_path / "bad.json")
    (tmp_path / "config.json").write_text('{"api_listen": "127.0.0.1:26657"}')
    with pytest.raises(GenesisError) as error:
        Genesis.load(tmp_path / "config.json")
    assert str(error.value) == f"genesis file {tmp_path / 'config.json'}: genesis is missing field 'chain_id'"


def test_failing_genesis_contract_is_refused(tmp_path, doc):
    doc["calls"][0]["caller"] = "0x" + "99" * 20  # not the issuer: mint fails
    with pytest.raises(ChainError, match="genesis contracts failed: require_failed"):
        Chain(tmp_path, Genesis.from_json(doc))


def test_data_dir_refuses_another_genesis(tmp_path, doc):
    genesis = Genesis.from_json(doc)
    Chain(tmp_path, genesis).close()
    other = Genesis.from_json({**doc, "chain_id": "another"})
    with pytest.raises(ChainError, match="from another genesis file"):
        Chain(tmp_path, other)
    again = Chain(tmp_path, Genesis.from_json(json.loads(json.dumps(doc))))
    assert again.height == 0
    again.close()
