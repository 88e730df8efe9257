"""The consortium ceremony from the command line: homes made separately, a genesis assembled
from what each party's `node show-id` printed, installed everywhere with the same hash and the
other validators as peers; refusals of wrong genesis files and bad flags; and one non-dev
validator node, started as a real process, that finalizes a transfer."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from cli.main import main
from node.client import ClientError, NodeClient
from node.config import NodeHome
from node.keys import KeyPair
from node.keystore import Keystore

PASSWORD = "ceremony"
HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("FLEXLEDGER_PASSWORD", PASSWORD)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err.strip()


def ok(capsys, *argv) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return out


def sha256_line(out: str) -> str:
    return re.search(r"^genesis sha256: ([0-9a-f]{64})$", out, re.M).group(1)


def make_genesis(capsys, tmp_path, identities: list[dict], genesis_time: str = "2027-01-01T00:00:00Z",
                 issuer: str | None = None) -> tuple:
    """The coordinator's walk: a draft from the parties' identities, finalized; (path, printed hash)."""
    draft, out = tmp_path / "draft.json", tmp_path / "genesis.json"
    ok(capsys, "genesis", "new", "--chain-id", "westgrid", "--draft", draft, "--genesis-time", genesis_time)
    for i, identity in enumerate(identities):
        id_file = tmp_path / f"validator{i}.json"  # as each party sends it
        id_file.write_text(json.dumps(identity))
        ok(capsys, "genesis", "add-validator", "--draft", draft, "--name", "dso" if i == 0 else f"agg{i}",
           "--id", id_file, "--role", "dso" if i == 0 else "aggregator")
    ok(capsys, "genesis", "set-issuer", "--draft", draft, "--address", issuer or KeyPair.generate().address,
       "--supply", "1000000")
    oracle_keys = Keystore(tmp_path / "oracle" / "keys")
    oracle_keys.create("oracle", PASSWORD)
    ok(capsys, "genesis", "set-oracle", "--draft", draft, "--key-file", oracle_keys.directory / "oracle.json")
    return out, sha256_line(ok(capsys, "genesis", "finalize", "--draft", draft, "--out", out))


def test_four_homes_made_apart_share_one_genesis_and_find_each_other(tmp_path, capsys):
    homes = [tmp_path / f"org{i}" / "node" for i in range(4)]
    identities = []
    for home, host in zip(homes, HOSTS):
        out = ok(capsys, "node", "init", "--node-home", home, "--p2p-listen", f"{host}:26656",
                 "--api-listen", f"{host}:26657")
        identity = json.loads(ok(capsys, "node", "show-id", "--node-home", home, "--json"))
        assert f"public key:   {identity['public_key']}" in out and f"peer:         {identity['peer']}" in out
        assert identity["peer"] == f"{identity['address']}@{host}:26656"
        identities.append(identity)
    genesis, printed = make_genesis(capsys, tmp_path, identities)
    for home, me in zip(homes, identities):
        out = ok(capsys, "node", "install-genesis", "--node-home", home, "--genesis", genesis)
        assert sha256_line(out) == printed
        assert NodeHome(home).genesis_file.read_bytes() == genesis.read_bytes()
        peers = NodeHome(home).load_config().peers
        assert peers == [{"address": other["address"], "p2p": other["p2p_address"]}
                         for other in sorted(identities, key=lambda i: i["address"]) if other is not me]
    again = ok(capsys, "node", "install-genesis", "--node-home", homes[0], "--genesis", genesis)
    assert sha256_line(again) == printed and len(NodeHome(homes[0]).load_config().peers) == 3


def test_an_observer_joins_with_init_genesis_and_keeps_its_own_peers(tmp_path, capsys):
    validator = tmp_path / "validator"
    ok(capsys, "node", "init", "--node-home", validator, "--p2p-listen", "127.0.0.2:26656")
    genesis, printed = make_genesis(capsys, tmp_path, [json.loads(ok(capsys, "node", "show-id", "--node-home",
                                                                     validator, "--json"))])
    friend = f"0x{'ab' * 20}@friend.example.org:26656"
    out = ok(capsys, "node", "init", "--node-home", tmp_path / "observer", "--p2p-listen", "0.0.0.0:26656",
             "--external-address", "203.0.113.9:30000", "--peer", friend, "--genesis", genesis)
    assert sha256_line(out) == printed
    assert "this node's key is not a validator in this genesis: it runs as an observer" in out
    assert "p2p address:  203.0.113.9:30000" in out
    validator_address = NodeHome(validator).load_node_id()["address"]
    assert NodeHome(tmp_path / "observer").load_config().peers == [
        {"address": "0x" + "ab" * 20, "p2p": "friend.example.org:26656"},
        {"address": validator_address, "p2p": "127.0.0.2:26656"}]


def test_a_wrong_genesis_file_is_refused(tmp_path, capsys):
    home = tmp_path / "node"
    ok(capsys, "node", "init", "--node-home", home, "--p2p-listen", "127.0.0.2:26656")
    config_file = NodeHome(home).config_file
    assert run(capsys, "node", "install-genesis", "--node-home", home, "--genesis", config_file)[2] == (
        f"error: genesis file {config_file}: genesis is missing field 'chain_id'")
    assert run(capsys, "node", "install-genesis", "--node-home", home, "--genesis", tmp_path / "none.json")[2] == (
        f"error: cannot read the genesis file {tmp_path / 'none.json'}: No such file or directory")
    first, _ = make_genesis(capsys, tmp_path, [json.loads(ok(capsys, "node", "show-id", "--node-home", home,
                                                             "--json"))])
    ok(capsys, "node", "install-genesis", "--node-home", home, "--genesis", first)
    installed = sha256_line(ok(capsys, "node", "install-genesis", "--node-home", home, "--genesis", first))
    other = tmp_path / "other.json"
    other.write_text(first.read_text().replace('"westgrid"', '"eastgrid"'))
    assert run(capsys, "node", "install-genesis", "--node-home", home, "--genesis", other)[2] == (
        f"error: {home} already has another genesis (sha256 {installed}); a node cannot change chains: make a new "
        f"home for chain 'eastgrid'")


@pytest.mark.parametrize("argv, message", [
    (["--peer", "203.0.113.7:26656"], "error: --peer: '203.0.113.7:26656' is not ADDRESS@HOST:PORT (the peer's "
                                      "node address as 'flexledger node show-id' prints it, e.g. "
                                      "0x1f…9a@203.0.113.7:26656)"),
    (["--p2p-listen", "26656"], "error: --p2p-listen: '26656' is not HOST:PORT (e.g. 203.0.113.7:26656 or "
                                "node1.example.org:26656)"),
    (["--external-address", "host:0"], "error: --external-address: 'host:0': the port must be a number from 1 "
                                        "to 65535"),
    (["--api-listen", "127.0.0.1:1", "--port", "2"], "error: give --api-listen or --port, not both"),
    (["--chain-id", "x"], "error: --chain-id is only for --dev homes: a consortium's chain is defined by its "
                          "genesis ('flexledger genesis new ...', then 'node install-genesis')"),
])
def test_bad_node_init_flags_are_named(tmp_path, capsys, argv, message):
    assert run(capsys, "node", "init", "--node-home", tmp_path / "node", *argv)[2] == message
    assert not (tmp_path / "node").exists()


def test_node_start_without_a_genesis_says_how_to_install_it(tmp_path, capsys):
    home = tmp_path / "node"
    ok(capsys, "node", "init", "--node-home", home)
    assert run(capsys, "node", "start", "--node-home", home)[2] == (
        f"error: {home} has no genesis yet: install the consortium's genesis.json with 'flexledger node "
        f"install-genesis --node-home {home} --genesis FILE'")
    assert run(capsys, "node", "show-id", "--node-home", tmp_path / "nowhere")[2] == (
        f"error: {tmp_path / 'nowhere'} is not a node home: run 'flexledger node init --node-home {tmp_path / 'nowhere'}' "
        f"first")


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def test_a_non_dev_validator_started_from_its_home_finalizes_a_transfer(tmp_path, capsys):
    host = HOSTS[0]
    api = f"{host}:{free_port(host)}"
    home = tmp_path / "node"
    ok(capsys, "node", "init", "--node-home", home, "--p2p-listen", f"{host}:{free_port(host)}", "--api-listen", api)
    wallet = tmp_path / "wallet"
    issuer = Keystore(wallet / "keys").create("issuer", PASSWORD)
    now = str(int(time.time() * 1000) - 1000)
    genesis, _ = make_genesis(capsys, tmp_path, [json.loads(ok(capsys, "node", "show-id", "--node-home", home,
                                                               "--json"))], now, issuer.address)
    ok(capsys, "node", "install-genesis", "--node-home", home, "--genesis", genesis)
    env = {**os.environ, "FLEXLEDGER_PASSWORD": PASSWORD}
    with open(tmp_path / "node.log", "wb") as log:
        node = subprocess.Popen([sys.executable, "-m", "cli.main", "node", "start", "--node-home", str(home)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        client = NodeClient(f"http://{api}", timeout=5)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.status()
                break
            except ClientError:
                assert node.poll() is None and time.monotonic() < deadline, (tmp_path / "node.log").read_text()
                time.sleep(0.2)
        sent = subprocess.run([sys.executable, "-m", "cli.main", "--home", str(wallet), "--node", f"http://{api}",
                               "wallet", "send", "0x" + "cd" * 20, "1", "--key", "issuer"],
                              env=env, capture_output=True, text=True, timeout=60)
        assert sent.returncode == 0, sent.stderr + (tmp_path / "node.log").read_text()[-2000:]
        assert client.status()["height"] >= 1
    finally:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(timeout=15)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
