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
    (lambda d: d["validators"][0].update(role="king"), "validator role must be one of"),
    (lambda d: d["validators"][0].update(power=0), "voting power must be positive"),
    (lambda d: d["contracts"][0].update(deployer="bob"), "deployer of token is not an address: 'bob'"),
    (lambda d: d["calls"][0].update(contract="nft"), "genesis call to unknown contract 'nft'"),
    (lambda d: d["params"].update(max_tx_gas=-1), "chain parameter max_tx_gas must be a positive integer"),
    (lambda d: d["params"].update(warp=1), "unknown chain parameter 'warp'"),
])
def test_invalid_genesis_names_the_problem(doc, change, message):
    change(doc)
    with pytest.raises(GenesisError, match=message):
        Genesis.from_json(doc)


def test_genesis_file_errors(tmp_path):
    with pytest.raises(GenesisError, match="not found"):
        Genesis.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(GenesisError, match="not valid JSON"):
        Genesis.load(tmp_path / "bad.json")


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
