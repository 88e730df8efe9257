"""Encrypted, mutually authenticated peer links: CometBFT's SecretConnection, without I/O.

The construction is CometBFT's ``p2p/conn/secret_connection.go`` (Station-to-Station): each
side sends a fresh X25519 ephemeral key, both derive two ChaCha20-Poly1305 keys (one per
direction) and a challenge from the Diffie-Hellman secret with HKDF-SHA256, and each signs the
challenge with its ed25519 node key inside the first encrypted frame. The challenge depends on
the shared secret and on both ephemeral keys, so a signature is good for one session only: a
replayed or relayed handshake, a changed byte or a signature over anything else fails.

    1. hello (clear):   msgpack [PROTOCOL, chain id, ephemeral X25519 public key]
    2. auth  (frame 0): msgpack [ed25519 node public key, signature of AUTH_LABEL + challenge]

    transcript = SHA-256(PROTOCOL, chain id, lower ephemeral key, higher ephemeral key)
    HKDF-SHA256(X25519 secret, salt=transcript, info=PROTOCOL) -> 96 bytes:
        key of frames sent by the lower ephemeral key | key of the higher's | challenge

Every frame is sealed with ChaCha20-Poly1305 (RFC 8439) and a nonce of 4 zero bytes and a
64-bit little-endian counter, one counter per direction from 0, as in CometBFT; so a
changed, dropped, replayed or reordered frame fails to open and the link must close. The
carrier (a WebSocket, node/p2p.py) delimits frames, so unlike CometBFT frames are not cut into
1024-byte chunks. CometBFT's merlin transcript becomes the SHA-256 transcript above, the salt
of HKDF (no merlin package is well kept for Python).

Why not TLS 1.3: Python's ``ssl`` module verifies peer certificates only against a CA store,
with no hook to accept a self-signed ed25519 certificate by its key, so binding a link to a
node key would need a CA per consortium or checking after the fact; the STS handshake binds
the node key itself in three messages. The primitives come from pyca/cryptography (OpenSSL):
X25519, HKDF and ChaCha20-Poly1305 (five times pynacl's throughput on 200-byte frames here).
"""
from __future__ import annotations

import hashlib

import msgpack
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from consensus.types import address_of, verify_signature
from node.keys import KeyPair

PROTOCOL = "flexledger-p2p/1"
AUTH_LABEL = b"flexledger-p2p-auth"
MAX_CHAIN_ID_LEN = 256  # characters of the chain id in a hello
KEY_SIZE, SIGNATURE_SIZE, TAG_SIZE = 32, 64, 16


class HandshakeError(Exception):
    """The peer's handshake is refused; the message is the reason, for the log."""


class FrameError(Exception):
    """A frame that fails to open (changed, replayed, reordered or from another session)."""


def decode_fields(data: object, sizes: tuple[int | type, ...], max_bin_len: int = SIGNATURE_SIZE) -> list:
    """The fields of a msgpack array message: ``sizes`` gives each field's byte length, or its type.

    Raises ValueError for anything else; msgpack decodes nothing larger than such a message.
    """
    if not isinstance(data, bytes):
        raise ValueError("expected a binary message")
    try:
        fields = msgpack.unpackb(data, raw=False, use_list=True, max_array_len=len(sizes), max_map_len=0,
                                 max_ext_len=0, max_str_len=MAX_CHAIN_ID_LEN, max_bin_len=max_bin_len)
    except (ValueError, msgpack.UnpackException) as exc:
        raise ValueError(f"malformed message: {exc}") from None
    if type(fields) is not list or len(fields) != len(sizes) or not all(
            type(value) is size if isinstance(size, type) else type(value) is bytes and len(value) == size
            for value, size in zip(fields, sizes)):
        raise ValueError("message fields of the wrong type or size")
    return fields


