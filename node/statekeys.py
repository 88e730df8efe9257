"""The layout of the state key space (one flat, ordered key space committed by the SMT).

    acct:<addr 20B>            -> account nonce
    code:<addr 20B>            -> contract source text
    stor:<addr 20B><key utf-8> -> contract storage value (canonical encoding)
    chain:params               -> chain parameters
    chain:validators           -> the validator set
    chain:contracts            -> name -> address of the genesis contracts
    chain:pending_validators   -> [effective height, validator set] of an approved change
    offender:<addr 20B>        -> heights of proven double-signing by that validator
    gov:<proposal id>          -> an open governance proposal
    allowed:<addr 20B>         -> height at which the account joined the allow list (0: genesis)
    deployer:<addr 20B>        -> height at which the account was granted deploying (0: genesis)
"""
from __future__ import annotations

from node.keys import address_bytes

PARAMS = b"chain:params"
VALIDATORS = b"chain:validators"
GENESIS_CONTRACTS = b"chain:contracts"
PENDING_VALIDATORS = b"chain:pending_validators"
ALLOWED_ACCOUNTS = b"allowed:"
DEPLOYERS = b"deployer:"


def offender(address: str) -> bytes:
    return b"offender:" + address_bytes(address)


def account(address: str) -> bytes:
    return b"acct:" + address_bytes(address)


def code(address: str) -> bytes:
    return b"code:" + address_bytes(address)


def storage_prefix(address: str) -> bytes:
    return b"stor:" + address_bytes(address)


def storage(address: str, key: str) -> bytes:
    return storage_prefix(address) + key.encode()


def governance(proposal_id: str) -> bytes:
    return b"gov:" + proposal_id.encode()


def listed(list_prefix: bytes, address: str) -> bytes:
    """The key of ``address`` in an account list (``ALLOWED_ACCOUNTS`` or ``DEPLOYERS``)."""
    return list_prefix + address_bytes(address)
