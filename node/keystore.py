"""Password-encrypted key files (argon2id key derivation + XSalsa20-Poly1305 secretbox).

A keystore is a directory of ``NAME.json`` files. The password comes, first found first, from
a password file named on the command line (``--password-file``), the file named by the
``FLEXLEDGER_PASSWORD_FILE`` environment variable, the ``FLEXLEDGER_PASSWORD`` environment
variable (for scripts), or an interactive prompt. A password file holds the password on its
first line. Files are written atomically with mode 0600. A node key is stored the same way
(node/config.py).
"""
from __future__ import annotations

import getpass
import json
import os
import re
import sys
from pathlib import Path

import nacl.pwhash
import nacl.secret
import nacl.utils
from nacl.exceptions import CryptoError

from node.atomicfile import write_json_atomic
from node.keys import KeyPair

PASSWORD_ENV = "FLEXLEDGER_PASSWORD"
PASSWORD_FILE_ENV = "FLEXLEDGER_PASSWORD_FILE"
NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
KEYSTORE_VERSION = 1


class KeystoreError(Exception):
    """A keystore problem the user can act on (wrong password, missing key, bad name)."""


def read_password(confirm: bool = False, password_file: Path | None = None) -> str:
    """The password from ``password_file``, $FLEXLEDGER_PASSWORD_FILE, $FLEXLEDGER_PASSWORD or a prompt
    (asked twice when ``confirm``)."""
    password_file = password_file or os.environ.get(PASSWORD_FILE_ENV)
    if password_file:
        return _read_password_file(Path(password_file))
    env = os.environ.get(PASSWORD_ENV)
    if env is not None:
        return env
    no_password = KeystoreError(f"no keystore password: use --password-file, set {PASSWORD_FILE_ENV} or "
                                f"{PASSWORD_ENV}, or run the command in a terminal")
    if sys.stdin is None or not sys.stdin.isatty():
        raise no_password
    try:
        password = getpass.getpass("Keystore password: ")
        if confirm and getpass.getpass("Repeat password: ") != password:
            raise KeystoreError("passwords do not match")
    except EOFError:
        raise no_password from None
    return password


def _read_password_file(path: Path) -> str:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise KeystoreError(f"cannot read the password file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise KeystoreError(f"the password file {path} is not UTF-8 text") from None
    if not lines or not lines[0]:
        raise KeystoreError(f"the password file {path} is empty: its first line must be the password")
    return lines[0]


def _derive(password: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, password.encode(), salt,
                                    opslimit=opslimit, memlimit=memlimit)


def encrypt_key(key: KeyPair, name: str, password: str) -> dict:
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    opslimit = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
    memlimit = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
    box = nacl.secret.SecretBox(_derive(password, salt, opslimit, memlimit))
    sealed = box.encrypt(key.seed)
    return {
        "version": KEYSTORE_VERSION, "name": name, "address": key.address,
        "public_key": key.public_key.hex(),
        "kdf": {"alg": "argon2id", "salt": salt.hex(), "opslimit": opslimit, "memlimit": memlimit},
        "cipher": {"alg": "xsalsa20poly1305", "nonce": sealed.nonce.hex(), "ciphertext": sealed.ciphertext.hex()},
    }


def decrypt_key(doc: dict, password: str) -> KeyPair:
    try:
        kdf, cipher = doc["kdf"], doc["cipher"]
        secret = _derive(password, bytes.fromhex(kdf["salt"]), kdf["opslimit"], kdf["memlimit"])
        seed = nacl.secret.SecretBox(secret).decrypt(bytes.fromhex(cipher["ciphertext"]),
                                                      bytes.fromhex(cipher["nonce"]))
    except CryptoError:
        raise KeystoreError(f"wrong password for key {doc.get('name')!r}") from None
    except (KeyError, ValueError, TypeError):
        raise KeystoreError("keystore file is damaged") from None
    return KeyPair(seed)


class Keystore:
    """A directory of encrypted key files."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _path(self, name: str) -> Path:
        if not NAME_RE.fullmatch(name):
            raise KeystoreError(f"invalid key name {name!r}: use letters, digits, '.', '_' or '-'")
        return self.directory / f"{name}.json"

    def create(self, name: str, password: str, key: KeyPair | None = None) -> KeyPair:
        path = self._path(name)
        if path.exists():
            raise KeystoreError(f"key {name!r} already exists in {self.directory}")
        key = key or KeyPair.generate()
        self.directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, encrypt_key(key, name, password), mode=0o600)
        return key

    def info(self, name: str) -> dict:
        path = self._path(name)
        if not path.exists():
            raise KeystoreError(f"no key named {name!r} in {self.directory}")
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            raise KeystoreError(f"keystore file {path} is damaged") from None
        return doc

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json"))

    def load(self, name: str, password: str) -> KeyPair:
        return decrypt_key(self.info(name), password)