class Cipher:
    """One direction of a link: ChaCha20-Poly1305 under one key, nonces from a counter."""

    def __init__(self, key: bytes):
        self._aead = ChaCha20Poly1305(key)
        self.count = 0

    def _nonce(self) -> bytes:
        nonce = b"\x00" * 4 + self.count.to_bytes(8, "little")
        self.count += 1
        return nonce

    def seal(self, plaintext: bytes) -> bytes:
        return self._aead.encrypt(self._nonce(), plaintext, None)

    def open(self, sealed: bytes) -> bytes:
        number = self.count
        try:
            return self._aead.decrypt(self._nonce(), sealed, None)
        except InvalidTag:
            raise FrameError(f"frame {number} failed authentication") from None


class Handshake:
    """One side of the handshake: send ``hello``, then ``respond(their hello)``, then ``verify(their auth)``."""

    def __init__(self, chain_id: str, key: KeyPair):
        self.chain_id = chain_id
        self.key = key
        self._ephemeral = X25519PrivateKey.generate()
        self._ephemeral_public = self._ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.hello = msgpack.packb([PROTOCOL, chain_id, self._ephemeral_public], use_bin_type=True)
        self.sender: Cipher | None = None
        self.receiver: Cipher | None = None
        self._challenge = b""

    def respond(self, their_hello: bytes) -> bytes:
        """Derive the session keys from the peer's hello; returns our auth message (frame 0)."""
        try:
            protocol, chain_id, their_ephemeral = decode_fields(their_hello, (str, str, KEY_SIZE))
        except ValueError as exc:
            raise HandshakeError(f"malformed hello: {exc}") from None
        if protocol != PROTOCOL:
            raise HandshakeError(f"the peer speaks {protocol!r}, not {PROTOCOL!r}")
        if chain_id != self.chain_id:
            raise HandshakeError(f"the peer is on chain {chain_id!r}, not {self.chain_id!r}")
        if their_ephemeral == self._ephemeral_public:
            raise HandshakeError("reflected handshake: the peer sent our own ephemeral key")
        try:
            secret = self._ephemeral.exchange(X25519PublicKey.from_public_bytes(their_ephemeral))
        except ValueError:
            raise HandshakeError("the peer's ephemeral key is a low-order point") from None
        lower, higher = sorted((self._ephemeral_public, their_ephemeral))
        transcript = hashlib.sha256(b"".join(_length_prefixed(part) for part in (
            PROTOCOL.encode(), self.chain_id.encode(), lower, higher))).digest()
        material = HKDF(hashes.SHA256(), 96, salt=transcript, info=PROTOCOL.encode()).derive(secret)
        lower_key, higher_key, self._challenge = material[:32], material[32:64], material[64:]
        mine_is_lower = self._ephemeral_public == lower
        self.sender = Cipher(lower_key if mine_is_lower else higher_key)
        self.receiver = Cipher(higher_key if mine_is_lower else lower_key)
        signature = self.key.sign(AUTH_LABEL + self._challenge)
        return self.sender.seal(msgpack.packb([self.key.public_key, signature], use_bin_type=True))

    def verify(self, their_auth: bytes) -> bytes:
        """The peer's node public key, once its signature of this session's challenge checks."""
        assert self.receiver is not None, "respond() comes first"
        try:
            plain = self.receiver.open(their_auth if isinstance(their_auth, bytes) else b"")
        except FrameError:
            raise HandshakeError("the auth message failed authentication (changed, replayed "
                                 "or from another session)") from None
        try:
            public_key, signature = decode_fields(plain, (KEY_SIZE, SIGNATURE_SIZE))
        except ValueError as exc:
            raise HandshakeError(f"malformed auth message: {exc}") from None
        if public_key == self.key.public_key:
            raise HandshakeError("reflected handshake: the peer presented our own node key")
        if not verify_signature(public_key, AUTH_LABEL + self._challenge, signature):
            raise HandshakeError(f"the signature of {address_of(public_key)} is not over this session's challenge")
        return public_key


def _length_prefixed(part: bytes) -> bytes:
    return len(part).to_bytes(4, "big") + part
