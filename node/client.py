"""A small synchronous client for the node API, used by the CLI, the market helpers and the oracle.

Uses only the standard library (http.client), with one keep-alive connection per thread.
Errors from the node come back as ``ClientError`` with the node's code and message; a node
that cannot be reached is ``node_unreachable``.
"""
from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from typing import Any

from node.jsonvalues import from_json_value, parse_json, to_json_value
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
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ClientError("bad_node_url", f"node URL must look like http://host:port, not {url!r}")
        self._host, self._port, self._base_path = parsed.hostname, parsed.port or 80, parsed.path
        self._local = threading.local()

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        """This thread's keep-alive connection to the node (made on first use)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
            self._local.connection = connection
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _request(self, method: str, path: str, body: bytes | None = None,
                 content_type: str = "application/json", timeout: float | None = None) -> dict:
        headers = {"Content-Type": content_type} if body is not None else {}
        for attempt in (1, 2):  # a kept-alive connection the node closed meanwhile is retried once
            connection = self._connection(timeout or self.timeout)
            try:
                connection.request(method, self._base_path + path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop_connection()
                if attempt == 2:  # resending is safe: a tx is identified by its hash, so at worst "already_known"
                    raise ClientError("node_unreachable", f"cannot reach the node at {self.url}: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                raise ClientError("node_unreachable", f"cannot reach the node at {self.url}: {exc}") from None
        try:
            doc = parse_json(data)   # depth-bounded: a hostile node cannot crash its clients
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            doc = {"code": "http_error", "message": f"HTTP {response.status}: not a JSON object"}
        if response.status >= 400:
            raise ClientError(doc.get("code", "http_error"), doc.get("message", ""), response.status, doc)
        return doc

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
