"""The light-client and proposal routes over a real chain in process, and the wallet's verified reads of them."""
import pytest
from aiohttp.test_utils import TestClient, TestServer

from consensus.types import Validator, ValidatorSet
from node.api import Api
from node.governance import proposal_id
from node.lightclient import TrustedSet, TrustHistory, VerificationError
from node.lightroutes import state_answer, tx_answer
from node.proposals import open_proposals
from node.queries import QueryLimits, QueryRunner
from node.tx import GovernancePayload
from node.verifiedreads import verified_balance, verified_tx
from tests.chainkit import ALICE, BOB, CHAIN_ID, TOKEN, LocalChain


class InProcessNode:
    """What ``NodeClient.get`` answers for the light routes, straight from the chain; ``forge`` edits answers."""

    def __init__(self, chain, forge=lambda answer: answer):
        self.chain, self.forge = chain, forge

    def get(self, path, **query):
        if path == "/light/state":
            return self.forge(state_answer(self.chain, [bytes.fromhex(query["key"])]))
        return self.forge(tx_answer(self.chain, bytes.fromhex(path.rsplit("/", 1)[1])))


@pytest.fixture
def local(tmp_path):
    test_chain = LocalChain(tmp_path / "node")
    yield test_chain
    test_chain.close()


def genesis_trust(local) -> TrustHistory:
    return TrustHistory.from_genesis(CHAIN_ID, local.genesis.validators)


def test_a_balance_and_a_transfer_are_verified_against_the_genesis_validators(local):
    receipt = local.call(local.issuer, TOKEN, "transfer", ALICE.address, 1_500_000)
    local.driver.produce_block()
    node = InProcessNode(local.chain)
    balance = verified_balance(node, genesis_trust(local), ALICE.address)
    assert balance.value == 1_500_000 == local.balance(ALICE.address)
    assert balance.certified.summary() == f"verified by 1 of 1 validators (power 10 of 10) at height {local.chain.height}"
    assert balance.trusted == genesis_trust(local)  # the same set: nothing new learnt
    assert verified_balance(node, genesis_trust(local), BOB.address).value == 0  # proven absent
    tx, proven_receipt = verified_tx(node, genesis_trust(local), receipt.tx_hash).value
    assert proven_receipt == receipt and tx.payload.args == [ALICE.address, 1_500_000]


def test_a_validator_set_change_on_chain_is_followed_from_the_genesis_set(local):
    added = {"name": "agg1", "public_key": BOB.public_key.hex(), "power": 4, "role": "aggregator"}
    effective = local.run(local.validator, GovernancePayload("add_validator", added)).result["effective_height"]
    while local.chain.height < effective:
        local.driver.produce_block()
    balance = verified_balance(InProcessNode(local.chain), genesis_trust(local), local.issuer.address)
    assert balance.certified.summary() == f"verified by 1 of 2 validators (power 10 of 14) at height {effective}"
    assert balance.trusted.sets[1:] == (TrustedSet(CHAIN_ID, effective, ValidatorSet(
        local.genesis.validators.validators + (Validator("agg1", BOB.public_key, 4, "aggregator"),))),)


def _forged_balance(answer):
    entry = answer["entries"][0]
    entry["value"] = "ce3b9aca00"  # 10**9 encoded, instead of the real balance
    return answer


def _forged_receipt(answer):
    answer["receipt"] = answer["receipt"].replace("6f6b", "6f6c", 1)  # "ok" -> "ol" in the status
    return answer


@pytest.mark.parametrize("forge, check, code", [
    (_forged_balance, "balance", "bad_proof"),
    (lambda a: {**a, "state_root": "00" * 32}, "balance", "root_mismatch"),
    (lambda a: {**a, "commit": {**a["commit"], "signatures": []}}, "balance", "insufficient_power"),
    (lambda a: {**a, "validators": [{"name": "x"}]}, "balance", "malformed_answer"),
    (_forged_receipt, "tx", "bad_proof"),
    (lambda a: {**a, "tx_path": ["00" * 32] + a["tx_path"]}, "tx", "bad_proof"),
])
def test_a_forged_answer_is_refused(local, forge, check, code):
    receipt = local.call(local.issuer, TOKEN, "transfer", ALICE.address, 1_500_000)
    local.driver.produce_block()
    node = InProcessNode(local.chain, forge)
    with pytest.raises(VerificationError) as info:
        if check == "balance":
            verified_balance(node, genesis_trust(local), ALICE.address)
        else:
            verified_tx(node, genesis_trust(local), receipt.tx_hash)
    assert info.value.code == code


def test_open_proposals_show_action_params_approvals_and_the_scheduled_change(local):
    newcomer = ALICE
    added = {"name": "agg1", "public_key": newcomer.public_key.hex(), "power": 4, "role": "aggregator"}
    receipt = local.run(local.validator, GovernancePayload("add_validator", added))
    assert receipt.result["effective_height"] == receipt.height + 2
    state = open_proposals(local.chain)
    assert state["pending_change"]["effective_height"] == receipt.height + 2
    assert [v["name"] for v in state["pending_change"]["validators"]] == ["dso", "agg1"]
    local.driver.produce_block()
    local.driver.produce_block()
    more_power = {"address": local.validator.address, "power": 20}
    local.run(newcomer, GovernancePayload("set_power", more_power))
    state = open_proposals(local.chain)
    assert state["pending_change"] is None and state["quorum"] == 10
    assert state["proposals"] == [{"id": proposal_id("set_power", more_power), "action": "set_power",
                                   "params": more_power, "approvals": [newcomer.address], "power": 4}]


@pytest.fixture
async def api(local):
    client = TestClient(TestServer(Api(local.service, QueryRunner(local.chain, QueryLimits())).app()))
    await client.start_server()
    yield client
    await client.close()


@pytest.mark.parametrize("path, status, code, message", [
    ("/light/state", 400, "bad_request", "give 1 to 8 key parameters (state keys in hex)"),
    ("/light/state?key=zz", 400, "bad_request", "key must be 1 to 512 bytes of hex"),
    ("/light/state?" + "&".join(["key=00"] * 9), 400, "bad_request", "give 1 to 8 key parameters (state keys in hex)"),
    ("/light/state?key=00", 503, "commit_pending", "the chain has no certified block yet; retry in a moment"),
    ("/light/tx/12", 400, "bad_request", "tx hash must be 32 bytes of hex"),
    ("/light/tx/" + "00" * 32, 404, "tx_not_found", "no committed transaction with that hash"),
])
async def test_light_routes_refuse_bad_parameters_with_json_errors(api, path, status, code, message):
    response = await api.get(path)
    assert (response.status, await response.json()) == (status, {"code": code, "message": message})


async def test_light_state_and_proposals_routes_answer(api, local):
    local.driver.produce_block()
    answer = await (await api.get("/light/state", params={"key": "00"})).json()
    assert answer["height"] == 1 and answer["entries"][0]["value"] is None and answer["commit"]["height"] == 1
    proposals = await (await api.get("/governance/proposals")).json()
    assert proposals["proposals"] == [] and proposals["validators"][0]["name"] == "dso"
