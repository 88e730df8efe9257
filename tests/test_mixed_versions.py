"""A consortium whose validators run two Python versions (issue 16): the DSO's node and one
aggregator's on the second interpreter (tests/secondpython.py), the other two aggregators' and
the grid oracle on the one running the tests.

It drives transfers; a market session through clearing, the oracle's attestation, meter data
and settlement; a failing transaction of each VM error kind (tests/contracts/failures.py) and
deploys the compiler refuses; then every node must hold the same block hash, state root and
receipts at every height, and the blocks must have been proposed on both versions.
"""
from __future__ import annotations

import contextlib
import platform
import sys
import time
from pathlib import Path

import pytest

from market import meterdata, sources
from market.client import MarketClient
from node.client import ClientError, NodeClient
from node.keys import KeyPair
from node.tx import CallPayload, DeployPayload
from testnet import actors, manager
from testnet import layout as testnet_layout
from testnet.layout import NodeEntry, generate
from tests import oraclekit, secondpython
from tests.testnetkit import FAST_TIMEOUTS, issuer_key

PROBE_SOURCE = (Path(__file__).parent / "contracts" / "failures.py").read_text()
ON_SECOND = ("dso", "agg2")
PHASES = {"commit": 3, "gate": 0, "reveal": 3, "settle": 0}  # settle at once: readings not yet due are not assessed

# (function, args, gas limit, error code, error text) of the probe contract's failing calls
FAILURES = [
    ("spin", [0], 50_000, "out_of_gas", "out of gas (limit 50000)"),
    ("hoard", [], 50_000_000, "out_of_memory", "transaction allocated more than 4000000 units of memory"),
    ("collide", [], 10**6, "key_collision", "more than 8 distinct keys share one hash"),
    ("insist", [], 10**6, "require_failed", "asked to fail"),
    ("give_up", [], 10**6, "reverted", "asked to revert"),
    ("divide", [0], 10**6, "runtime_error", "division by zero"),
    ("index", [5], 10**6, "runtime_error", "list index out of range"),
    ("lookup", ["b"], 10**6, "runtime_error", "key not found: 'b'"),
    ("parse", ["12x"], 10**6, "runtime_error", "invalid int literal for base 10: '12x'"),
    ("unpack", [[1]], 10**6, "runtime_error", "expected 2 values to unpack, got 1"),
    ("unbound", [False], 10**6, "runtime_error", "local variable 'x' referenced before assignment"),
    ("add", [1, "a"], 10**6, "type_error", "unsupported operand types for +: int and str"),
    ("order", [None, None], 10**6, "type_error", "cannot compare None < None"),
    ("grow", [300], 10**6, "int_overflow", "integer out of range (abs must be < 2**256)"),
    ("dive", [0], 10**7, "recursion_limit", "more than 64 nested function calls"),
    ("nest", [40], 10**6, "value_too_deep", "value nested deeper than 32 levels"),
    ("big", [70_000], 10**7, "result_too_large", "the result is larger than 65536 bytes"),
    ("shout", [5], 10**7, "events_too_large", "events of one transaction over 262144 bytes"),
    ("again", [], 10**6, "reentrancy", None),
    ("nowhere", [], 10**6, "contract_not_found", "no contract at '0x0000000000000000000000000000000000000000'"),
    ("_hidden", [], 10**6, "no_such_function", "no public function: '_hidden'"),
    ("add", [1], 10**6, "bad_argument", "add() takes 2 arguments, got 1"),
]
REFUSED_DEPLOYS = [  # (source, code, message without Python's own detail)
    ("def main():\n    return 1.5\n", "float_not_allowed", "line 2: floats are not allowed"),
    ('def main(d):\n    return f"{d["k"]}"\n', "syntax_error", "line 2: invalid syntax"),
    ("def main[T](x):\n    return x\n", "syntax_error", "line 1: invalid syntax"),
    ("def main(:\n    return 1\n", "syntax_error", "line 1: invalid syntax"),
    ("import os\ndef main():\n    return 1\n", "import_not_allowed", "line 1: imports are not allowed"),
]


@contextlib.contextmanager
def mixed_testnet(directory: Path, second: str):
    layout = generate(directory, 4, timeouts=FAST_TIMEOUTS)
    for name in ON_SECOND:
        layout.node(name).python = second
    layout.save()
    net = manager.Testnet(layout)
    try:
        net.up(timeout=60, oracle=True)
        yield net
    finally:
        net.down()


def interpreter_of(net: manager.Testnet, name: str) -> str:
    return Path(f"/proc/{net.pid(name)}/cmdline").read_bytes().split(b"\0")[0].decode()


