"""A small synchronous client for the node API, used by the CLI, the market helpers and the oracle.

Uses only the standard library (http.client), with one keep-alive connection per thread.
Errors from the node come back as ``ClientError`` with the node's code and message; a node
that cannot be reached is ``node_unreachable``. ``https://`` URLs are verified with the
system's CAs or ``ca_file`` / $FLEXLEDGER_CA_FILE (node/tls.py); a certificate that does not
verify is ``tls_error``.
"""
from __future__ import annotations

import http.client
import json
import ssl
import threading
import urllib.parse
from typing import Any

from node.jsonvalues import from_json_value, parse_json, to_json_value
from node.keys import KeyPair
from node.tls import CA_FILE_ENV, TlsError, client_context
from node.tx import CallPayload, DeployPayload, GovernancePayload, Payload, Transaction

DEFAULT_NODE = "http://127.0.0.1:26657"
DEFAULT_CALL_GAS = 2_000_000
DEFAULT_DEPLOY_GAS = 20_000_000
HOST_MISMATCH_CODES = (62, 64)  # OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH


class ClientError(Exception):
    def __init__(self, code: str, message: str, status: int = 0, body: dict | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.body = body or {}


class NodeClient:
    def __init__(self, url: str = DEFAULT_NODE, timeout: float = 60.0, ca_file: str | None = None):
        """``ca_file``: the CA or certificate that ``https://`` nodes are checked against (default
        $FLEXLEDGER_CA_FILE, else the system's CAs)."""
        self.url = url.rstrip("/")
        self.timeout = timeout
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ClientError("bad_node_url", f"node URL must look like http://host:port or https://host:port, "
                                              f"not {url!r}")
        self._host, self._base_path = parsed.hostname, parsed.path
        self._port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            self._tls = client_context(ca_file) if parsed.scheme == "https" else None
        except TlsError as exc:
            raise ClientError("bad_ca_file", str(exc)) from None
        self._local = threading.local()

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        """This thread's keep-alive connection to the node (made on first use)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = (http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._tls)
                          if self._tls else http.client.HTTPConnection(self._host, self._port, timeout=timeout))
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
            except ssl.SSLCertVerificationError as exc:
                self._drop_connection()
                fix = ("use a host name or address that the certificate names (its subjectAltName)"
                       if exc.verify_code in HOST_MISMATCH_CODES
                       else f"give its CA or its certificate with --ca-file or ${CA_FILE_ENV}")
                raise ClientError("tls_error", f"the node at {self.url} has a certificate that does not verify "
                                               f"({exc.verify_message.rstrip('.')}): {fix}") from None
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
