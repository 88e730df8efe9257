"""TLS for the API with a self-signed certificate made here: the server context's errors name the
field, the client trusts an https:// node only through --ca-file / $FLEXLEDGER_CA_FILE, and a
real node serves its API over TLS from --api-tls-cert/--api-tls-key (kept in its config)."""
import asyncio
import datetime
import ipaddress
import json
import ssl
import subprocess
import sys
import time

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cli.main import main
from node.client import ClientError, NodeClient
from node.tls import TlsError, client_context, server_context
from testnet.devnode import DevNode, free_port


def make_certificate(directory, name="node", hosts=("127.0.0.1",)):
    """A self-signed certificate for ``hosts`` and its key: (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    names = [x509.IPAddress(ipaddress.ip_address(h)) if h[0].isdigit() else x509.DNSName(h) for h in hosts]
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName(names), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def pem(tmp_path):
    return make_certificate(tmp_path)


def test_a_certificate_and_its_key_make_a_server_context(pem):
    context = server_context(*pem)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_bad_server_files_are_named(tmp_path, pem):
    cert, key = pem
    other_cert, other_key = make_certificate(tmp_path, "other")
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(serialization.load_pem_private_key(key.read_bytes(), None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = [
        ((cert, ""), "^api_tls_key \\(--api-tls-key\\) is not set: TLS for the API needs both a certificate and "
                     "its private key$"),
        (("", key), "^api_tls_cert \\(--api-tls-cert\\) is not set"),
        ((tmp_path / "nope.crt", key), f"^api_tls_cert \\(--api-tls-cert\\): {tmp_path}/nope.crt does not exist$"),
        ((cert, tmp_path), f"^api_tls_key \\(--api-tls-key\\): cannot read {tmp_path}: Is a directory$"),
        ((garbage, key), f"^api_tls_cert \\(--api-tls-cert\\): {garbage} holds no PEM certificate \\(expected "
                         f"'-----BEGIN CERTIFICATE-----'\\)$"),
        ((cert, garbage), f"^api_tls_key \\(--api-tls-key\\): {garbage} holds no PEM private key"),
        ((cert, encrypted), f"^api_tls_key \\(--api-tls-key\\): {encrypted} is encrypted; give the key without a "
                            f"password"),
        ((cert, other_key), f"^api_tls_key \\(--api-tls-key\\): {other_key} is not the private key of the "
                            f"certificate {cert}$"),
    ]
    for (cert_file, key_file), reason in cases:
        with pytest.raises(TlsError, match=reason):
            server_context(cert_file, key_file)


def test_bad_ca_files_are_named(tmp_path, monkeypatch):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TlsError, match=f"^--ca-file: {tmp_path}/nope.pem does not exist$"):
        client_context(tmp_path / "nope.pem")
    monkeypatch.setenv("FLEXLEDGER_CA_FILE", str(garbage))
    with pytest.raises(TlsError, match=f"^\\$FLEXLEDGER_CA_FILE: {garbage} holds no PEM certificate"):
        client_context()
    with pytest.raises(ClientError, match=f"^bad_ca_file: \\$FLEXLEDGER_CA_FILE: {garbage} holds no PEM"):
        NodeClient("https://127.0.0.1:1")
    assert NodeClient("http://127.0.0.1:1")  # plain http needs no CA file


def test_a_node_url_must_be_http_or_https():
    with pytest.raises(ClientError, match="^bad_node_url: node URL must look like http://host:port or "
                                          "https://host:port, not 'ftp://node:21'$"):
        NodeClient("ftp://node:21")


@pytest.fixture
async def https_node(pem):
    """An API over TLS answering /status, like a node's; its URL."""
    async def status(request):
        return web.json_response({"chain_id": "tls-test", "height": 7})
    app = web.Application()
    app.add_routes([web.get("/status", status), web.get("/block/{id}", status)])
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_context(*pem)).start()
    yield f"https://127.0.0.1:{port}"
    await runner.cleanup()


async def test_the_client_trusts_the_node_through_its_ca_file(https_node, pem, monkeypatch):
    assert (await asyncio.to_thread(NodeClient(https_node, ca_file=str(pem[0])).status))["height"] == 7
    monkeypatch.setenv("FLEXLEDGER_CA_FILE", str(pem[0]))
    assert (await asyncio.to_thread(NodeClient(https_node).status))["chain_id"] == "tls-test"


