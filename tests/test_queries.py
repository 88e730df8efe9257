"""Read-only queries run off the event loop: timeouts, busy, snapshot reads, parameters, a real node.

The probe contract is deployed at genesis (no deploy rights needed); its storage changes
through ``incr`` calls sent by the validator.
"""
import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from consensus.types import Validator, ValidatorSet
from contracts.errors import VMError
from contracts.gas import GasMeter
from node.api import Api
from node.chain import ZERO_ADDRESS, Chain
from node.devdriver import DevDriver
from node.errors import ApiError
from node.genesis import Genesis, GenesisContract
from node.keys import KeyPair, genesis_contract_address
from node.params import ChainParams
from node.queries import QueryLimits, QueryRequest, QueryRunner
from node.service import NodeService
from node.tx import CallPayload, Transaction
from testnet.devnode import DevNode
from tests.httpkit import post

CHAIN_ID = "flexledger-queries"
PROBE = genesis_contract_address("probe")
PROBE_SOURCE = '''
def init(start):
    storage.set("count", start)

def incr(n):
    storage.set("count", storage.get("count", 0) + n)

def get():
    return storage.get("count", 0)

def reads(n):
    first = storage.get("count", 0)
    i = 0
    while i < n:
        i = i + 1
    return [first, storage.get("count", 0)]

def spin():
    i = 0
    while i >= 0:
        i = i + 1

def big():
    return len(range(45000000))
'''
HUGE_GAS = 10**12


class ProbeChain:
    """A chain whose genesis holds the probe contract, with a dev driver to commit blocks."""

    def __init__(self, directory: Path):
        self.validator = KeyPair.generate()
        genesis = Genesis(CHAIN_ID, 1_767_225_600_000, ValidatorSet((Validator("dso", self.validator.public_key, 10, "dso"),)),
                          ChainParams(), (GenesisContract("probe", PROBE_SOURCE, self.validator.address, [1]),))
        self.chain = Chain(directory, genesis)
        self.service = NodeService(self.chain, 100)
        self.driver = DevDriver(self.service, self.validator, interval=1.0)

    def incr(self, n: int) -> None:
        """Commit a block that adds ``n`` to the probe's count (on the calling thread)."""
        tx = Transaction(CHAIN_ID, self.validator.public_key, self.service.next_nonce(self.validator.address),
                         2_000_000, CallPayload(PROBE, "incr", [n])).signed(self.validator)
        self.service.check_and_add(tx.to_bytes())
        self.driver.produce_block()
        assert self.chain.store.receipt(tx.hash).ok


@pytest.fixture
def probe(tmp_path):
    chain = ProbeChain(tmp_path / "node")
    yield chain
    chain.chain.close()


def request(function: str, *args, gas_limit: int = HUGE_GAS) -> QueryRequest:
    return QueryRequest(PROBE, function, list(args), ZERO_ADDRESS, gas_limit)


@pytest.fixture
def runner_for(probe):
    runners = []

    def make(**limits) -> QueryRunner:
        runners.append(QueryRunner(probe.chain, QueryLimits(**{"gas_limit": HUGE_GAS, **limits})))
        return runners[-1]
    yield make
    for runner in runners:
        runner.close()


async def _max_loop_lag(until: asyncio.Future, step: float = 0.01) -> float:
    """The longest the loop took to wake a ``step``-second sleep, until ``until`` is done."""
    worst = 0.0
    while not until.done():
        started = time.perf_counter()
        await asyncio.sleep(step)
        worst = max(worst, time.perf_counter() - started - step)
    return worst


async def test_a_query_past_its_timeout_ends_with_query_timeout_and_the_loop_keeps_running(runner_for):
    runner = runner_for(timeout=0.5)
    started = time.perf_counter()
    query = asyncio.ensure_future(runner.run(request("spin")))
    lag = await _max_loop_lag(query)
    with pytest.raises(VMError) as failure:
        await query
    assert failure.value.code == "query_timeout"
    assert failure.value.message == "the query ran longer than 0.5 s, this node's query timeout"
    assert 0.5 <= time.perf_counter() - started < 2.0
    assert lag < 0.25, f"the event loop stalled for {lag:.3f} s while a query ran"


