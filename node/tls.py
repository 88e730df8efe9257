"""Optional TLS for the node API: the server's context from its certificate and key files, and
a client's context trusting the system store or one CA/certificate file.

The server (config ``api_tls_cert`` and ``api_tls_key``, flags ``--api-tls-cert`` and
``--api-tls-key``) takes PEM files: the certificate (its chain may follow it) and its
unencrypted private key. They are checked before the node starts, and each error names the
field and the flag: a file missing or unreadable, no PEM certificate or key in it, a key
that is not the certificate's. TLS 1.2 is the oldest version served.

A client (node/client.py, for ``https://`` node URLs) checks the node's certificate and host
name against the system's trusted CAs, or only against ``--ca-file`` / $FLEXLEDGER_CA_FILE: a
consortium CA, or the node's own self-signed certificate. The certificate must name the host
of the URL (subjectAltName DNS or IP entry).
"""
from __future__ import annotations

import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

CA_FILE_ENV = "FLEXLEDGER_CA_FILE"
CERT_FIELD = "api_tls_cert (--api-tls-cert)"
KEY_FIELD = "api_tls_key (--api-tls-key)"


class TlsError(Exception):
    """A TLS file that cannot be used; the message names the field or flag and the fix."""


def server_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """The API's TLS context; TlsError naming the field if a file is missing, unreadable or wrong."""
    if not cert_file or not key_file:
        missing = CERT_FIELD if not cert_file else KEY_FIELD
        raise TlsError(f"{missing} is not set: TLS for the API needs both a certificate and its private key")
    certificate = _read(cert_file, CERT_FIELD)
    key = _read(key_file, KEY_FIELD)
    try:
        cert_public = x509.load_pem_x509_certificate(certificate).public_key()
    except ValueError:
        raise TlsError(f"{CERT_FIELD}: {cert_file} holds no PEM certificate "
                       f"(expected '-----BEGIN CERTIFICATE-----')") from None
    try:
        key_public = load_pem_private_key(key, password=None).public_key()
    except TypeError:
        raise TlsError(f"{KEY_FIELD}: {key_file} is encrypted; give the key without a password "
                       f"(openssl pkey -in {key_file} -out KEY.pem), readable by the node's user only") from None
    except ValueError:
        raise TlsError(f"{KEY_FIELD}: {key_file} holds no PEM private key "
                       f"(expected '-----BEGIN PRIVATE KEY-----')") from None
    if _spki(cert_public) != _spki(key_public):
        raise TlsError(f"{KEY_FIELD}: {key_file} is not the private key of the certificate {cert_file}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


def client_context(ca_file: str | Path | None = None) -> ssl.SSLContext:
    """A context verifying node certificates: against ``ca_file`` (else $FLEXLEDGER_CA_FILE) or the system store."""
    source = "--ca-file" if ca_file else f"${CA_FILE_ENV}"
    ca_file = ca_file or os.environ.get(CA_FILE_ENV) or None
    if ca_file is None:
        return ssl.create_default_context()
    _read(ca_file, source)
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except ssl.SSLError:
        raise TlsError(f"{source}: {ca_file} holds no PEM certificate (expected '-----BEGIN CERTIFICATE-----')"
                       ) from None


def _read(path: str | Path, field: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise TlsError(f"{field}: {path} does not exist") from None
    except OSError as exc:
        raise TlsError(f"{field}: cannot read {path}: {exc.strerror}") from None


def _spki(public_key) -> bytes:
    return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
