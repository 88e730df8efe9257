"""Each attack of issue #10 against a real 4-validator testnet (OS processes on 127.0.0.1).

For every attack: the validators keep answering ``/health`` within 2 s, the attack fails with
its documented code (or is refused at admission), an honest transfer sent right after it
commits, and at the end every validator has the same blocks and state roots.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import msgpack
import pytest

from node.client import ClientError, NodeClient
from node.keys import KeyPair
from node.tx import CallPayload, Transaction
from testnet.invariants import check_no_fork
from tests.testnetkit import issuer_key, running_testnet

ALL = ["dso", "agg1", "agg2", "agg3"]
P = 2**61 - 1

ATTACKER = f"""
def shared(use):
    x = [0]
    for i in range(30):
        x = [x] * 10
    y = [x] * 10
    if use == 0:
        return x == y
    if use == 1:
        storage.set("k", x)
    if use == 2:
        emit("E", {{"x": x}})
    if use == 3:
        return x
    return sorted([x, y])


def collide(n):
    d = {{}}
    for k in range(n):
        d[k * {P}] = k
    return len(d)


def big_return(n):
    return "x" * n


def big_revert(n):
    revert("y" * n)


def hog():
    return len(range(45000000))
"""


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with running_testnet(tmp_path_factory.mktemp("attacks")) as testnet:
        yield testnet


@pytest.fixture(scope="module")
def issuer(net):
    return issuer_key(net)


@pytest.fixture(scope="module")
def attacker(net, issuer):
    """The attack contract, deployed by an admitted deployer (the issuer)."""
    receipt = net.client("dso").deploy(issuer, ATTACKER, [], gas_limit=20_000_000)["receipt"]
    assert receipt["status"] == "ok", receipt
    return receipt["contract_address"]


def assert_healthy(net) -> None:
    for name in ALL:
        with urllib.request.urlopen(net.client(name).url + "/health", timeout=2) as response:
            assert json.load(response)["ok"] is True


def assert_honest_transfer_commits(net, issuer) -> None:
    token = net.client("agg1").contracts()["token"]
    receipt = net.client("agg1").call(issuer, token, "transfer", ["0x" + "b2" * 20, 1])["receipt"]
    assert receipt["status"] == "ok", receipt


def attack(net, issuer, contract: str, function: str, args: list, gas: int) -> dict:
    client = net.client("agg2")
    nonce = client.account(issuer.address)["next_nonce"]
    tx = Transaction(client.status()["chain_id"], issuer.public_key, nonce, gas,
                     CallPayload(contract, function, args)).signed(issuer)
    client.submit(tx, wait="check")
    assert_healthy(net)   # while the validators execute it
    return committed_receipt(client, tx)


def committed_receipt(client: NodeClient, tx: Transaction, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = client.get(f"/tx/{tx.hash.hex()}")
        if doc["status"] == "committed":
            return doc["receipt"]
        time.sleep(0.1)
    raise AssertionError(f"the attack transaction was not committed within {timeout:g} s")


@pytest.mark.parametrize("use", range(5), ids=["compare", "store", "emit", "return", "sort"])
def test_shared_structures_run_out_of_gas(net, issuer, attacker, use):
    receipt = attack(net, issuer, attacker, "shared", [use], 100_000)
    assert (receipt["status"], receipt["error_code"], receipt["gas_used"]) == ("failed", "out_of_gas", 100_000)
    assert_healthy(net)
    assert_honest_transfer_commits(net, issuer)


def test_colliding_dict_keys_are_refused(net, issuer, attacker):
    receipt = attack(net, issuer, attacker, "collide", [10_000], 2_000_000)
    assert (receipt["error_code"], receipt["error"]) == ("key_collision",
                                                         "more than 8 distinct keys share one hash")
    assert_honest_transfer_commits(net, issuer)


@pytest.mark.parametrize("function, n, code", [
    ("big_return", 100_000_000, "out_of_memory"), ("big_return", 1_000_000, "result_too_large"),
    ("big_revert", 100_000_000, "out_of_memory"), ("big_revert", 1_000_000, "reverted")])
def test_huge_results_and_messages_are_bounded(net, issuer, attacker, function, n, code):
    receipt = attack(net, issuer, attacker, function, [n], 17_000_000)
    assert receipt["error_code"] == code
    assert len(json.dumps(receipt)) < 4096           # the receipt stays small
    if code == "reverted":
        assert receipt["error"] == "y" * 256
    assert_honest_transfer_commits(net, issuer)


def test_throwaway_keys_are_refused_at_admission(net, issuer):
    client = net.client("dso")
    chain_id = client.status()["chain_id"]
    token = client.contracts()["token"]
    for i in range(20):
        stranger = KeyPair.generate()
        tx = Transaction(chain_id, stranger.public_key, 1 + i, 100_000,
                         CallPayload(token, "transfer", [issuer.address, 1])).signed(stranger)
        with pytest.raises(ClientError) as info:
            client.submit(tx, wait="check")
        assert (info.value.code, info.value.status) == ("account_not_permitted", 403)
    assert_honest_transfer_commits(net, issuer)


def test_deploys_need_the_deployer_right_and_failing_ones_cost_gas(net, issuer):
    stranger = KeyPair.generate()
    broken = "def f():\n    return 1\n" * 5000 + "x = 1.5\n"
    client = net.client("dso")
    with pytest.raises(ClientError) as info:
        client.deploy(stranger, broken, [], gas_limit=40_000_000)
    assert info.value.code == "account_not_permitted"
    with pytest.raises(ClientError) as info:   # the issuer may deploy, but the mempool compiles first
        client.deploy(issuer, broken, [], gas_limit=40_000_000)
    assert info.value.code in ("float_not_allowed", "bad_contract")
    assert_healthy(net)
    assert_honest_transfer_commits(net, issuer)


def test_heavy_query_does_not_stall_the_validator(net, issuer, attacker):
    client = net.client("agg3")
    with pytest.raises(ClientError) as info:
        client.query(attacker, "hog")
    assert info.value.code in ("out_of_gas", "query_timeout")
    assert_healthy(net)
    assert_honest_transfer_commits(net, issuer)


def test_nested_ext_body_is_malformed_not_a_crash(net, issuer):
    value = b"\xc0"
    for _ in range(400):
        value = msgpack.packb(msgpack.ExtType(2, value))
    for name in ALL:
        request = urllib.request.Request(net.client(name).url + "/tx", data=value, method="POST",
                                         headers={"Content-Type": "application/octet-stream"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        assert info.value.code == 400
        assert json.load(info.value)["code"] == "malformed_tx"
    assert_healthy(net)
    assert_honest_transfer_commits(net, issuer)


@pytest.mark.parametrize("path", ["/block/%C2%B2", "/sync/blocks?from=1", "/nope", "/"])
def test_bad_parameters_are_json_4xx(net, path):
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(net.client("dso").url + path, timeout=5)
    assert 400 <= info.value.code < 500
    assert set(json.load(info.value)) == {"code", "message"}


def test_every_validator_ends_with_the_same_chain(net):
    top = max(net.height(name) for name in ALL)
    net.wait_for_height(top + 1, 40, ALL)
    assert check_no_fork({name: net.client(name) for name in ALL}) >= top