async def test_more_queries_than_workers_and_queue_are_refused_busy(runner_for):
    runner = runner_for(timeout=0.5, workers=1, queue=1)
    running = [asyncio.ensure_future(runner.run(request("spin"))) for _ in range(2)]
    await asyncio.sleep(0.05)
    with pytest.raises(ApiError) as refused:
        await runner.run(request("get"))
    assert (refused.value.code, refused.value.status) == ("busy", 503)
    assert refused.value.message == "1 queries are running and 1 waiting; try again shortly"
    for query in running:
        with pytest.raises(VMError, match="query_timeout"):
            await query
    assert (await runner.run(request("get"))).value == 1  # the slots are free again


async def test_a_query_reads_the_head_it_was_accepted_at_while_blocks_commit(probe, runner_for):
    runner = runner_for(timeout=30)
    query = asyncio.ensure_future(runner.run(request("reads", 3_000_000)))
    await asyncio.sleep(0.05)
    probe.incr(10)   # two blocks committed on this loop while the query runs on its thread
    probe.incr(100)
    assert not query.done(), "the query finished before the blocks were committed: make it longer"
    result = await query
    assert (result.value, result.height) == ([1, 1], 0)
    assert (await runner.run(request("reads", 0))).value == [111, 111]


def test_a_read_view_keeps_its_head_and_state_after_commits(probe):
    view = probe.chain.read_view()
    probe.incr(5)
    with view:
        assert view.head.height == 0
        assert view.call(PROBE, "get", [], ZERO_ADDRESS, GasMeter(1_000_000)) == 1
    assert probe.chain.query(PROBE, "get", [], 1_000_000)[0] == 6


async def test_closing_the_runner_stops_running_queries(runner_for):
    runner = runner_for(timeout=60)
    query = asyncio.ensure_future(runner.run(request("spin")))
    await asyncio.sleep(0.1)
    started = time.perf_counter()
    runner.close()
    assert time.perf_counter() - started < 1.0
    with pytest.raises(VMError, match="query_timeout"):
        await query


# -- POST /query -------------------------------------------------------------------------------
@pytest.fixture
async def api(probe):
    runner = QueryRunner(probe.chain, QueryLimits(gas_limit=HUGE_GAS, timeout=0.5, workers=1, queue=0))
    client = TestClient(TestServer(Api(probe.service, runner).app()))
    await client.start_server()
    yield client
    await client.close()
    runner.close()


async def _post(client, body) -> tuple[int, dict]:
    response = await client.post("/query", json=body)
    return response.status, await response.json()


GAS_MESSAGE = f"gas_limit must be a whole number from 1 to {HUGE_GAS} (this node's query gas limit), not "


@pytest.mark.parametrize("gas_limit, shown", [
    ("abc", "'abc'"), (-1, "-1"), (0, "0"), (1.5, "1.5"), (True, "True"), (None, "None"), ("5", "'5'"),
    (HUGE_GAS + 1, str(HUGE_GAS + 1)), (10**30, "1000000000000000000000000000000"), ([1], "an array"), ({"a": 1}, "an object"),
])
async def test_bad_gas_limits_are_400_with_a_clear_message(api, gas_limit, shown):
    status, body = await _post(api, {"contract": PROBE, "function": "get", "gas_limit": gas_limit})
    assert (status, body) == (400, {"code": "bad_request", "message": GAS_MESSAGE + shown})


@pytest.mark.parametrize("fields, code, message", [
    ({"contract": None}, "bad_address", "contract must be an address (0x and 40 lowercase hex digits), not None"),
    ({"contract": "0xAB"}, "bad_address", "contract must be an address (0x and 40 lowercase hex digits), not '0xAB'"),
    ({"contract": ["x"]}, "bad_address", "contract must be an address (0x and 40 lowercase hex digits), not an array"),
    ({"function": 5}, "bad_request", "function must be the name of a contract function"),
    ({"function": ""}, "bad_request", "function must be the name of a contract function"),
    ({"args": {"a": 1}}, "bad_argument", "args must be an array"),
    ({"caller": 7}, "bad_address", "caller must be an address (0x and 40 lowercase hex digits), not 7"),
    ({"caller": "0x" + "g" * 40}, "bad_address", "caller must be an address (0x and 40 lowercase hex digits), "
                                                 "not '0xgggggggggggggggggggggggggggggggggggggggg'"),
])
async def test_bad_query_fields_are_400(api, fields, code, message):
    status, body = await _post(api, {"contract": PROBE, "function": "get", **fields})
    assert (status, body) == (400, {"code": code, "message": message})


