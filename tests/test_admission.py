"""Admission control on a real chain: who may send and deploy, how governance changes the
lists, the same rules in block execution (deterministic), and deploys compiled off the loop."""
import asyncio
import time
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from market import sources
from node import admission
from node.api import Api
from node.block import tx_root
from node.chain import Chain, ChainError
from node.deploycheck import DeployCompiler
from node.errors import ApiError
from node.genesis import Genesis, GenesisError
from node.keys import KeyPair
from node.queries import QueryLimits, QueryRunner
from node.tx import CallPayload, DeployPayload, GovernancePayload
from tests.chainkit import ALICE, BOB, GUESTS, TOKEN, LocalChain, make_genesis
from tests.market_chain import ORACLE_NAME, MarketChain, key_of, ok
from testnet.devnode import DevNode

COUNTER = "def init(start):\n    storage.set('n', start)\n\ndef get():\n    return storage.get('n')\n"


def refusal(chain: LocalChain, key: KeyPair, payload=None) -> ApiError:
    tx = chain.tx(key, payload or CallPayload(TOKEN, "balance_of", [key.address]))
    with pytest.raises(ApiError) as info:
        chain.submit(tx)
    return info.value


def govern(chain: LocalChain, action: str, address: str):
    """The single validator holds all the power: one approval applies the action."""
    return chain.run(chain.validator, GovernancePayload(action, {"address": address}))


def sends(chain: LocalChain, key: KeyPair) -> bool:
    return chain.call(key, TOKEN, "balance_of", key.address).ok


def intrinsic_gas(chain: LocalChain, tx) -> int:
    source = tx.payload.source.encode() if isinstance(tx.payload, DeployPayload) else b""
    return chain.chain.params().intrinsic_gas(len(tx.to_bytes()), len(source))


# -- who is admitted --------------------------------------------------------------------

def test_an_outsider_is_refused_with_403(chain):
    error = refusal(chain, KeyPair.generate())
    assert (error.code, error.status) == ("account_not_permitted", 403)
    assert "validator, the grid oracle, a registered participant or on the allow list" in error.message
    assert len(chain.service.mempool) == 0


def test_validators_the_allow_list_and_registered_participants_are_admitted(chain):
    assert sends(chain, chain.validator) and sends(chain, chain.issuer) and sends(chain, ALICE)
    carol = KeyPair.generate()
    assert refusal(chain, carol).code == "account_not_permitted"
    ok(chain.call(chain.issuer, sources.address(sources.REGISTRY), "admit", carol.address, "carol", ["prosumer"],
                  carol.public_key.hex()))
    assert sends(chain, carol)


def test_the_grid_oracle_is_admitted_by_the_grid_contract(tmp_path):
    market = MarketChain(tmp_path / "market")
    oracle = key_of(ORACLE_NAME)
    assert market.query(sources.address(sources.GRID), "oracle") == oracle.address
    assert market.query(sources.address(sources.REGISTRY), "participant", oracle.address) is None
    assert sends(market, oracle)
    market.close()


def test_a_validator_added_by_governance_is_admitted_at_once(chain):
    newcomer = KeyPair.generate()
    params = {"name": "agg", "public_key": newcomer.public_key.hex(), "power": 1, "role": "aggregator"}
    assert refusal(chain, newcomer).code == "account_not_permitted"
    assert chain.run(chain.validator, GovernancePayload("add_validator", params)).ok
    assert sends(chain, newcomer)


# -- governance of the lists ------------------------------------------------------------

def test_governance_allows_and_disallows_an_account(chain):
    carol = KeyPair.generate()
    receipt = govern(chain, "allow_account", carol.address)
    assert receipt.ok and receipt.result == {"applied": True, "approvals": [chain.validator.address],
                                             "address": carol.address}
    assert sends(chain, carol)
    assert govern(chain, "disallow_account", carol.address).ok
    assert refusal(chain, carol).code == "account_not_permitted"
    entries = admission.ALLOWED_ACCOUNTS.members(chain.chain.state)
    assert [e["address"] for e in entries] == sorted([chain.issuer.address, *(g.address for g in GUESTS)])
    assert {e["since_height"] for e in entries} == {0}


