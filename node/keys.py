"""ed25519 keys (pynacl), signatures and addresses.

An address is ``"0x"`` plus the hex of the first 20 bytes of SHA-256 of the 32-byte public
key. Contract addresses are derived the same way from a deterministic seed (see
``contract_address`` and ``genesis_contract_address``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from nacl.signing import SigningKey

from consensus.types import address_of, verify_signature as verify
from node.encoding import sha256

ADDRESS_RE = re.compile(r"0x[0-9a-f]{40}")  # fullmatch: "$" would accept a trailing newline
ADDRESS_CACHE_SIZE = 65_536


def address_from_bytes(raw20: bytes) -> str:
    return "0x" + raw20.hex()


def address_bytes(address: str) -> bytes:
    """The 20 raw bytes of an address string; ValueError if it is not one."""
    if not isinstance(address, str):
        raise _not_an_address(address)
    return _address_bytes(address)


@lru_cache(maxsize=ADDRESS_CACHE_SIZE)
def _address_bytes(address: str) -> bytes:
    """``address_bytes`` of a str, remembered: every state key of an account needs it.

    Only real addresses are remembered (a ValueError is not cached), so the cache stays small.
    """
    if not is_address(address):
        raise _not_an_address(address)
    return bytes.fromhex(address[2:])


def _not_an_address(value: object) -> ValueError:
    return ValueError(f"not an address: {value!r} (expected 0x and 40 lowercase hex digits)")


def is_address(value: object) -> bool:
    return isinstance(value, str) and ADDRESS_RE.fullmatch(value) is not None


def contract_address(deployer: str, nonce: int) -> str:
    """Address of a contract deployed by ``deployer`` in its transaction with ``nonce``."""
    return address_from_bytes(sha256(b"contract" + address_bytes(deployer) + nonce.to_bytes(8, "big"))[:20])


def genesis_contract_address(name: str) -> str:
    """Well-known address of a contract deployed at genesis under ``name``."""
    return address_from_bytes(sha256(b"genesis:" + name.encode())[:20])


@dataclass(frozen=True)
class KeyPair:
    """A private key with its public key and address."""

    seed: bytes

    @classmethod
    def generate(cls) -> "KeyPair":
        return cls(bytes(SigningKey.generate()))

    @property
    def _signing_key(self) -> SigningKey:
        return SigningKey(self.seed)

    @property
    def public_key(self) -> bytes:
        return bytes(self._signing_key.verify_key)

    @property
    def address(self) -> str:
        return address_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self._signing_key.sign(message).signature
