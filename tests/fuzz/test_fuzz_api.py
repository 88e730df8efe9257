"""Fuzzing every API route's parameters against the real Api app over a real in-process chain:
random text and numbers in path and query parameters, random JSON and bytes as bodies. No
answer is a 500, and every error is JSON {code, message}."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, strategies as st

from node.api import Api
from node.openapi import OPENAPI
from node.queries import QueryRunner
from tests.chainkit import TOKEN, LocalChain
from tests.fuzz import fuzz

ROUTES = [(method.upper(), path, op) for path, ops in OPENAPI["paths"].items() for method, op in ops.items()]

texts = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.integers().map(str), st.integers(-(10**40), 10**40).map(str),
    st.binary(max_size=40).map(bytes.hex), st.sampled_from(("latest", "nan", "inf", "-inf", "1e999", "-0", "",
                                                            "\u00b2", "0x" + "ab" * 20, TOKEN, "0x" + "00" * 32)),
    st.text("0123456789abcdef", min_size=60, max_size=70))
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | texts,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
                           max_leaves=20)


def body_fields(op: dict) -> list[str]:
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    return list(schema.get("properties", {}))


@st.composite
def requests(draw, op: dict):
    """Path parameters, query parameters and a body for one operation."""
    params = op.get("parameters", [])
    path_values = {p["name"]: draw(texts) for p in params if p["in"] == "path"}
    query_names = [p["name"] for p in params if p["in"] == "query"] + ["other"]
    query = draw(st.dictionaries(st.sampled_from(query_names), texts, max_size=len(query_names)))
    fields = body_fields(op) + ["tx", "peers", "other"]
    body = draw(st.one_of(
        st.none(), st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields)).map(lambda v: json.dumps(v).encode()),
        st.integers(1, 3000).map(lambda depth: b"[" * depth)))
    return path_values, query, body


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    test_chain = LocalChain(tmp_path_factory.mktemp("fuzz-api") / "node")
    test_chain.driver.produce_block()
    yield test_chain
    test_chain.close()


@pytest.fixture
async def client(chain):
    client = TestClient(TestServer(Api(chain.service, QueryRunner(chain.chain)).app()))
    await client.start_server()
    yield client
    await client.close()


async def assert_not_a_500(client, method: str, path: str, query: dict, body: bytes | None) -> None:
    headers = {"Content-Type": "application/json" if body and body[:1] in b"[{" else "application/octet-stream"}
    response = await client.request(method, path, params=query, data=body, headers=headers)
    assert response.status != 500, await response.text()
    if response.status >= 400:
        doc = await response.json(content_type=None)
        assert isinstance(doc.get("code"), str) and isinstance(doc.get("message"), str), doc


@pytest.mark.parametrize("method,template,op", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@given(data=st.data())
@fuzz(examples=20, deadline_ms=5000)
async def test_route_parameters_never_give_a_500(client, method, template, op, data):
    path_values, query, body = data.draw(requests(op))
    path = template.format(**{name: quote(value, safe="") for name, value in path_values.items()})
    await assert_not_a_500(client, method, path, query, body)


@given(path=st.text(st.characters(blacklist_categories=("Cs",)), max_size=60), method=st.sampled_from(("GET", "POST", "PUT")))
@fuzz(examples=50, deadline_ms=5000)
async def test_unknown_routes_are_json_errors(client, path, method):
    await assert_not_a_500(client, method, "/" + quote(path, safe="/"), {}, None)
