"""A dev node as a real OS process on 127.0.0.1, driven by the `flexledger` CLI as a user would."""
import json
import threading
from pathlib import Path
import time

import pytest

from node.client import ClientError
from node.keys import KeyPair
from node.keystore import Keystore
from node.state import CommittedState
from node.store import ChainStore
from node.tx import CallPayload, Transaction
from testnet.devnode import DEV_PASSWORD, DevNode
from testnet.loadgen import fund


def test_cli_transfer_and_balances(dev_node):
    dev_node.cli("keys", "new", "alice")
    out = dev_node.cli("wallet", "send", "alice", "12.5", "--key", "issuer").stdout
    assert out.startswith("sent 12.500000 to 0x")
    alice = dev_node.cli("wallet", "balance", "alice").stdout.split()
    issuer = dev_node.cli("wallet", "balance", "issuer").stdout.split()
    assert alice[1] == "12.500000"
    assert issuer[1] == "999987.500000"
    history = dev_node.cli("wallet", "history", "alice").stdout
    assert "transfer(" in history and " ok " in history
    status = dev_node.cli("chain", "status").stdout
    assert "chain:      flexledger-dev" in status


@pytest.mark.parametrize("args, message", [
    (["wallet", "send", "issuer", "1.5", "--key", "nobody"], "error: no key named 'nobody'"),
    (["wallet", "send", "0x" + "ab" * 20, "1.2345678", "--key", "issuer"], "error: invalid amount '1.2345678': at most 6 decimal places"),
    (["wallet", "send", "0x" + "ab" * 20, "-3", "--key", "issuer"], "error: invalid amount '-3'"),
    (["wallet", "balance", "0xnothex"], "error: not an address: '0xnothex'"),
    (["contract", "query", "0x" + "ee" * 20, "f"], "error [contract_not_found]"),
])
def test_cli_errors_are_one_line_with_nonzero_exit(dev_node, args, message):
    result = dev_node.cli(*args, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_cli_failed_transaction_reports_its_error_code(dev_node, tmp_path):
    dev_node.cli("keys", "new", "poor")
    dev_node.cli("gov", "allow-account", "poor", "--node-home", str(dev_node.home / "node"))
    result = dev_node.cli("wallet", "send", "issuer", "1", "--key", "poor", check=False)
    assert result.returncode == 1
    assert "error [require_failed]" in result.stderr and "insufficient balance" in result.stderr
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    return 0.5\n")
    result = dev_node.cli("contract", "deploy", str(bad), "--key", "issuer", check=False)
    assert result.stderr.startswith("error [float_not_allowed]: line 2")


def test_node_unreachable_is_a_clear_error(tmp_path):
    node = DevNode(tmp_path)
    result = node.cli("chain", "status", check=False)
    assert result.returncode == 1 and result.stderr.startswith("error [node_unreachable]: cannot reach the node")


def _sender(node, key, token, stop, acknowledged, errors):
    client = node.client
    nonce = 0
    while not stop.is_set():
        tx = Transaction("flexledger-dev", key.public_key, nonce, 2_000_000,
                         CallPayload(token, "transfer", [key.address, 1])).signed(key)
        try:
            response = client.submit(tx, wait="commit", timeout=10)
        except ClientError as exc:
            errors.append(exc.code)
            return
        acknowledged.append((tx.hash, response["receipt"]["height"]))
        nonce += 1


def test_kill_9_while_committing_loses_nothing_acknowledged(dev_node):
    issuer = Keystore(dev_node.home / "keys").load("issuer", DEV_PASSWORD)
    token = dev_node.client.contracts()["token"]
    senders = [KeyPair.generate() for _ in range(4)]
    fund(dev_node.client, issuer, token, senders, 1_000_000)  # admitted as participants, and funded
    stop = threading.Event()
    acknowledged, errors = [], []
    threads = [threading.Thread(target=_sender, args=(dev_node, key, token, stop, acknowledged, errors))
               for key in senders]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    dev_node.kill()
    stop.set()
    for t in threads:
        t.join(20)
    assert len(acknowledged) >= 40, errors

    store = ChainStore(dev_node.home / "node" / "data" / "chain.db")
    head_height = store.head_height()
    head = store.block(head_height)
    assert CommittedState(store).root() == head.header.state_root  # the stored state is exactly the head's
    for tx_hash, height in acknowledged:
        receipt = store.receipt(tx_hash)
        assert receipt is not None and receipt.height == height
    store.close()

    dev_node.start()
    status = dev_node.client.status()
    assert status["height"] >= head_height
    block = dev_node.client.get(f"/block/{head_height}")
    assert block["hash"] == head.hash.hex()
    assert block["header"]["state_root"] == head.header.state_root.hex()
    for tx_hash, _ in acknowledged:
        assert dev_node.client.get(f"/tx/{tx_hash.hex()}")["status"] == "committed"


def test_cli_keys_contracts_and_chain_inspection(dev_node, tmp_path):
    dev_node.cli("keys", "new", "carol")
    listing = dev_node.cli("keys", "list").stdout
    assert "carol" in listing and "issuer" in listing
    shown = dev_node.cli("keys", "show", "carol").stdout
    assert "address:    0x" in shown and "public key: " in shown
    counter = Path(__file__).parent / "contracts" / "counter.py"
    out = dev_node.cli("contract", "deploy", str(counter), "5", "--key", "issuer").stdout
    address = out.split()[2]
    assert out.startswith("deployed at 0x")
    called = json.loads(dev_node.cli("contract", "call", address, "incr", "3", "--key", "issuer").stdout)
    assert called["result"] == 8 and called["events"][0]["name"] == "Incr"
    assert json.loads(dev_node.cli("contract", "query", address, "get").stdout) == 8
    tx = json.loads(dev_node.cli("chain", "tx", called["tx_hash"]).stdout)
    assert tx["status"] == "committed" and tx["receipt"]["result"] == 8
    block = json.loads(dev_node.cli("chain", "block", str(called["block"])).stdout)
    assert called["tx_hash"] in [t["hash"] for t in block["txs"]]
    help_text = dev_node.cli("wallet", "send", "--help").stdout
    assert "amount in tokens" in help_text


def test_json_logs_are_one_object_per_line():
    import logging
    from node.logs import JsonFormatter
    record = logging.LogRecord("flexledger.node", logging.INFO, __file__, 1, "committed block %d", (7,), None)
    doc = json.loads(JsonFormatter().format(record))
    assert doc["message"] == "committed block 7" and doc["level"] == "INFO" and doc["time"].endswith("Z")
