"""A node's secrets at rest: the node key encrypted like wallet keys, the admin token in an
owner-only file and compared in constant time; where the password comes from."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from node.api import Api
from node.config import ConfigError, NodeConfig, NodeHome
from node.keys import KeyPair
from node.keystore import KeystoreError, read_password
from node.queries import QueryRunner
from tests.chainkit import LocalChain

PASSWORD = "correct horse"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the node key ------------------------------------------------------------------------------
def test_the_node_key_is_stored_encrypted_and_owner_only(tmp_path):
    home, key = NodeHome(tmp_path), KeyPair.generate()
    home.save_key(key, PASSWORD)
    text = home.key_file.read_text()
    assert mode(home.key_file) == 0o600
    assert key.seed.hex() not in text and "seed" not in json.loads(text)
    assert json.loads(text)["kdf"]["alg"] == "argon2id" and json.loads(text)["address"] == key.address
    assert home.load_key(PASSWORD).seed == key.seed


def test_a_wrong_password_is_a_clear_error(tmp_path):
    home = NodeHome(tmp_path)
    home.save_key(KeyPair.generate(), PASSWORD)
    with pytest.raises(ConfigError) as failure:
        home.load_key("wrong")
    assert str(failure.value) == f"cannot unlock the node key {home.key_file}: wrong password for key 'node'"


def test_a_node_key_is_never_overwritten(tmp_path):
    home = NodeHome(tmp_path)
    home.save_key(KeyPair.generate(), PASSWORD)
    with pytest.raises(ConfigError, match="already exists"):
        home.save_key(KeyPair.generate(), PASSWORD)


def _write_plain_key(home: NodeHome, key: KeyPair) -> None:
    """A node key as versions before encryption wrote it."""
    home.key_file.write_text(json.dumps({"address": key.address, "public_key": key.public_key.hex(),
                                         "seed": key.seed.hex()}))


def test_a_plain_key_of_an_older_home_is_refused_until_encrypted(tmp_path):
    home, key = NodeHome(tmp_path), KeyPair.generate()
    _write_plain_key(home, key)
    with pytest.raises(ConfigError) as failure:
        home.load_key(PASSWORD)
    assert str(failure.value) == (f"node key {home.key_file} is stored unencrypted (made by an older FlexLedger); "
                                  f"encrypt it first: flexledger node encrypt-key --node-home {tmp_path}")
    assert home.encrypt_plain_key(PASSWORD).address == key.address
    assert key.seed.hex() not in home.key_file.read_text() and mode(home.key_file) == 0o600
    assert home.load_key(PASSWORD).seed == key.seed
    with pytest.raises(ConfigError, match="is already encrypted"):
        home.encrypt_plain_key(PASSWORD)


# -- where the password comes from -------------------------------------------------------------
@pytest.fixture
def no_password_env(monkeypatch):
    monkeypatch.delenv("FLEXLEDGER_PASSWORD", raising=False)
    monkeypatch.delenv("FLEXLEDGER_PASSWORD_FILE", raising=False)
    return monkeypatch


def test_password_sources_in_order(tmp_path, no_password_env):
    given, from_env_file = tmp_path / "given", tmp_path / "env-file"
    given.write_text("from the option\nsecond line ignored\n")
    from_env_file.write_text("from the env file\n")
    no_password_env.setenv("FLEXLEDGER_PASSWORD", "from the env")
    assert read_password() == "from the env"
    no_password_env.setenv("FLEXLEDGER_PASSWORD_FILE", str(from_env_file))
    assert read_password() == "from the env file"
    assert read_password(password_file=given) == "from the option"


@pytest.mark.parametrize("content, message", [
    (None, "cannot read the password file {path}: No such file or directory"),
    ("", "the password file {path} is empty: its first line must be the password"),
    ("\nsecret\n", "the password file {path} is empty: its first line must be the password"),
])
def test_unreadable_password_files_are_clear_errors(tmp_path, no_password_env, content, message):
    path = tmp_path / "password"
    if content is not None:
        path.write_text(content)
    with pytest.raises(KeystoreError) as failure:
        read_password(password_file=path)
    assert str(failure.value) == message.format(path=path)


def _flexledger(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def test_node_start_without_a_password_or_with_a_wrong_one_says_so(tmp_path):
    home = NodeHome(tmp_path / "node")
    home.save_key(KeyPair.generate(), PASSWORD)
    home.save_config(NodeConfig(dev=True))
    home.genesis_file.write_text("{}\n")  # a genesis is there (read only after the key is unlocked)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEXLEDGER_PASSWORD")}
    result = _flexledger("node", "start", "--node-home", str(home.path), env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: no keystore password: use --password-file, set FLEXLEDGER_PASSWORD_FILE "
                                     "or FLEXLEDGER_PASSWORD, or run the command in a terminal")
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")
    result = _flexledger("node", "start", "--node-home", str(home.path), "--password-file", str(wrong), env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: cannot unlock the node key {home.key_file}: wrong password for key 'node'"


def test_node_encrypt_key_command(tmp_path):
    home, key = NodeHome(tmp_path / "node"), KeyPair.generate()
    home.path.mkdir()
    _write_plain_key(home, key)
    env = {**os.environ, "FLEXLEDGER_PASSWORD": PASSWORD}
    env.pop("FLEXLEDGER_PASSWORD_FILE", None)
    result = _flexledger("node", "encrypt-key", "--node-home", str(home.path), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"encrypted node key {home.key_file} ({key.address})")
    assert home.load_key(PASSWORD).address == key.address


# -- the admin token ------------------------------------------------------------------------------
def test_the_admin_token_is_an_owner_only_file(tmp_path):
    home = NodeHome(tmp_path)
    assert home.load_admin_token() == ""
    home.save_admin_token("s3cret")
    assert mode(home.admin_token_file) == 0o600 and home.load_admin_token() == "s3cret"
    home.admin_token_file.chmod(0o644)
    with pytest.raises(ConfigError) as failure:
        home.load_admin_token()
    assert str(failure.value) == (f"the admin token {home.admin_token_file} can be read by other users (mode 644): "
                                  f"run 'chmod 600 {home.admin_token_file}'")


def test_an_admin_token_in_an_old_config_moves_to_its_file(tmp_path):
    home = NodeHome(tmp_path)
    home.save_config(NodeConfig(api_listen="127.0.0.1:1234"))
    doc = json.loads(home.config_file.read_text())
    home.config_file.write_text(json.dumps({**doc, "admin_token": "old-token"}))
    assert home.load_config().api_listen == "127.0.0.1:1234"
    assert "admin_token" not in json.loads(home.config_file.read_text())
    assert home.load_admin_token() == "old-token" and mode(home.admin_token_file) == 0o600


@pytest.fixture
async def admin_api(tmp_path, monkeypatch):
    test_chain = LocalChain(tmp_path / "node")
    isolated: list[set] = []
    test_chain.service.isolate = isolated.append
    compared: list[tuple] = []
    real_compare = __import__("hmac").compare_digest
    monkeypatch.setattr("node.api.hmac.compare_digest", lambda a, b: compared.append((a, b)) or real_compare(a, b))
    runner = QueryRunner(test_chain.chain)
    client = TestClient(TestServer(Api(test_chain.service, runner, admin_token="right-token").app()))
    await client.start_server()
    yield client, isolated, compared
    await client.close()
    runner.close()
    test_chain.close()


@pytest.mark.parametrize("headers", [{}, {"X-Admin-Token": "wrong-token"}, {"X-Admin-Token": "right-toke"},
                                     {"X-Admin-Token": "right-token\u00e9"}])
async def test_a_missing_or_wrong_admin_token_is_403(admin_api, headers):
    client, isolated, _ = admin_api
    response = await client.post("/admin/isolate", json={"peers": []}, headers=headers)
    assert response.status == 403
    assert await response.json() == {"code": "forbidden", "message": "admin token missing or wrong"}
    assert isolated == []


async def test_the_right_admin_token_works_and_is_compared_in_constant_time(admin_api):
    client, isolated, compared = admin_api
    peer = "0x" + "ab" * 20
    response = await client.post("/admin/isolate", json={"peers": [peer]}, headers={"X-Admin-Token": "right-token"})
    assert response.status == 200 and await response.json() == {"isolated": [peer]}
    assert isolated == [{peer}]
    assert compared == [(b"right-token", b"right-token")]
