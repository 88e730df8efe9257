"""Backup and restore of a node home (issue 11): `node export-state` / `node import-state`.

A dev node makes blocks, is backed up, makes more, and is restored into a fresh directory:
the restored node serves the backed-up block and state root and continues. A validator's
signing state in an old backup is never restored alone (the double-sign hazard).
"""
import json
import os
import signal
import subprocess
import sys
import tarfile
import time

import pytest

from cli.main import main
from node.backup import BackupError, describe_signing_state, export_state, import_state
from node.config import NodeHome
from node.keys import KeyPair
from node.signing import DoubleSignRefused, GuardedSigner
from node.store import ChainStore
from node.client import ClientError, NodeClient
from testnet.devnode import DevNode, free_port

HAZARD = ("this backup's signing state (height {h}) may be older than what the validator signed since, and "
          "restoring it could make it double-sign: give --signing-state with the newest signing_state.json of "
          "the old machine, or --fence-height with the chain's current height from another node "
          "('flexledger --node URL chain status')")


def wait_height(node: DevNode, height: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while (now := node.client.status()["height"]) < height:
        assert time.monotonic() < deadline, f"height {height} not reached within {timeout} s (at {now})"
        time.sleep(0.1)
    return now


def state_root(node: DevNode, height: int) -> str:
    return node.client.get(f"/block/{height}")["header"]["state_root"]


def write_signing_state(path, height: int, round_: int = 0, step: int = 2) -> None:
    path.write_text(json.dumps({"height": height, "round": round_, "step": step, "message": ""}) + "\n")


def test_a_restored_node_serves_the_backed_up_state_and_continues(tmp_path, capsys):
    node = DevNode(tmp_path / "org", block_interval=0.1)
    restored = DevNode(tmp_path / "restored", block_interval=0.1)
    home, archive = NodeHome(node.home / "node"), tmp_path / "backups" / "node.tar.gz"
    try:
        node.init()
        node.start()
        wait_height(node, 5)
        with pytest.raises(BackupError) as running:
            export_state(home, archive)
        assert str(running.value) == (f"the node of {home.path} is running (its database is locked): stop it first, "
                                      f"then export")
        node.stop()
        assert main(["node", "export-state", str(archive), "--node-home", str(home.path)]) == 0
        manifest = json.loads(tarfile.open(archive).extractfile("backup.json").read())
        assert capsys.readouterr().out.startswith(f"backed up {home.path} to {archive}: chain flexledger-dev, "
                                                  f"height {manifest['height']}, block ")
        assert archive.stat().st_mode & 0o777 == 0o600

        node.start()  # the original goes on past the backup
        wait_height(node, manifest["height"] + 5)
        original_root = state_root(node, manifest["height"])
        node.stop()

        target = restored.home / "node"
        assert main(["node", "import-state", str(archive), "--node-home", str(target)]) == 0
        assert capsys.readouterr().out.splitlines() == [
            f"restored {archive} into {target}: chain flexledger-dev, height {manifest['height']}, "
            f"block {manifest['block_hash'][:16]}, state root {manifest['state_root'][:16]}",
            f"start it with: flexledger node start --node-home {target}"]
        assert (target / "node_key.json").stat().st_mode & 0o777 == 0o600
        restored.start()
        assert state_root(restored, manifest["height"]) == original_root == manifest["state_root"]
        wait_height(restored, manifest["height"] + 3)  # it continues
    finally:
        node.kill()
        restored.kill()


@pytest.fixture(scope="module")
def validator_archive(tmp_path_factory):
    """An archive of a stopped home whose signing state signed at height 7 (as a validator's would)."""
    directory = tmp_path_factory.mktemp("validator")
    node = DevNode(directory, block_interval=0.1)
    try:
        node.init()
        node.start()
        wait_height(node, 3)
    finally:
        node.stop()
    home = NodeHome(directory / "node")
    write_signing_state(home.signing_state_file, 7)
    archive = directory / "validator.tar.gz"
    manifest = export_state(home, archive)
    assert manifest.signed == (7, 0, 2)
    return archive


def test_restoring_a_validator_alone_is_refused_as_a_double_sign_hazard(validator_archive, tmp_path, capsys):
    target = tmp_path / "node"
    assert main(["node", "import-state", str(validator_archive), "--node-home", str(target)]) == 1
    assert capsys.readouterr().err == f"error: {HAZARD.format(h=7)}\n"
    assert not target.exists()


@pytest.mark.parametrize("newer, kept", [(12, 12), (5, 7)])
def test_the_restore_keeps_the_newer_signing_state(validator_archive, tmp_path, capsys, newer, kept):
    salvaged = tmp_path / "signing_state.json"
    write_signing_state(salvaged, newer)
    home = NodeHome(tmp_path / "node")
    assert main(["node", "import-state", str(validator_archive), "--node-home", str(home.path),
                 "--signing-state", str(salvaged)]) == 0
    assert json.loads(home.signing_state_file.read_text())["height"] == kept
    assert capsys.readouterr().out.splitlines()[1] == f"signing state: last signed at height {kept} round 0"


def test_a_fence_height_stops_signing_at_or_below_it(validator_archive, tmp_path, capsys):
    home = NodeHome(tmp_path / "node")
    assert main(["node", "import-state", str(validator_archive), "--node-home", str(home.path),
                 "--fence-height", "40"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "signing state: fenced, signs nothing at or below height 40"
    signer = GuardedSigner(KeyPair.generate(), home.signing_state_file)
    for height in (7, 40):
        with pytest.raises(DoubleSignRefused):
            signer.sign(_vote(height, round_=5))
    assert signer.sign(_vote(41, round_=0))


def _vote(height: int, round_: int) -> bytes:
    import msgpack  # the sign-bytes shape GuardedSigner reads: ["vote", chain, step, height, round, ...]
    return msgpack.packb(["vote", "flexledger-dev", 1, height, round_, b"\x00" * 32])


@pytest.mark.parametrize("kwargs, message", [
    ({"fence_height": 1}, "--fence-height must be at least the backup's height {h} (give the chain's current "
                          "height), not 1"),
    ({"fence_height": 50, "newer_signing_state": "x"}, "give either --signing-state or --fence-height, not both"),
])
def test_bad_restore_options_are_refused(validator_archive, tmp_path, kwargs, message):
    height = json.loads(tarfile.open(validator_archive).extractfile("backup.json").read())["height"]
    with pytest.raises(BackupError) as error:
        import_state(validator_archive, NodeHome(tmp_path / "node"), **kwargs)
    assert str(error.value) == message.format(h=height)


def test_a_damaged_salvaged_signing_state_is_refused(validator_archive, tmp_path):
    salvaged = tmp_path / "signing_state.json"
    salvaged.write_text("{not json")
    with pytest.raises(BackupError) as error:
        import_state(validator_archive, NodeHome(tmp_path / "node"), newer_signing_state=salvaged)
    assert str(error.value) == f"signing state {salvaged} is damaged or unreadable"


def test_import_refuses_a_directory_that_is_not_empty(validator_archive, tmp_path):
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "config.json").write_text("{}")
    with pytest.raises(BackupError) as error:
        import_state(validator_archive, NodeHome(tmp_path / "node"), fence_height=50)
    assert str(error.value) == f"{tmp_path / 'node'} is not empty: restore into a new or empty directory (--node-home)"


def test_export_refuses_what_is_not_a_node_home_or_an_existing_archive(validator_archive, tmp_path):
    with pytest.raises(BackupError) as error:
        export_state(NodeHome(tmp_path), tmp_path / "a.tar.gz")
    assert str(error.value) == f"{tmp_path} is not a node home (no config.json): give the node's --node-home"
    home = NodeHome(tmp_path / "fresh")
    home.save_config(home_config := __import__("node.config", fromlist=["NodeConfig"]).NodeConfig())
    assert home_config.dev is False
    with pytest.raises(BackupError) as error:
        export_state(home, tmp_path / "a.tar.gz")
    assert str(error.value) == f"{home.path} holds no chain data yet: start the node once before backing it up"
    with pytest.raises(BackupError) as error:
        export_state(home, validator_archive)
    assert str(error.value) == f"{validator_archive} already exists: choose another file name"


def test_import_refuses_archives_that_are_not_node_backups(tmp_path):
    with pytest.raises(BackupError) as error:
        import_state(tmp_path / "missing.tar.gz", NodeHome(tmp_path / "node"))
    assert str(error.value) == f"no archive at {tmp_path / 'missing.tar.gz'}"
    stray = tmp_path / "stray.tar.gz"
    with tarfile.open(stray, "w:gz") as tar:
        tar.add(__file__, "backup.json")
    with pytest.raises(BackupError) as error:
        import_state(stray, NodeHome(tmp_path / "node"))
    assert str(error.value) == ("the archive has no readable backup.json: it was not made by "
                                "'flexledger node export-state'")


def test_import_refuses_an_entry_outside_a_node_home(validator_archive, tmp_path):
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(validator_archive) as source, tarfile.open(tampered, "w:gz") as tar:
        for member in source.getmembers():
            tar.addfile(member, source.extractfile(member) if member.isfile() else None)
        info = tarfile.TarInfo("../escape")
        tar.addfile(info)
    with pytest.raises(BackupError) as error:
        import_state(tampered, NodeHome(tmp_path / "node"), fence_height=50)
    assert str(error.value) == ("the archive holds an entry outside a node home, refusing it: "
                                f"'../escape' would be extracted to {str(tmp_path / 'escape')!r}, which is outside "
                                f"the destination")
    assert not (tmp_path / "escape").exists() and not (tmp_path / "node").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".node.restoring")] == []


