"""The node's HTTP and WebSocket API (aiohttp).

Every error is JSON ``{"code", "message"}`` with a fitting HTTP status. ``/openapi.json``
describes every route (node/openapi.py).
"""
from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import WSMsgType, web

from contracts.errors import VMError
from contracts.limits import MAX_KEY_BYTES
from node import admission, statekeys
from node.apiparams import (address_param, block_id, choice_query, hash_param, hex_param, int_query,
                            seconds_query)
from node.encoding import decode, sha256
from node.errors import ApiError
from node.jsonvalues import JsonValueError, parse_json, to_json_value
from node.keys import is_address
from node.lightroutes import MAX_PROOF_KEYS, state_answer, tx_answer  # issue 11 part D (trust)
from node.metrics import render
from node.openapi import OPENAPI
from node.proposals import open_proposals  # issue 11 part D (trust)
from node.queries import QueryRequest, QueryRunner
from node.service import NodeService, Subscriber

log = logging.getLogger("flexledger.api")
MAX_BODY = 4 * 1024 * 1024
MAX_COMMIT_WAIT = 120.0
WAIT_MODES = ("none", "check", "commit")
BLOCK_TX_VIEWS = ("full", "hashes")
MAX_RAW_KEY_BYTES = 512  # longer than any state key (a storage key is at most 5 + 20 + MAX_KEY_BYTES)
MAX_EVENT_NAME_LEN = 128
SUBSCRIBE_HELP = 'send {"subscribe": "blocks"} or {"subscribe": "events", "contract"?: addr, "name"?: event}'