def send_all(client: NodeClient, key: KeyPair, payloads: list[tuple[object, int]]) -> list[str]:
    """Submit ``payloads`` (payload, gas limit) from ``key`` with consecutive nonces, without
    waiting for blocks; their transaction hashes."""
    nonce = client.account(key.address)["next_nonce"]
    return [client.sign_and_submit(key, payload, gas_limit=gas, wait="check", nonce=nonce + n)["tx_hash"]
            for n, (payload, gas) in enumerate(payloads)]


def receipts(client: NodeClient, hashes: list[str]) -> list[dict]:
    def committed():
        docs = [client.get(f"/tx/{h}") for h in hashes]
        return docs if all(doc["status"] == "committed" for doc in docs) else None
    return [doc["receipt"] for doc in oraclekit.wait_for(committed, 30, "the transactions' receipts")]


def deploy_probes(client: NodeClient, issuer: KeyPair, count: int) -> list[str]:
    found = receipts(client, send_all(client, issuer, [(DeployPayload(PROBE_SOURCE, []), 20_000_000)] * count))
    assert all(r["status"] == "ok" for r in found), found
    return [r["contract_address"] for r in found]


def market_session(net: manager.Testnet, issuer: KeyPair) -> None:
    """Transfers, then one energy session through clearing, attestation, meter data and settlement."""
    on_second, on_first = MarketClient(net.client("dso")), MarketClient(net.client("agg1"))
    people = oraclekit.set_up(on_second, issuer)
    mdm = KeyPair.generate()
    actors.admit(on_first, issuer, mdm, "mdm", ["meter_data_manager"])
    actors.fund(on_first, people.ev1, people.ev2.address, 5 * oraclekit.TOKENS)
    actors.fund(on_second, people.ev2, people.ev1.address, 2 * oraclekit.TOKENS)
    oracle = on_first.query(sources.GRID, "oracle")
    spec = {"feeder": oraclekit.FEEDER, "first_mtu": 40_000 * 96 + oraclekit.EVENING, "n_mtus": 8,
            "max_price": 500_000, "max_qty": 20_000, "phases": PHASES, "attestor": oracle}
    sid = on_second.send(people.dso, sources.MARKET, "open_energy", spec)["result"]
    assert oraclekit.trade(on_first, sid, oraclekit.evening_peak(people, 1_000))["status"] == "grid_validation_pending"
    oraclekit.wait_for(lambda: on_first.query(sources.MARKET, "attestation", sid), 60, "the oracle's attestation")
    delivered = on_first.node.status()["head_time_ms"] // 1000 // 900 - 1
    readings = [("ev1", delivered, 1_234), ("gen1", delivered, -2_345)]
    meter = on_first.address(sources.METER)
    on_first.send(mdm, sources.METER, "submit", mdm.address, [list(r) for r in readings],
                  meterdata.sign(mdm, meter, readings))
    on_second.send(people.dso, sources.MARKET, "settle", sid)
    assert on_first.session(sid)["status"] == "settled"


def failing_transactions(net: manager.Testnet, issuer: KeyPair) -> None:
    """Each VM error kind, half of them sent to a node on each interpreter; and ``call_depth``
    through nine copies of the probe."""
    probes = deploy_probes(net.client("agg1"), issuer, 9)
    probers = [KeyPair.generate(), KeyPair.generate()]
    for n, prober in enumerate(probers):
        actors.admit(MarketClient(net.client("agg1")), issuer, prober, f"prober{n}", ["prosumer"])
    calls = [(CallPayload(probes[0], function, args), gas) for function, args, gas, _, _ in FAILURES]
    calls.append((CallPayload(probes[0], "relay", [probes[1:] + [probes[0]]]), 10**6))
    calls.append((CallPayload(probes[0], "values", [5]), 10**6))
    half = len(calls) // 2
    hashes = (send_all(net.client("agg2"), probers[0], calls[:half])
              + send_all(net.client("agg3"), probers[1], calls[half:]))
    found = receipts(net.client("agg1"), hashes)
    expected = [(code, text) for _, _, _, code, text in FAILURES] + [("call_depth", "more than 8 contracts on the "
                                                                      "call stack"), ("", "")]
    got = [(r["error_code"], r["error"] if text is not None else None) for r, (_, text) in zip(found, expected)]
    assert got == expected
    assert found[-1]["status"] == "ok" and found[-1]["events"][0]["name"] == "Values"
    queries_in_read_only(net, probes[0])