class SoloValidator:
    """A one-validator consortium chain made with the ceremony's commands, run as a real process."""

    def __init__(self, directory):
        self.directory = directory
        self.env = {**os.environ, "FLEXLEDGER_HOME": str(directory), "FLEXLEDGER_PASSWORD": "solo-password"}
        self.env.pop("FLEXLEDGER_PASSWORD_FILE", None)
        self.api, self.p2p = free_port(), free_port()
        self.process = None

    def cli(self, *args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "cli.main", *args], env=self.env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, f"flexledger {' '.join(args)}: {result.stderr}"
        return result.stdout

    def create(self, home) -> None:
        draft, genesis = self.directory / "draft.json", self.directory / "genesis.json"
        self.cli("node", "init", "--node-home", str(home), "--p2p-listen", f"127.0.0.1:{self.p2p}",
                 "--port", str(self.api))
        public_key = json.loads(self.cli("node", "show-id", "--node-home", str(home), "--json"))["public_key"]
        issuer, oracle = KeyPair.generate(), KeyPair.generate()
        self.cli("genesis", "new", "--draft", str(draft), "--chain-id", "solo")
        self.cli("genesis", "add-validator", "--draft", str(draft), "--name", "dso", "--role", "dso",
                 "--public-key", public_key, "--p2p", f"127.0.0.1:{self.p2p}")
        self.cli("genesis", "set-issuer", "--draft", str(draft), "--address", issuer.address, "--supply", "1")
        self.cli("genesis", "set-oracle", "--draft", str(draft), "--public-key", oracle.public_key.hex())
        self.cli("genesis", "finalize", "--draft", str(draft), "--out", str(genesis))
        self.cli("node", "install-genesis", "--node-home", str(home), "--genesis", str(genesis))
        config = json.loads((home / "config.json").read_text())
        (home / "config.json").write_text(json.dumps({**config, "empty_blocks": True, "block_time": 0.1}))

    def start(self, home) -> None:
        self.log = open(self.directory / f"{home.name}.log", "wb")
        self.process = subprocess.Popen([sys.executable, "-m", "cli.main", "node", "start", "--node-home", str(home)],
                                        env=self.env, stdout=self.log, stderr=subprocess.STDOUT)

    def height(self) -> int | None:
        try:
            return NodeClient(f"http://127.0.0.1:{self.api}", timeout=2).status()["height"]
        except ClientError:
            return None

    def wait_height(self, height: int, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while (now := self.height()) is None or now < height:
            assert self.process.poll() is None, f"the node exited: see {self.log.name}"
            assert time.monotonic() < deadline, f"height {height} not reached within {timeout} s (at {now})"
            time.sleep(0.1)
        return now

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process is not None:
            self.log.close()
        self.process = None


@pytest.mark.parametrize("newer", ["signing-state", "fence-height"])
def test_a_restored_validator_refuses_to_sign_again_what_it_signed_after_the_backup(tmp_path, newer):
    """Restored alone, the one validator would sign heights it signed before, differently; with the
    newer signing state, or a fence at the chain's height, the restored node stops instead."""
    solo = SoloValidator(tmp_path)
    home, restored, archive = tmp_path / "v", tmp_path / "restored", tmp_path / "v.tar.gz"
    try:
        solo.create(home)
        solo.start(home)
        solo.wait_height(3)
        solo.stop()
        manifest = export_state(NodeHome(home), archive)
        assert manifest.signed[0] == manifest.height > 0
        solo.start(home)
        head = solo.wait_height(manifest.height + 5)
        solo.stop()

        option = ({"newer_signing_state": NodeHome(home).signing_state_file} if newer == "signing-state"
                  else {"fence_height": head})
        import_state(archive, NodeHome(restored), **option)
        solo.start(restored)
        assert solo.process.wait(30) != 0
        log = (tmp_path / "restored.log").read_text()
        assert "CRITICAL flexledger" in log and "refusing to double-sign" in log
        assert head_height(restored) == manifest.height  # it signed nothing, so committed nothing
    finally:
        solo.stop()


def head_height(home) -> int:
    store = ChainStore(NodeHome(home).data_dir / "chain.db")
    try:
        return store.head_height()
    finally:
        store.close()


def test_an_observer_home_is_described_as_never_signed(tmp_path):
    home = NodeHome(tmp_path)
    assert describe_signing_state(home) is None  # a dev home has none
    GuardedSigner.create(home.signing_state_file)
    assert describe_signing_state(home) == "signing state: this key never signed"
