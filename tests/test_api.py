"""The HTTP and WebSocket API over a real chain, in process (aiohttp test server)."""
import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from node.api import Api
from node.keys import KeyPair
from node.queries import QueryLimits, QueryRunner
from node.tx import CallPayload, Transaction
from tests.chainkit import ALICE, BOB, CHAIN_ID, TOKEN, LocalChain


@pytest.fixture
async def api(tmp_path):
    test_chain = LocalChain(tmp_path / "node", mempool_capacity=3)
    queries = QueryRunner(test_chain.chain, QueryLimits(gas_limit=50_000_000))
    client = TestClient(TestServer(Api(test_chain.service, queries).app()))
    await client.start_server()
    producing = asyncio.create_task(_produce(test_chain))
    yield client, test_chain
    producing.cancel()
    await client.close()
    test_chain.close()


async def _produce(test_chain):
    while True:
        await asyncio.sleep(0.05)
        test_chain.driver.produce_block()


def transfer(test_chain, key, to, amount, nonce=None, chain_id=CHAIN_ID, gas=2_000_000):
    nonce = test_chain.service.next_nonce(key.address) if nonce is None else nonce
    return Transaction(chain_id, key.public_key, nonce, gas, CallPayload(TOKEN, "transfer", [to, amount])).signed(key)


async def post_tx(client, tx_bytes, wait="check"):
    response = await client.post(f"/tx?wait={wait}", data=tx_bytes, headers={"Content-Type": "application/octet-stream"})
    return response.status, await response.json()


async def test_submit_wait_commit_returns_receipt_and_tx_is_queryable(api):
    client, chain = api
    alice = KeyPair.generate()
    status, body = await post_tx(client, transfer(chain, chain.issuer, alice.address, 7).to_bytes(), "commit")
    assert status == 200 and body["status"] == "committed" and body["receipt"]["status"] == "ok"
    got = await (await client.get(f"/tx/{body['tx_hash']}")).json()
    assert got["status"] == "committed" and got["tx"]["payload"]["function"] == "transfer"
    q = await client.post("/query", json={"contract": TOKEN, "function": "balance_of", "args": [alice.address]})
    assert (await q.json())["result"] == 7
    block = await (await client.get(f"/block/{body['receipt']['height']}")).json()
    assert body["tx_hash"] in [t["hash"] for t in block["txs"]]
    assert block["commit"]["block_hash"] == block["hash"]
    by_hash = await (await client.get(f"/block/{block['hash']}")).json()
    assert by_hash["header"] == block["header"]
    history = await (await client.get(f"/history/{alice.address}")).json()
    assert [i["tx"]["hash"] for i in history["items"]] == [body["tx_hash"]]


async def test_wait_none_and_check(api):
    client, chain = api
    tx = transfer(chain, chain.issuer, KeyPair.generate().address, 1)
    status, body = await post_tx(client, tx.to_bytes(), "none")
    assert status == 202 and body["tx_hash"] == tx.hash.hex()
    for _ in range(100):
        got = await client.get(f"/tx/{tx.hash.hex()}")
        if got.status == 200 and (await got.json())["status"] == "committed":
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("tx submitted with wait=none was never committed")


async def test_every_rejection_is_json_with_its_code_and_state_untouched(api):
    client, chain = api
    alice = KeyPair.generate()
    root = chain.chain.state.root()
    good = transfer(chain, chain.issuer, alice.address, 1)
    cases = [
        (transfer(chain, chain.issuer, alice.address, 1, chain_id="other").to_bytes(), 400, "wrong_chain_id"),
        (Transaction(CHAIN_ID, chain.issuer.public_key, 0, 2_000_000, good.payload,
                     alice.sign(good.signing_bytes())).to_bytes(), 401, "bad_signature"),
        (b"\x92\x01garbage", 400, "malformed_tx"),
        (b"\x00" * (200 * 1024), 413, "tx_too_large"),
    ]
    for data, status, code in cases:
        got_status, body = await post_tx(client, data)
        assert (got_status, body["code"]) == (status, code), body
        assert set(body) == {"code", "message"}
    await asyncio.sleep(0.2)  # blocks keep coming; none of the rejected txs may change state
    assert chain.chain.state.root() == root and len(chain.service.mempool) == 0
    assert chain.chain.height > 0
    status, body = await post_tx(client, good.to_bytes(), "commit")
    assert status == 200
    status, body = await post_tx(client, good.to_bytes())
    assert (status, body["code"]) == (409, "already_committed")
    replay = transfer(chain, chain.issuer, alice.address, 2, nonce=0)
    status, body = await post_tx(client, replay.to_bytes())
    assert (status, body["code"]) == (409, "nonce_too_low")
    assert root != chain.chain.state.root()  # only the good tx changed state


