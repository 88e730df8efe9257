"""The OpenAPI 3 description of the node API, served at ``/openapi.json``."""
from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}


def _op(summary: str, params: list | None = None, body: dict | None = None, errors: tuple = (400,)) -> dict:
    op: dict = {"summary": summary, "responses": {"200": {"description": "OK"}}}
    for status in errors:
        op["responses"][str(status)] = {"description": "error", "content": {"application/json": {"schema": ERROR}}}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _path_param(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _query_param(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "FlexLedger node API", "version": "1"},
    "components": {"schemas": {"Error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
    "paths": {
        "/tx": {"post": _op(
            "Submit a signed transaction: raw bytes (application/octet-stream) or {\"tx\": hex}",
            [_query_param("wait", "none: return at once (202); check: after mempool admission (default); "
                                  "commit: after the block is committed, with the receipt",
                          {"type": "string", "enum": ["none", "check", "commit"]}),
             _query_param("timeout", "seconds to wait for commit (max 120)", {"type": "number"})],
            errors=(400, 401, 403, 409, 413, 422, 429, 503, 504))},
        "/tx/{hash}": {"get": _op("A transaction with its receipt, or its pending status",
                                  [_path_param("hash", "tx hash, hex")], errors=(400, 404))},
        "/block/{id}": {"get": _op("A block with its commit certificate",
                                   [_path_param("id", "height, block hash (hex) or 'latest'"),
                                    _query_param("txs", "full (default) or hashes")], errors=(400, 404))},
        "/account/{address}": {"get": _op("Committed nonce and next nonce counting pending txs",
                                          [_path_param("address", "0x address")])},
        "/history/{address}": {"get": _op("Transactions sent by or touching an address, newest first",
                                          [_path_param("address", "0x address"),
                                           _query_param("limit", "at most 500", {"type": "integer"})])},
        "/query": {"post": _op("Read-only contract call against the head state, on a worker thread; ends with "
                               "query_timeout after the node's query_timeout, busy (503) when its queue is full", body={
            "type": "object", "required": ["contract", "function"],
            "properties": {"contract": {"type": "string"}, "function": {"type": "string"},
                           "args": {"type": "array"}, "caller": {"type": "string"},
                           "gas_limit": {"type": "integer", "minimum": 1,
                                         "description": "default and maximum: the node's query_gas_limit"}}},
            errors=(400, 404, 422, 503))},
        "/proof": {"get": _op("A value in the state with its sparse-Merkle proof against the head state root", [
            _query_param("contract", "contract address (with key)"), _query_param("key", "storage key"),
            _query_param("account", "account address (nonce proof)"), _query_param("raw_key", "raw state key, hex")])},
        # issue 11 part D (trust): what a wallet checks against the validators it trusts (node/lightclient.py)
        "/light/state": {"get": _op("Head state entries with sparse-Merkle proofs, with the head header, its commit "
                                    "certificate and the validator set that signs it (503 commit_pending until "
                                    "the certificate is there)", [
            _query_param("key", "state key in hex, 1 to 8 times")], errors=(400, 503))},
        "/light/tx/{hash}": {"get": _op("A committed transaction and its receipt with Merkle paths to the tx and "
                                        "receipts roots, with its block's header, commit certificate and validators",
                                        [_path_param("hash", "tx hash, hex")], errors=(400, 404, 503))},
        "/governance/proposals": {"get": _op("Open governance proposals (id, action, params, approvals, power), the "
                                             "approved validator-set change not yet in effect, the voting validators "
                                             "and their quorum")},
        "/status": {"get": _op("Chain id, head, state root, validators, mempool size; consensus: height, round, "
                                "step, proposer, the votes held for the round by validator, the missing ones")},
        "/health": {"get": _op("Liveness probe")},
        "/contracts": {"get": _op("Addresses of the contracts deployed at genesis")},
        "/admission": {"get": _op("The governance-controlled allow list of accounts and the deployer list "
                                  "(first 1,000 of each, in address order, with the height each joined)")},
        "/ws": {"get": _op("WebSocket: send {\"subscribe\": \"blocks\"} or {\"subscribe\": \"events\", "
                           "\"contract\"?: address, \"name\"?: event name}")},
        "/openapi.json": {"get": _op("This document")},
        "/metrics": {"get": _op("Prometheus text metrics: height, round, peers, votes, mempool, block execution")},
        "/admin/isolate": {"post": _op("Testnet fault injection: cut links to the listed peers (needs X-Admin-Token)",
                                       body={"type": "object", "properties": {"peers": {"type": "array"}}},
                                       errors=(400, 403, 409))},
    },
}