async def test_query_answers_timeout_out_of_gas_and_busy(api):
    status, body = await _post(api, {"contract": PROBE, "function": "get"})
    assert (status, body["result"], body["height"]) == (200, 1, 0)
    status, body = await _post(api, {"contract": PROBE, "function": "big", "gas_limit": 5_000_000})
    assert (status, body["code"]) == (422, "out_of_gas")
    spinning = asyncio.ensure_future(_post(api, {"contract": PROBE, "function": "spin"}))
    await asyncio.sleep(0.1)
    status, body = await _post(api, {"contract": PROBE, "function": "get"})
    assert (status, body["code"]) == (503, "busy")
    status, body = await spinning
    assert (status, body["code"]) == (422, "query_timeout")


# -- a real node process -------------------------------------------------------------------------
@pytest.fixture
def probe_node(tmp_path):
    """A dev node whose genesis also holds the probe, with a high query gas limit and a 1 s timeout."""
    node = DevNode(tmp_path, block_interval=0.2)
    node.init()
    genesis_file = tmp_path / "node" / "genesis.json"
    genesis = json.loads(genesis_file.read_text())
    genesis["contracts"].append({"name": "probe", "source": PROBE_SOURCE, "deployer": "0x" + "00" * 20,
                                 "init_args": [1]})
    issuer = json.loads((tmp_path / "keys" / "issuer.json").read_text())["address"]
    if issuer not in genesis.setdefault("allowed_accounts", []):  # the issuer sends the honest transfer
        genesis["allowed_accounts"].append(issuer)
    genesis_file.write_text(json.dumps(genesis))
    config_file = tmp_path / "node" / "config.json"
    config = json.loads(config_file.read_text())
    config.update(query_gas_limit=HUGE_GAS, query_timeout=1.0)
    config_file.write_text(json.dumps(config))
    node.start()
    yield node
    node.kill()


def test_heavy_queries_do_not_stall_a_node(probe_node):
    client = probe_node.client
    start_height = client.get("/health")["height"]
    answers: list[tuple[int, str]] = []

    def heavy(function: str, gas_limit: int) -> None:
        status, body = post(probe_node.url + "/query", {"contract": PROBE, "function": function, "gas_limit": gas_limit})
        answers.append((status, body.get("code")))

    queries = [threading.Thread(target=heavy, args=("spin", HUGE_GAS)),
               threading.Thread(target=heavy, args=("big", 5_000_000))]
    for query in queries:
        query.start()
    worst_health = 0.0
    while any(query.is_alive() for query in queries):
        asked = time.monotonic()
        client.get("/health")
        worst_health = max(worst_health, time.monotonic() - asked)
        time.sleep(0.05)
    assert sorted(answers) == [(422, "out_of_gas"), (422, "query_timeout")]
    assert worst_health < 2.0, f"/health took {worst_health:.2f} s while queries ran"
    assert client.get("/health")["height"] >= start_height + 3  # blocks kept coming


def test_an_honest_transfer_commits_while_a_node_runs_heavy_queries(probe_node):
    answers: list[str] = []

    def spin() -> None:
        while len(answers) < 6:
            answers.append(post(probe_node.url + "/query", {"contract": PROBE, "function": "spin"})[1]["code"])

    spinners = [threading.Thread(target=spin) for _ in range(3)]  # more than the node's 2 workers
    for spinner in spinners:
        spinner.start()
    time.sleep(0.3)
    probe_node.cli("keys", "new", "alice")
    sent = probe_node.cli("wallet", "send", "alice", "2", "--key", "issuer").stdout
    assert sent.startswith("sent 2.000000 to 0x")
    assert probe_node.cli("wallet", "balance", "alice").stdout.split()[1] == "2.000000"
    for spinner in spinners:
        spinner.join()
    assert set(answers) <= {"query_timeout", "busy"} and "query_timeout" in answers
