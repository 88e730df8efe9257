"""Reads a wallet checks itself: a balance or a transaction, proven against the trusted validators.

Each read asks one node (any node, trusted or not) for the value with its proof and the
certified header of the block it is proven in (node/lightroutes.py), and checks everything
with node/lightclient.py against the set trusted at that block's height. The result carries
the trusted sets after the read (to be kept, node/trustfile.py) and how the header was
certified.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from market.token import TOKEN_NAME
from node import statekeys
from node.client import ClientError, NodeClient
from node.encoding import EncodingError, decode
from node.keys import genesis_contract_address
from node.lightclient import (Certified, TrustHistory, VerificationError, commit_from_json, header_from_json,
                              validator_set_from_json, verify_header, verify_inclusion, verify_state_entry)
from node.receipt import Receipt
from node.smt import Proof
from node.tx import Transaction, TxFormatError

COMMIT_RETRIES = 10
COMMIT_RETRY_SECONDS = 0.3


@dataclass(frozen=True)
class Verified:
    value: Any
    certified: Certified
    trusted: TrustHistory


def _fetch(client: NodeClient, path: str, **query: Any) -> dict:
    """The node's answer; retried while the head's commit certificate is on its way."""
    for _ in range(COMMIT_RETRIES - 1):
        try:
            return client.get(path, **query)
        except ClientError as exc:
            if exc.code != "commit_pending":
                raise
        time.sleep(COMMIT_RETRY_SECONDS)
    return client.get(path, **query)


def _certified_header(trusted: TrustHistory, answer: dict):
    try:
        validators = validator_set_from_json(answer["validators"])
        header_doc, commit_doc = answer["header"], answer["commit"]
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError("malformed_answer", f"the node's answer is malformed: {exc!r}") from None
    header = header_from_json(header_doc)
    signing, certified = verify_header(trusted.at(header.height), header, commit_from_json(commit_doc), validators)
    return header, trusted.learn(signing), certified


def verified_state(client: NodeClient, trusted: TrustHistory, key: bytes) -> Verified:
    """The head-state value of ``key`` (None if absent), proven."""
    answer = _fetch(client, "/light/state", key=key.hex())
    header, trusted, certified = _certified_header(trusted, answer)
    try:
        entry, = answer["entries"]
        value = bytes.fromhex(entry["value"]) if entry["value"] is not None else None
        proof, root = Proof.from_dict(entry["proof"]), bytes.fromhex(answer["state_root"])
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError("malformed_answer", f"the node's proof is malformed: {exc!r}") from None
    verify_state_entry(header, root, key, value, proof)
    return Verified(value, certified, trusted)


def verified_balance(client: NodeClient, trusted: TrustHistory, address: str) -> Verified:
    """The settlement-token balance of ``address`` in micro-units, proven."""
    key = statekeys.storage(genesis_contract_address(TOKEN_NAME), "balance:" + address)
    read = verified_state(client, trusted, key)
    try:
        balance = decode(read.value) if read.value is not None else 0
    except EncodingError as exc:
        raise VerificationError("malformed_answer", f"the proven balance is not an encoded value: {exc}") from None
    if type(balance) is not int:
        raise VerificationError("malformed_answer", f"the proven balance is not an integer: {balance!r}")
    return Verified(balance, read.certified, read.trusted)


def verified_tx(client: NodeClient, trusted: TrustHistory, tx_hash: bytes) -> Verified:
    """A committed transaction and its receipt, ``(Transaction, Receipt)``, proven in their block."""
    answer = _fetch(client, f"/light/tx/{tx_hash.hex()}")
    header, trusted, certified = _certified_header(trusted, answer)
    try:
        index, count = int(answer["index"]), int(answer["count"])
        tx_bytes, receipt_bytes = bytes.fromhex(answer["tx"]), bytes.fromhex(answer["receipt"])
        tx_path = [bytes.fromhex(h) for h in answer["tx_path"]]
        receipt_path = [bytes.fromhex(h) for h in answer["receipt_path"]]
        tx, receipt = Transaction.from_bytes(tx_bytes), Receipt.from_bytes(receipt_bytes)
    except (KeyError, TypeError, ValueError, TxFormatError, EncodingError, IndexError) as exc:
        raise VerificationError("malformed_answer", f"the node's transaction proof is malformed: {exc!r}") from None
    if tx.hash != tx_hash or receipt.tx_hash != tx_hash or (receipt.height, receipt.index) != (header.height, index):
        raise VerificationError("wrong_transaction", f"the node answered with another transaction or receipt "
                                                     f"than {tx_hash.hex()}")
    verify_inclusion(header.tx_root, tx.hash, index, count, tx_path, "transaction")
    verify_inclusion(header.receipts_root, receipt_bytes, index, count, receipt_path, "receipt")
    return Verified((tx, receipt), certified, trusted)