def _json(data, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


@web.middleware
async def errors_as_json(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as exc:
        return _json(exc.to_json(), exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(exc.status, "http_error")
        return _json({"code": code, "message": exc.reason}, exc.status)
    except Exception:  # a bug: report it as JSON, log the traceback, keep serving
        log.exception("internal error on %s %s", request.method, request.path)
        return _json({"code": "internal_error", "message": "internal error; see the node log"}, 500)


async def _body_json(request: web.Request) -> dict:
    try:
        doc = parse_json(await request.read())
    except JsonValueError as exc:
        raise ApiError("bad_json", f"request body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ApiError("bad_json", "request body must be a JSON object")
    return doc


def _subscriber(text: str) -> Subscriber:
    """The subscriber asked for by a /ws message; ApiError if the message is not a subscription."""
    try:
        doc = parse_json(text)
    except JsonValueError as exc:
        raise ApiError("bad_subscription", f"{exc}; {SUBSCRIBE_HELP}") from None
    if not isinstance(doc, dict) or doc.get("subscribe") not in ("blocks", "events"):
        raise ApiError("bad_subscription", SUBSCRIBE_HELP)
    if doc["subscribe"] == "blocks":
        return Subscriber(True, None, None)
    contract, name = doc.get("contract"), doc.get("name")
    if contract is not None and not is_address(contract):
        raise ApiError("bad_subscription", "contract must be an address (0x and 40 lowercase hex digits)")
    if name is not None and not (isinstance(name, str) and len(name) <= MAX_EVENT_NAME_LEN):
        raise ApiError("bad_subscription", f"name must be an event name of at most {MAX_EVENT_NAME_LEN} characters")
    return Subscriber(False, contract, name)


class Api:
    def __init__(self, service: NodeService, queries: QueryRunner, admin_token: str = ""):
        self.service = service
        self.chain = service.chain
        self.queries = queries
        self.admin_token = admin_token

    def app(self) -> web.Application:
        app = web.Application(middlewares=[errors_as_json], client_max_size=MAX_BODY)
        app.add_routes([
            web.post("/tx", self.submit_tx),
            web.get("/tx/{hash}", self.get_tx),
            web.get("/block/{id}", self.get_block),
            web.get("/account/{address}", self.get_account),
            web.get("/history/{address}", self.get_history),
            web.post("/query", self.query),
            web.get("/proof", self.get_proof),
            web.get("/status", self.status),
            web.get("/health", self.health),
            web.get("/contracts", self.contracts),
            web.get("/admission", self.admission),
            web.get("/ws", self.websocket),
            web.get("/openapi.json", self.openapi),
            web.get("/metrics", self.metrics),
            web.post("/admin/isolate", self.isolate),
            # issue 11 part D (trust): light-client proofs and governance proposals
            web.get("/light/state", self.light_state),
            web.get("/light/tx/{hash}", self.light_tx),
            web.get("/governance/proposals", self.governance_proposals),
        ])
        return app

    async def submit_tx(self, request: web.Request) -> web.Response:
        wait = choice_query(request.query, "wait", WAIT_MODES, "check")
        timeout = seconds_query(request.query, "timeout", 30.0, MAX_COMMIT_WAIT)
        if request.content_type == "application/json":
            doc = await _body_json(request)
            try:
                data = bytes.fromhex(doc["tx"])
            except (KeyError, TypeError, ValueError):
                raise ApiError("malformed_tx", 'JSON body must be {"tx": "<hex of the signed tx>"}') from None
        else:
            data = await request.read()
        if wait == "none":
            asyncio.get_running_loop().call_soon(self._check_quietly, data)
            return _json({"tx_hash": sha256(data).hex(), "status": "received"}, 202)
        tx = await self.service.submit(data)
        if wait == "check":
            return _json({"tx_hash": tx.hash.hex(), "status": "pending"})
        receipt = await self.service.wait_for_commit(tx.hash, timeout)
        return _json({"tx_hash": tx.hash.hex(), "status": "committed", "receipt": receipt.to_json()})

    def _check_quietly(self, data: bytes) -> None:
        try:
            self.service.check_and_add(data)
        except ApiError as exc:
            log.info("rejected tx submitted without waiting: %s", exc.message)

    async def get_tx(self, request: web.Request) -> web.Response:
        tx_hash = hash_param(request.match_info["hash"], "tx hash")
        receipt = self.chain.store.receipt(tx_hash)
        if receipt is None:
            pending = self.service.mempool.get(tx_hash)
            if pending is None:
                raise ApiError("tx_not_found", "no committed or pending transaction with that hash", 404)
            return _json({"status": "pending", "tx": pending.to_json()})
        tx = self.chain.store.block(receipt.height).txs[receipt.index]
        return _json({"status": "committed", "tx": tx.to_json(), "receipt": receipt.to_json()})

    async def get_block(self, request: web.Request) -> web.Response:
        ident = block_id(request.match_info["id"])
        txs = choice_query(request.query, "txs", BLOCK_TX_VIEWS, "full")
        if ident is None:
            block = self.chain.head
        elif isinstance(ident, int):
            block = self.chain.store.block(ident)
        else:
            block = self.chain.store.block_by_hash(ident)
        if block is None:
            raise ApiError("block_not_found", f"no block {request.match_info['id']}", 404)
        doc = block.to_json(with_txs=txs == "full")
        commit = self.chain.store.commit(block.height)
        doc["commit"] = commit.to_json() if commit else None
        return _json(doc)

    async def get_account(self, request: web.Request) -> web.Response:
        address = address_param(request.match_info["address"])
        nonce = self.chain.nonce(address)
        return _json({"address": address, "nonce": nonce, "next_nonce": self.service.next_nonce(address),
                      "height": self.chain.height})

    async def get_history(self, request: web.Request) -> web.Response:
        address = address_param(request.match_info["address"])
        limit = int_query(request.query, "limit", 50, 1, 500)
        items = []
        for tx_hash in self.chain.store.history(address, limit):
            receipt = self.chain.store.receipt(tx_hash)
            tx = self.chain.store.block(receipt.height).txs[receipt.index]
            items.append({"tx": tx.to_json(), "receipt": receipt.to_json()})
        return _json({"address": address, "items": items})

    async def query(self, request: web.Request) -> web.Response:
        query = QueryRequest.from_json(await _body_json(request), self.queries.limits.gas_limit)
        try:
            result = await self.queries.run(query)  # on a worker thread, never on this loop
        except VMError as exc:
            status = 404 if exc.code in ("contract_not_found", "no_such_function") else 422
            raise ApiError(exc.code, exc.message, status) from None
        return _json({"result": to_json_value(result.value), "gas_used": result.gas_used, "height": result.height})

    async def get_proof(self, request: web.Request) -> web.Response:
        q = request.query
        if "contract" in q:
            if "key" not in q or len(q["key"].encode()) > MAX_KEY_BYTES:
                raise ApiError("bad_request", f"a storage proof needs contract and key (at most {MAX_KEY_BYTES} bytes)")
            state_key = statekeys.storage(address_param(q["contract"]), q["key"])
        elif "account" in q:
            state_key = statekeys.account(address_param(q["account"]))
        elif "raw_key" in q:
            state_key = hex_param(q["raw_key"], "raw_key", MAX_RAW_KEY_BYTES)
        else:
            raise ApiError("bad_request", "give contract and key, or account, or raw_key")
        value, proof, header = self.chain.prove(state_key)
        return _json({"key": state_key.hex(), "value": value.hex() if value is not None else None,
                      "decoded": to_json_value(decode(value)) if value is not None and state_key.startswith((b"stor:", b"acct:")) else None,
                      "proof": proof.to_dict(), "state_root": header.state_root.hex(),
                      "height": header.height, "block_hash": header.hash.hex()})

    async def light_state(self, request: web.Request) -> web.Response:
        """State entries with proofs at the head, with its header, commit certificate and validators."""
        keys = [hex_param(text, "key", MAX_RAW_KEY_BYTES) for text in request.query.getall("key", [])]
        if not 1 <= len(keys) <= MAX_PROOF_KEYS:
            raise ApiError("bad_request", f"give 1 to {MAX_PROOF_KEYS} key parameters (state keys in hex)")
        return _json(state_answer(self.chain, keys))

    async def light_tx(self, request: web.Request) -> web.Response:
        """A committed tx and its receipt with Merkle paths, and its block's certified header."""
        return _json(tx_answer(self.chain, hash_param(request.match_info["hash"], "tx hash")))

    async def governance_proposals(self, request: web.Request) -> web.Response:
        return _json(open_proposals(self.chain))

    async def status(self, request: web.Request) -> web.Response:
        head = self.chain.head
        return _json({"chain_id": self.chain.chain_id, "height": head.height, "head_hash": head.hash.hex(),
                      "state_root": head.header.state_root.hex(), "head_time_ms": head.header.timestamp_ms,
                      "mempool_size": len(self.service.mempool), "last_block_ms": round(self.service.last_block_ms, 3),
                      "validators": [v.to_json() for v in self.chain.validators().validators],
                      "contracts": self.chain.genesis_contracts(),
                      "consensus": self.service.consensus_status() if self.service.consensus_status else None})

    async def health(self, request: web.Request) -> web.Response:
        return _json({"ok": True, "height": self.chain.height})

    async def contracts(self, request: web.Request) -> web.Response:
        return _json(self.chain.genesis_contracts())

    async def admission(self, request: web.Request) -> web.Response:
        return _json(admission.lists(self.chain.state))

    async def metrics(self, request: web.Request) -> web.Response:
        m = self.service.metrics
        consensus = self.service.consensus_status() if self.service.consensus_status else {}
        text = render([
            ("flexledger_height", "gauge", "height of the last committed block", self.chain.height),
            ("flexledger_round", "gauge", "consensus round at the current height", consensus.get("round", 0)),
            ("flexledger_peers", "gauge", "connected validator peers", len(consensus.get("peers", []))),
            ("flexledger_votes_received_total", "counter", "consensus votes received", consensus.get("votes", 0)),
            ("flexledger_mempool_size", "gauge", "transactions waiting in the mempool", len(self.service.mempool)),
            ("flexledger_blocks_committed_total", "counter", "blocks committed by this process", m.blocks_committed),
            ("flexledger_txs_committed_total", "counter", "transactions committed by this process", m.txs_committed),
            ("flexledger_block_execution_ms_sum", "counter", "time spent executing and committing blocks",
             m.block_execution_ms_sum),
            ("flexledger_last_block_execution_ms", "gauge", "time to execute and commit the last block",
             m.last_block_execution_ms),
        ])
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    async def isolate(self, request: web.Request) -> web.Response:
        """Testnet fault injection: cut this node's links to the given peers (an empty list heals)."""
        given = request.headers.get("X-Admin-Token", "").encode("utf-8", "replace")
        if not self.admin_token or not hmac.compare_digest(given, self.admin_token.encode()):  # constant time
            raise ApiError("forbidden", "admin token missing or wrong", 403)
        if self.service.isolate is None:
            raise ApiError("not_available", "this node has no peer network", 409)
        peers = (await _body_json(request)).get("peers", [])
        if not isinstance(peers, list) or not all(is_address(p) for p in peers):
            raise ApiError("bad_request", "peers must be a list of addresses")
        self.service.isolate(set(peers))
        return _json({"isolated": sorted(peers)})

    async def openapi(self, request: web.Request) -> web.Response:
        return _json(OPENAPI)

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        subscriber: Subscriber | None = None
        sender: asyncio.Task | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                try:
                    wanted = _subscriber(msg.data)
                except ApiError as exc:
                    await ws.send_json({"type": "error", **exc.to_json()})
                    continue
                if subscriber is not None:
                    self.service.subscribers.discard(subscriber)
                    sender.cancel()
                subscriber = wanted
                self.service.subscribers.add(subscriber)
                sender = asyncio.create_task(self._pump(ws, subscriber))
                await ws.send_json({"type": "subscribed", "topic": "blocks" if subscriber.blocks else "events",
                                    "height": self.chain.height})
        finally:
            if subscriber is not None:
                self.service.subscribers.discard(subscriber)
            if sender is not None:
                sender.cancel()
        return ws

    async def _pump(self, ws: web.WebSocketResponse, subscriber: Subscriber) -> None:
        while not ws.closed:
            if subscriber.overflowed:
                await ws.close(message=b"subscriber too slow")
                return
            message = await subscriber.queue.get()
            await ws.send_json(to_json_value(message))