def refused_deploys(net: manager.Testnet, issuer: KeyPair) -> None:
    """Sources the compiler refuses, refused alike by a node on each interpreter."""
    for source, code, message in REFUSED_DEPLOYS:
        for name in ("dso", "agg1"):
            with pytest.raises(ClientError) as info:
                net.client(name).deploy(issuer, source, [], gas_limit=20_000_000, wait="check")
            assert (info.value.code, info.value.message.split(" (")[0]) == (code, message), name


def queries_in_read_only(net: manager.Testnet, probe: str) -> None:
    """A write in a query fails alike on a node of each interpreter."""
    answers = set()
    for name in ("dso", "agg1"):
        with pytest.raises(ClientError) as info:
            net.client(name).query(probe, "write")
        answers.add((info.value.code, info.value.message))
    assert len(answers) == 1, answers


def agreement(net: manager.Testnet) -> dict:
    """Every node's blocks, headers and receipts up to the lowest head, compared; figures."""
    names = [n.name for n in net.layout.nodes]
    height = min(net.height(name) for name in names)
    proposers, checked = set(), 0
    for h in range(1, height + 1):
        blocks = {name: net.client(name).get(f"/block/{h}", txs="hashes") for name in names}
        first = blocks["dso"]
        for name, block in blocks.items():
            assert (block["hash"], block["header"]) == (first["hash"], first["header"]), f"{name} differs at {h}"
        proposers.add(first["header"]["proposer"])
        for tx_hash in first["txs"]:
            found = {name: net.client(name).get(f"/tx/{tx_hash}")["receipt"] for name in names}
            assert all(receipt == found["dso"] for receipt in found.values()), (h, found)
            checked += 1
    return {"height": height, "receipts": checked, "proposers": proposers}


def test_validators_on_two_python_versions_agree_on_every_block_and_receipt(tmp_path):
    second, version = secondpython.second_python()
    started = time.monotonic()
    with mixed_testnet(tmp_path, second) as net:
        assert {name: interpreter_of(net, name) == second for name in ("dso", "agg1", "agg2", "agg3")} == \
            {"dso": True, "agg1": False, "agg2": True, "agg3": False}
        issuer = issuer_key(net)
        failing_transactions(net, issuer)
        refused_deploys(net, issuer)
        market_session(net, issuer)
        net.wait_for_height(max(net.height(n.name) or 0 for n in net.layout.nodes), 20)
        figures = agreement(net)
    on_second = {net.layout.node(name).address for name in ON_SECOND}
    assert figures["proposers"] & on_second and figures["proposers"] - on_second, figures["proposers"]
    print(f"\nmixed versions ({version} and this one): {figures['height']} blocks, {figures['receipts']} receipts "
          f"agree on 4 nodes; {time.monotonic() - started:.1f} s")


def test_without_a_second_interpreter_the_skip_reason_says_what_was_looked_for(monkeypatch, tmp_path):
    monkeypatch.delenv(secondpython.ENV, raising=False)
    monkeypatch.setattr(secondpython, "VENV_PYTHON", tmp_path / "bin" / "python")
    with pytest.raises(pytest.skip.Exception) as info:
        secondpython.second_python()
    assert info.value.msg == (f"only one Python interpreter: $FLEXLEDGER_SECOND_PYTHON is not set and "
                              f"{tmp_path}/bin/python does not exist")


def test_a_second_interpreter_of_the_same_version_is_skipped_as_such(monkeypatch):
    monkeypatch.setenv(secondpython.ENV, sys.executable)
    with pytest.raises(pytest.skip.Exception) as info:
        secondpython.second_python()
    assert info.value.msg == (f"only one Python version: the second interpreter {sys.executable} is Python "
                              f"{platform.python_version()}, like the one running the tests")


def test_a_second_interpreter_that_cannot_run_flexledger_fails_the_test(monkeypatch, tmp_path):
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'No module named plyvel' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv(secondpython.ENV, str(broken))
    with pytest.raises(pytest.fail.Exception) as info:
        secondpython.second_python()
    assert info.value.msg == f"the second Python interpreter {broken} cannot import FlexLedger: No module named plyvel"


def test_a_node_runs_on_the_interpreter_its_entry_names_and_testnet_json_keeps_it(tmp_path):
    nodes = [NodeEntry("dso", "0xa", 1, 2, str(tmp_path / "dso"), python="/opt/python3.13"),
             NodeEntry("agg1", "0xb", 3, 4, str(tmp_path / "agg1"))]
    testnet_layout.TestnetLayout(tmp_path, "chain", nodes, str(tmp_path / "oracle")).save()
    net = manager.Testnet(testnet_layout.TestnetLayout.load(tmp_path))
    assert [net.process(name).argv[0] for name in ("dso", "agg1", manager.ORACLE)] == \
        ["/opt/python3.13", sys.executable, sys.executable]