async def test_an_untrusted_or_misnamed_certificate_is_a_tls_error(https_node, tmp_path, monkeypatch):
    monkeypatch.delenv("FLEXLEDGER_CA_FILE", raising=False)
    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(NodeClient(https_node).status)
    assert (info.value.code, info.value.message) == ("tls_error", (
        f"the node at {https_node} has a certificate that does not verify (self-signed certificate): give its CA "
        f"or its certificate with --ca-file or $FLEXLEDGER_CA_FILE"))
    other_cert, _ = make_certificate(tmp_path, "other")
    with pytest.raises(ClientError, match="^tls_error: .*certificate that does not verify"):
        await asyncio.to_thread(NodeClient(https_node, ca_file=str(other_cert)).status)
    misnamed_cert, misnamed_key = make_certificate(tmp_path, "misnamed", hosts=("node.example",))
    port = free_port()
    runner = web.AppRunner(web.Application())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_context(misnamed_cert, misnamed_key)).start()
    try:
        with pytest.raises(ClientError, match="^tls_error: the node at https://127.0.0.1:[0-9]+ has a certificate that "
                                              "does not verify \\(IP address mismatch, certificate is not valid for "
                                              "'127.0.0.1'\\): use a host name or address that the certificate "
                                              "names \\(its subjectAltName\\)$"):
            await asyncio.to_thread(NodeClient(f"https://127.0.0.1:{port}", ca_file=str(misnamed_cert)).status)
    finally:
        await runner.cleanup()


async def test_plain_http_to_a_tls_api_is_refused(https_node):
    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(NodeClient(https_node.replace("https", "http"), timeout=5).status)
    assert info.value.code == "node_unreachable"


async def test_the_cli_takes_the_ca_file_from_its_flag(https_node, pem, capsys, monkeypatch):
    monkeypatch.delenv("FLEXLEDGER_CA_FILE", raising=False)
    assert await asyncio.to_thread(main, ["--node", https_node, "--ca-file", str(pem[0]), "chain", "block",
                                          "latest"]) == 0
    assert '"height": 7' in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["--node", https_node, "chain", "block", "latest"]) == 1
    assert capsys.readouterr().err == (f"error [tls_error]: the node at {https_node} has a certificate that does not "
                                       f"verify (self-signed certificate): give its CA or its certificate with "
                                       f"--ca-file or $FLEXLEDGER_CA_FILE\n")


def test_a_node_serves_its_api_over_tls(tmp_path):
    cert, key = make_certificate(tmp_path)
    node = DevNode(tmp_path / "home")
    node.cli("node", "init", "--dev", "--port", str(node.port), "--api-tls-cert", str(cert), "--api-tls-key", str(key))
    config = json.loads((node.home / "node" / "config.json").read_text())
    assert (config["api_tls_cert"], config["api_tls_key"]) == (str(cert), str(key))
    with open(node.log_path, "ab") as log:
        node.process = subprocess.Popen([sys.executable, "-m", "cli.main", "node", "start", "--dev"], env=node.env,
                                        stdout=log, stderr=subprocess.STDOUT)
    try:
        client = NodeClient(f"https://127.0.0.1:{node.port}", timeout=5, ca_file=str(cert))
        deadline = time.monotonic() + 30
        while True:
            try:
                assert client.status()["chain_id"] == "flexledger-dev"
                break
            except ClientError:
                assert time.monotonic() < deadline and node.process.poll() is None, node.log_path.read_text()
                time.sleep(0.2)
        assert f"serving the API on https://127.0.0.1:{node.port} at height" in node.log_path.read_text()
    finally:
        node.stop()


def test_a_node_refuses_to_start_with_a_key_of_another_certificate(tmp_path):
    cert, _ = make_certificate(tmp_path)
    _, other_key = make_certificate(tmp_path, "other")
    node = DevNode(tmp_path / "home")
    node.init()
    result = node.cli("node", "start", "--dev", "--api-tls-cert", str(cert), "--api-tls-key", str(other_key),
                      check=False)
    assert (result.returncode, result.stderr) == (1, f"error: api_tls_key (--api-tls-key): {other_key} is not the "
                                                     f"private key of the certificate {cert}\n")
