"""A small synchronous client for the node API, used by the CLI, the market helpers and the oracle.

Uses only the standard library (urllib). Errors from the node come back as ``ClientError``
with the node's code and message; a node that cannot be reached is ``node_unreachable``.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from node.jsonvalues import from_json_value, to_json_value
from node.keys import KeyPair
from node.tx import CallPayload, DeployPayload, GovernancePayload, Payload, Transaction

DEFAULT_NODE = "http://127.0.0.1:26657"
DEFAULT_CALL_GAS = 2_000_000
DEFAULT_DEPLOY_GAS = 20_000_000


class ClientError(Exception):
    def __init__(self, code: str, message: str, status: int = 0, body: dict | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.body = body or {}


class NodeClient:
    def __init__(self, url: str = DEFAULT_NODE, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _request(self, method: str, path: str, body: bytes | None = None,
                 content_type: str = "application/json", timeout: float | None = None) -> dict:
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers={"Content-Type": content_type} if body is not None else {})
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                doc = json.loads(exc.read())
            except ValueError:
                doc = {"code": "http_error", "message": f"HTTP {exc.code}"}
            raise ClientError(doc.get("code", "http_error"), doc.get("message", ""), exc.code, doc) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ClientError("node_unreachable", f"cannot reach the node at {self.url}: {reason}") from None

    def get(self, path: str, **query: Any) -> dict:
        qs = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return self._request("GET", path + (f"?{qs}" if qs else ""))

    def status(self) -> dict:
        return self.get("/status")

    def contracts(self) -> dict:
        return self.get("/contracts")

    def account(self, address: str) -> dict:
        return self.get(f"/account/{address}")

    def query(self, contract: str, function: str, args: list | None = None, caller: str | None = None) -> Any:
        body = {"contract": contract, "function": function, "args": to_json_value(list(args or []))}
        if caller:
            body["caller"] = caller
        doc = self._request("POST", "/query", json.dumps(body).encode())
        return from_json_value(doc["result"])

    def submit(self, tx: Transaction, wait: str = "commit", timeout: float = 30.0) -> dict:
        path = f"/tx?wait={wait}&timeout={timeout:g}"
        return self._request("POST", path, tx.to_bytes(), "application/octet-stream", timeout=timeout + 10)

    def sign_and_submit(self, key: KeyPair, payload: Payload, gas_limit: int | None = None,
                        wait: str = "commit", nonce: int | None = None) -> dict:
        """Build, sign and submit a transaction from ``key``, using the node's next nonce."""
        if gas_limit is None:
            gas_limit = DEFAULT_DEPLOY_GAS if isinstance(payload, DeployPayload) else DEFAULT_CALL_GAS
        if nonce is None:
            nonce = self.account(key.address)["next_nonce"]
        chain_id = self.status()["chain_id"]
        tx = Transaction(chain_id, key.public_key, nonce, gas_limit, payload).signed(key)
        return self.submit(tx, wait)

    def call(self, key: KeyPair, contract: str, function: str, args: list, **kw: Any) -> dict:
        return self.sign_and_submit(key, CallPayload(contract, function, list(args)), **kw)

    def deploy(self, key: KeyPair, source: str, args: list, **kw: Any) -> dict:
        return self.sign_and_submit(key, DeployPayload(source, list(args)), **kw)

    def govern(self, key: KeyPair, action: str, params: dict, **kw: Any) -> dict:
        return self.sign_and_submit(key, GovernancePayload(action, params), **kw)
