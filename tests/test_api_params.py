"""Every API parameter is validated: bad input is a 4xx JSON {code, message}, never a 500.

One case per bad-input path, against the real Api app over a real in-process chain.
"""
import pytest
from aiohttp.test_utils import TestClient, TestServer

from node.api import Api
from node.queries import QueryRunner
from tests.chainkit import TOKEN, LocalChain

ADDRESS = "0x" + "ab" * 20
DEEP_JSON = "[" * 100_000


@pytest.fixture
async def client(tmp_path):
    test_chain = LocalChain(tmp_path / "node")
    test_chain.driver.produce_block()
    client = TestClient(TestServer(Api(test_chain.service, QueryRunner(test_chain.chain)).app()))
    await client.start_server()
    yield client
    await client.close()
    test_chain.close()


BAD_REQUESTS = [
    # (method, path, JSON body or None, status, code)
    ("GET", "/block/\u00b2", None, 400, "bad_request"),  # str.isdigit() accepts it, int() does not
    ("GET", "/block/-1", None, 400, "bad_request"),
    ("GET", "/block/" + "9" * 30, None, 400, "bad_request"),
    ("GET", "/block/" + "9" * 5000, None, 400, "bad_request"),
    ("GET", "/block/abc", None, 400, "bad_request"),
    ("GET", "/block/latest?txs=some", None, 400, "bad_request"),
    ("GET", "/block/99999", None, 404, "block_not_found"),
    ("GET", "/tx/xyz", None, 400, "bad_request"),
    ("GET", "/tx/" + "00" * 31, None, 400, "bad_request"),
    ("GET", "/tx/" + "0 " * 32, None, 400, "bad_request"),  # bytes.fromhex would skip the spaces
    ("GET", "/account/xyz", None, 400, "bad_address"),
    ("GET", "/account/" + "a" * 4000, None, 400, "bad_address"),
    ("GET", f"/history/{ADDRESS}?limit=abc", None, 400, "bad_request"),
    ("GET", f"/history/{ADDRESS}?limit=0", None, 400, "bad_request"),
    ("GET", f"/history/{ADDRESS}?limit=-5", None, 400, "bad_request"),
    ("GET", f"/history/{ADDRESS}?limit=501", None, 400, "bad_request"),
    ("GET", f"/history/{ADDRESS}?limit=1e3", None, 400, "bad_request"),
    ("GET", "/history/nobody", None, 400, "bad_address"),
    ("POST", "/tx?wait=commit&timeout=nan", None, 400, "bad_request"),
    ("POST", "/tx?wait=commit&timeout=inf", None, 400, "bad_request"),
    ("POST", "/tx?wait=commit&timeout=-1", None, 400, "bad_request"),
    ("POST", "/tx?wait=commit&timeout=1e999", None, 400, "bad_request"),
    ("POST", "/tx?wait=commit&timeout=121", None, 400, "bad_request"),
    ("POST", "/tx?wait=commit&timeout=soon", None, 400, "bad_request"),
    ("POST", "/tx?wait=later", None, 400, "bad_request"),
    ("POST", "/tx", {"tx": 5}, 400, "malformed_tx"),
    ("POST", "/tx", {"tx": "zz"}, 400, "malformed_tx"),
    ("POST", "/tx", {"nothing": "here"}, 400, "malformed_tx"),
    ("POST", "/tx", [1], 400, "bad_json"),
    ("POST", "/tx", DEEP_JSON, 400, "bad_json"),
    ("POST", "/query", DEEP_JSON, 400, "bad_json"),
    ("POST", "/query", '{"args": ' + "[" * 300 + "]" * 300 + "}", 400, "bad_json"),
    ("POST", "/admin/isolate", DEEP_JSON, 403, "forbidden"),  # the token is checked first
    ("GET", "/proof?raw_key=abc", None, 400, "bad_request"),  # odd length
    ("GET", "/proof?raw_key=", None, 400, "bad_request"),
    ("GET", "/proof?raw_key=zz", None, 400, "bad_request"),
    ("GET", "/proof?raw_key=" + "ab" * 2000, None, 400, "bad_request"),
    ("GET", f"/proof?contract={ADDRESS}", None, 400, "bad_request"),
    ("GET", "/proof?contract=nobody&key=x", None, 400, "bad_address"),
    ("GET", f"/proof?contract={TOKEN}&key=" + "k" * 300, None, 400, "bad_request"),
    ("GET", "/proof?account=nobody", None, 400, "bad_address"),
    ("GET", "/proof", None, 400, "bad_request"),
    ("GET", "/", None, 404, "not_found"),
    ("GET", "/nowhere/at/all", None, 404, "not_found"),
    ("POST", "/health", None, 405, "method_not_allowed"),
]


@pytest.mark.parametrize("method,path,body,status,code", BAD_REQUESTS,
                         ids=[f"{m} {p[:48]}" for m, p, *_ in BAD_REQUESTS])
async def test_bad_parameter_is_a_json_4xx(client, method, path, body, status, code):
    kwargs = {}
    if isinstance(body, str):
        kwargs = {"data": body, "headers": {"Content-Type": "application/json"}}
    elif body is not None:
        kwargs = {"json": body}
    response = await client.request(method, path, **kwargs)
    doc = await response.json()
    assert (response.status, doc["code"]) == (status, code), doc
    assert set(doc) == {"code", "message"} and doc["message"]


@pytest.mark.parametrize("path", ["/block/1?txs=hashes", "/block/latest",
                                  f"/history/{ADDRESS}?limit=500", f"/proof?contract={TOKEN}&key=k"])
async def test_good_parameters_still_work(client, path):
    assert (await client.get(path)).status == 200


BAD_SUBSCRIPTIONS = [
    '{"subscribe": "events", "contract": 5}',
    '{"subscribe": "events", "contract": "nobody"}',
    '{"subscribe": "events", "name": ["Transfer"]}',
    '{"subscribe": "events", "name": "' + "n" * 300 + '"}',
    '{"subscribe": ["blocks"]}',
    '{"subscribe": "nothing"}',
    '["blocks"]',
    DEEP_JSON,
    "not json",
]


@pytest.mark.parametrize("message", BAD_SUBSCRIPTIONS, ids=[m[:40] for m in BAD_SUBSCRIPTIONS])
async def test_bad_subscription_is_an_error_message_and_the_socket_stays_usable(client, message):
    async with client.ws_connect("/ws") as ws:
        await ws.send_str(message)
        error = await ws.receive_json(timeout=5)
        assert error["type"] == "error" and error["code"] == "bad_subscription" and error["message"]
        await ws.send_json({"subscribe": "events", "contract": TOKEN, "name": "Transfer"})
        assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