@pytest.mark.parametrize("action, address, message", [
    ("allow_account", "bob", "address must be 0x and 40 lowercase hex digits, not 'bob'"),
    ("allow_account", BOB.address, f"{BOB.address} is already on the allow list"),
    ("disallow_account", KeyPair(b"\x07" * 32).address, "is not on the allow list"),
    ("allow_deployer", ALICE.address, f"{ALICE.address} is already on the deployer list"),
    ("disallow_deployer", BOB.address, f"{BOB.address} is not on the deployer list"),
])
def test_list_changes_that_change_nothing_fail(chain, action, address, message):
    receipt = govern(chain, action, address)
    assert receipt.error_code == "bad_governance_params" and message in receipt.error


def test_only_validators_change_the_lists(chain):
    receipt = chain.run(BOB, GovernancePayload("allow_deployer", {"address": BOB.address}))
    assert receipt.error_code == "not_a_validator"


def test_governance_grants_and_withdraws_deploying(chain):
    error = refusal(chain, BOB, DeployPayload(COUNTER, [1]))
    assert (error.code, error.status) == ("deploy_not_permitted", 403)
    assert govern(chain, "allow_deployer", BOB.address).result["applied"]
    deployed = chain.deploy(BOB, COUNTER, 1)
    assert deployed.ok and chain.query(deployed.contract_address, "get") == 1
    assert {"address": BOB.address, "since_height": deployed.height - 1} in admission.DEPLOYERS.members(chain.chain.state)
    assert govern(chain, "disallow_deployer", BOB.address).ok
    assert refusal(chain, BOB, DeployPayload(COUNTER, [2])).code == "deploy_not_permitted"


# -- the same rules in block execution --------------------------------------------------

def test_a_proposer_leaves_out_an_outsider_and_a_validator_rejects_a_block_with_one(chain, tmp_path):
    replica = LocalChain(tmp_path / "replica", chain.validator, chain.issuer)
    outsider = KeyPair.generate()
    tx = chain.tx(outsider, CallPayload(TOKEN, "balance_of", [outsider.address]))
    staged = chain.chain.propose([tx], chain.chain.next_timestamp(0), chain.validator.address, None)
    assert staged.block.txs == () and staged.result.skipped == [(tx, f"account {outsider.address} is not admitted")]
    forged = replace(staged.block.with_header(tx_root=tx_root([tx])), txs=(tx,))
    chain.chain.abandon()
    with pytest.raises(ChainError) as info:
        replica.chain.execute_block(forged)
    assert info.value.code == "invalid_tx" and "is not admitted" in info.value.message
    replica.close()


def test_a_sender_disallowed_while_its_tx_waits_is_left_out(chain):
    carol = KeyPair.generate()
    govern(chain, "allow_account", carol.address)
    chain.submit(chain.tx(chain.validator, GovernancePayload("disallow_account", {"address": carol.address})))
    waiting = chain.tx(carol, CallPayload(TOKEN, "balance_of", [carol.address]))
    chain.submit(waiting)
    chain.driver.produce_block()
    assert chain.chain.store.receipt(waiting.hash) is None and chain.chain.nonce(carol.address) == 0
    assert waiting.hash not in {tx.hash for tx in chain.chain.head.txs}


def test_execution_fails_a_deploy_without_the_right_and_charges_it(chain, tmp_path):
    """A faulty proposer includes BOB's deploy: it fails with deploy_not_permitted, charged
    its intrinsic gas, with the same receipt on a validator that replays the block."""
    deploy = chain.tx(BOB, DeployPayload(COUNTER, [1]), gas=20_000_000)
    receipt = _executed_by_a_faulty_proposer(chain, tmp_path, deploy)
    assert (receipt.status, receipt.error_code) == ("failed", "deploy_not_permitted")
    assert receipt.gas_used == intrinsic_gas(chain, deploy) and receipt.contract_address == ""
    assert chain.chain.nonce(BOB.address) == 1