async def test_mempool_full(api):
    client, chain = api
    chain.driver.produce_block = lambda: None  # stop producing so the pool fills
    keys = [chain.issuer, ALICE, BOB, chain.validator]  # all admitted
    codes = []
    for key in keys:
        status, body = await post_tx(client, transfer(chain, key, key.address, 1).to_bytes())
        codes.append(body.get("code", status))
    assert codes == [200, 200, 200, "mempool_full"]


async def test_query_errors_and_bad_requests(api):
    client, _ = api
    r = await client.post("/query", json={"contract": "0x" + "ee" * 20, "function": "f"})
    assert (r.status, (await r.json())["code"]) == (404, "contract_not_found")
    r = await client.post("/query", json={"contract": TOKEN, "function": "nope"})
    assert (r.status, (await r.json())["code"]) == (404, "no_such_function")
    r = await client.post("/query", json={"contract": TOKEN, "function": "transfer", "args": ["0x" + "aa" * 20, 1]})
    assert (await r.json())["code"] in ("write_in_query", "require_failed")
    r = await client.post("/query", data=b"{nope")
    assert (r.status, (await r.json())["code"]) == (400, "bad_json")
    r = await client.get("/account/xyz")
    assert (r.status, (await r.json())["code"]) == (400, "bad_address")
    r = await client.get("/block/99999")
    assert (r.status, (await r.json())["code"]) == (404, "block_not_found")
    r = await client.get("/nowhere")
    assert (r.status, (await r.json())["code"]) == (404, "not_found")
    r = await client.get("/tx/" + "00" * 32)
    assert (r.status, (await r.json())["code"]) == (404, "tx_not_found")


async def test_proof_status_health_openapi(api):
    client, chain = api
    proof = await (await client.get("/proof", params={"contract": TOKEN, "key": "balance:" + chain.issuer.address})).json()
    assert proof["decoded"] > 0 and proof["state_root"] == chain.chain.head.header.state_root.hex()
    status = await (await client.get("/status")).json()
    assert status["chain_id"] == CHAIN_ID and status["contracts"]["token"] == TOKEN
    assert (await (await client.get("/health")).json())["ok"] is True
    spec = await (await client.get("/openapi.json")).json()
    routes = {r.resource.canonical for r in client.server.app.router.routes()}
    assert routes == set(spec["paths"])


async def test_websocket_blocks_and_events(api):
    client, chain = api
    async with client.ws_connect("/ws") as blocks_ws, client.ws_connect("/ws") as events_ws:
        await blocks_ws.send_json({"subscribe": "blocks"})
        await events_ws.send_json({"subscribe": "events", "contract": TOKEN, "name": "Transfer"})
        assert (await blocks_ws.receive_json())["type"] == "subscribed"
        assert (await events_ws.receive_json())["type"] == "subscribed"
        await post_tx(client, transfer(chain, chain.issuer, KeyPair.generate().address, 3).to_bytes())
        block = await asyncio.wait_for(blocks_ws.receive_json(), 5)
        assert block["type"] == "block" and block["height"] >= 1
        event = await asyncio.wait_for(events_ws.receive_json(), 5)
        assert event["type"] == "event" and event["name"] == "Transfer" and event["data"]["amount"] == 3
        await blocks_ws.send_json({"subscribe": "nothing"})
        assert (await blocks_ws.receive_json())["code"] == "bad_subscription"