def test_a_deploy_that_does_not_compile_is_charged_in_its_block(chain, tmp_path):
    deploy = chain.tx(ALICE, DeployPayload("def f():\n    return 0.5\n", []), gas=20_000_000)
    receipt = _executed_by_a_faulty_proposer(chain, tmp_path, deploy)
    assert (receipt.status, receipt.error_code) == ("failed", "float_not_allowed")
    assert receipt.gas_used == intrinsic_gas(chain, deploy) > 0


def _executed_by_a_faulty_proposer(chain: LocalChain, tmp_path, tx):
    """Put ``tx`` in a block without the mempool, commit it, replay it on a fresh node; its receipt."""
    replica = LocalChain(tmp_path / "replica", chain.validator, chain.issuer)
    chain.service.mempool.reap = lambda nonce_of, max_txs: [tx]  # the proposer takes what it likes
    chain.driver.produce_block()
    block = chain.chain.head
    executed = replica.chain.execute_block(block)
    replica.chain.commit(executed, chain.chain.store.commit(block.height))
    assert replica.chain.state.root() == chain.chain.state.root()
    assert replica.chain.store.receipt(tx.hash) == chain.chain.store.receipt(tx.hash)
    replica.close()
    return chain.chain.store.receipt(tx.hash)


# -- the 160-keys gap attack --------------------------------------------------------------

def test_the_gap_attack_does_not_block_an_honest_sender(chain):
    """160 throwaway keys send nonces 1..64: as outsiders they are refused outright; admitted
    (here by governance) their gapped txs fill at most a quarter of the mempool, and an
    honest sender's transfer is admitted and commits."""
    attackers = [KeyPair(bytes([i, 1]) * 16) for i in range(160)]
    gapped = [chain.tx(a, CallPayload(TOKEN, "transfer", [a.address, 1]), nonce=n)
              for a in attackers for n in range(1, 65)]
    assert {refusal_code(chain, tx) for tx in gapped[::64]} == {"account_not_permitted"}
    for start in range(0, len(attackers), 60):
        for attacker in attackers[start:start + 60]:
            chain.submit(chain.tx(chain.validator, GovernancePayload("allow_account", {"address": attacker.address})))
        chain.driver.produce_block()
    codes: dict[str, int] = {}
    for tx in gapped:
        code = refusal_code(chain, tx)
        codes[code] = codes.get(code, 0) + 1
    share = chain.service.mempool.gapped_limit
    assert codes == {"accepted": share, "nonce_gap_full": len(gapped) - share}
    receipt = chain.call(chain.issuer, TOKEN, "transfer", ALICE.address, 5)
    assert receipt.ok and chain.balance(ALICE.address) == 5


def refusal_code(chain: LocalChain, tx) -> str:
    try:
        chain.submit(tx)
    except ApiError as exc:
        return exc.code
    return "accepted"


# -- compiling deploys off the event loop ---------------------------------------------------

def test_a_slow_compile_times_out_and_the_loop_keeps_running():
    def slow_compile(source):
        time.sleep(0.5)

    async def scenario():
        compiler = DeployCompiler(slow_compile, timeout_s=0.2)
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        running = asyncio.create_task(ticker())
        with pytest.raises(ApiError) as info:
            await compiler.check_compiles("def f():\n    return 1\n")
        running.cancel()
        return info.value, ticks

    error, ticks = asyncio.run(scenario())
    assert (error.code, error.status) == ("compile_timeout", 422)
    assert "did not compile within 0.2 s" in error.message
    assert ticks >= 10  # the loop ran while the compile waited


def test_the_api_refuses_outsiders_and_bad_deploys_and_lists_admission(chain):
    async def scenario():
        queries = QueryRunner(chain.chain, QueryLimits(gas_limit=50_000_000))
        client = TestClient(TestServer(Api(chain.service, queries).app()))
        await client.start_server()
        try:
            async def post(tx):
                response = await client.post("/tx", data=tx.to_bytes(),
                                             headers={"Content-Type": "application/octet-stream"})
                return response.status, (await response.json()).get("code")

            outsider = KeyPair.generate()
            refused = await post(chain.tx(outsider, CallPayload(TOKEN, "balance_of", [outsider.address])))
            bad_deploy = await post(chain.tx(ALICE, DeployPayload("def f():\n    return 0.5\n", [])))
            good_deploy = await post(chain.tx(ALICE, DeployPayload(COUNTER, [3])))
            lists = await (await client.get("/admission")).json()
            return refused, bad_deploy, good_deploy, lists
        finally:
            await client.close()

    refused, bad_deploy, good_deploy, lists = asyncio.run(scenario())
    assert refused == (403, "account_not_permitted")
    assert bad_deploy == (422, "float_not_allowed")
    assert good_deploy == (200, None) and len(chain.service.mempool) == 1
    assert [e["address"] for e in lists["deployers"]] == sorted([chain.issuer.address, ALICE.address])
    assert len(lists["allowed_accounts"]) == 1 + len(GUESTS) and lists["max_listed"] == admission.MAX_LISTED


# -- genesis --------------------------------------------------------------------------------

def test_genesis_lists_round_trip_and_are_validated():
    genesis = make_genesis(KeyPair.generate(), KeyPair.generate())
    doc = genesis.to_json()
    assert Genesis.from_json(doc) == genesis
    for field in ("allowed_accounts", "deployers"):
        with pytest.raises(GenesisError, match=f"{field} lists an address twice"):
            Genesis.from_json({**doc, field: [ALICE.address, ALICE.address]})
        with pytest.raises(GenesisError, match=f"an entry of {field} is not an address: 'alice'"):
            Genesis.from_json({**doc, field: ["alice"]})


def test_a_genesis_file_without_the_lists_still_loads(tmp_path):
    doc = make_genesis(KeyPair.generate(), KeyPair.generate()).to_json()
    del doc["allowed_accounts"], doc["deployers"]
    genesis = Genesis.from_json(doc)
    assert genesis.allowed_accounts == () and genesis.deployers == ()
    chain = Chain(tmp_path / "old", genesis)
    assert admission.lists(chain.state) == {"allowed_accounts": [], "deployers": [], "max_listed": admission.MAX_LISTED}
    chain.close()


# -- the governance CLI on a dev node process -----------------------------------------------

def test_gov_cli_votes_on_both_lists_and_shows_them(tmp_path):
    node = DevNode(tmp_path, block_interval=0.1)
    node.init()
    node.start()
    try:
        vote = ("--node-home", str(node.home / "node"))
        node.cli("keys", "new", "dave")
        dave = node.cli("keys", "show", "dave").stdout.split("address:")[1].split()[0]
        refused = node.cli("wallet", "send", "issuer", "1", "--key", "dave", check=False)
        assert refused.stderr.startswith(f"error [account_not_permitted]: account {dave} is not admitted")
        assert node.cli("gov", "allow-account", "dave", *vote).stdout.startswith(f"allow_account {dave}: applied in block")
        node.cli("wallet", "send", "dave", "2", "--key", "issuer")
        node.cli("wallet", "send", "issuer", "1", "--key", "dave")
        source = tmp_path / "counter.py"
        source.write_text(COUNTER)
        refused = node.cli("contract", "deploy", str(source), "1", "--key", "dave", check=False)
        assert refused.stderr.startswith("error [deploy_not_permitted]")
        node.cli("gov", "allow-deployer", dave, *vote)
        assert node.cli("contract", "deploy", str(source), "1", "--key", "dave").stdout.startswith("deployed at 0x")
        shown = node.cli("gov", "admission").stdout
        assert shown.count(dave) == 2 and shown.startswith("allowed accounts:\n")
        again = node.cli("gov", "allow-deployer", dave, *vote, check=False)
        assert again.stderr.startswith(f"error [bad_governance_params]: transaction") and "already on the deployer list" in again.stderr
    finally:
        node.kill()
