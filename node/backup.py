"""Backup and restore of a node home (``flexledger node export-state`` / ``import-state``).

An archive is a gzipped tar of the home as a stopped node left it::

    backup.json          the manifest: format, chain id, head height, block hash, state root,
                         the signing position of the backed-up signing state, creation time
    everything else in the home (node/config.py): config.json, genesis.json, node_key.json
    (encrypted), admin_token, signing_state.json, data/ (the LevelDB chain database and the
    consensus WAL), ... except log and pid files (``SKIPPED``)

Export needs the node stopped: it holds the database's lock while it reads the head and
writes the archive, so a node cannot start meanwhile (and a running node makes it refuse).
The archive is written with mode 0600 (it holds the encrypted node key and the admin token).

Import writes a new home (an absent or empty directory), checks that the restored database's
head is the manifest's block and state root, and only then moves it into place.

The double-sign hazard: a validator's signing state in an old backup says it last signed at
the backup's height, but since then it signed at later heights. Restored as is, the node
could sign a different vote at one of those heights. So a validator's archive (one whose
signing state has signed anything) is restored only with one of:

- ``newer_signing_state``: the newest ``signing_state.json`` of the old machine; the restore
  keeps whichever of it and the archive's is further along;
- ``fence_height``: the chain's current height, read from another node; the validator then
  signs nothing at or below that height (it follows the chain by sync up to there).
"""
from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import plyvel

from node.atomicfile import write_json_atomic
from node.config import NodeHome
from node.store import ChainStore

FORMAT = 1
MANIFEST = "backup.json"
SKIPPED = (".log", ".pid")  # written by process managers next to the home's files, not part of the node
DATA = "data"
NEVER_SIGNED = (-1, -1, -1)
FENCE_ROUND = FENCE_STEP = 2**31  # beyond any round and step, so the fence height itself is refused


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    format: int
    chain_id: str
    height: int
    block_hash: str
    state_root: str
    signed: tuple[int, int, int] | None  # (height, round, step) of the signing state; None: it has none
    created: str

    @classmethod
    def from_json(cls, doc) -> "Manifest":
        try:
            manifest = cls(**doc)
            signed = None if manifest.signed is None else tuple(int(v) for v in manifest.signed)
            return cls(**{**doc, "signed": signed})
        except (TypeError, ValueError):
            raise BackupError(f"the archive's {MANIFEST} is damaged") from None


def export_state(home: NodeHome, archive: Path) -> Manifest:
    """Write the stopped node's home to ``archive``; BackupError if the node runs or the home is not one."""
    if not home.exists():
        raise BackupError(f"{home.path} is not a node home (no config.json): give the node's --node-home")
    archive = Path(archive)
    if archive.exists():
        raise BackupError(f"{archive} already exists: choose another file name")
    store = _open_store(home)
    try:
        height, block_hash, state_root = _head(store, home)
        signed = _position(_signing_doc(home.signing_state_file)) if home.signing_state_file.exists() else None
        manifest = Manifest(FORMAT, json.loads(home.genesis_file.read_text())["chain_id"], height, block_hash,
                            state_root, signed, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        _write_archive(home, archive, manifest)
    finally:
        store.close()
    return manifest


def import_state(archive: Path, home: NodeHome, newer_signing_state: Path | None = None,
                 fence_height: int | None = None) -> Manifest:
    """Restore ``archive`` into the new home ``home``; see the module docstring for the signing state."""
    if newer_signing_state is not None and fence_height is not None:
        raise BackupError("give either --signing-state or --fence-height, not both")
    if home.path.exists() and any(home.path.iterdir()):
        raise BackupError(f"{home.path} is not empty: restore into a new or empty directory (--node-home)")
    with _open_archive(archive) as tar:
        manifest = _read_manifest(tar)
        signing = _restored_signing_state(manifest, newer_signing_state, fence_height)
        home.path.parent.mkdir(parents=True, exist_ok=True)
        staging = NodeHome(Path(tempfile.mkdtemp(prefix=f".{home.path.name}.restoring-", dir=home.path.parent)))
        try:
            _extract(tar, staging.path)
            _check_restored(staging, manifest)
            if signing is not None:
                write_json_atomic(staging.signing_state_file, signing, indent=None)
            if home.path.exists():
                home.path.rmdir()
            os.replace(staging.path, home.path)
        finally:
            shutil.rmtree(staging.path, ignore_errors=True)
    return manifest


def describe_signing_state(home: NodeHome) -> str | None:
    """One line on the restored home's signing state, for the operator; None if it has none."""
    if not home.signing_state_file.exists():
        return None
    signing = _signing_doc(home.signing_state_file)
    if _position(signing) == NEVER_SIGNED:
        return "signing state: this key never signed"
    if signing["round"] == FENCE_ROUND:
        return f"signing state: fenced, signs nothing at or below height {signing['height']}"
    return f"signing state: last signed at height {signing['height']} round {signing['round']}"


# -- export ----------------------------------------------------------------------------------------
def _open_store(home: NodeHome) -> ChainStore:
    if not (home.data_dir / "chain.db").exists():
        raise BackupError(f"{home.path} holds no chain data yet: start the node once before backing it up")
    try:
        return ChainStore(home.data_dir / "chain.db")
    except plyvel.IOError as exc:
        if "lock" in str(exc).lower():
            raise BackupError(f"the node of {home.path} is running (its database is locked): stop it first, "
                              f"then export") from None
        raise BackupError(f"cannot open the chain database of {home.path}: {exc}") from None


def _head(store: ChainStore, home: NodeHome) -> tuple[int, str, str]:
    height = store.head_height()
    block = None if height is None else store.block(height)
    if block is None:
        raise BackupError(f"the chain database of {home.path} has no head block: nothing to back up")
    return height, block.hash.hex(), block.header.state_root.hex()


def _signing_doc(path: Path) -> dict:
    """A signing-state file's content, checked as GuardedSigner reads it."""
    try:
        doc = json.loads(Path(path).read_text())
        bytes.fromhex(doc["message"])
        return {"height": int(doc["height"]), "round": int(doc["round"]), "step": int(doc["step"]),
                "message": doc["message"]}
    except (OSError, ValueError, KeyError, TypeError):
        raise BackupError(f"signing state {path} is damaged or unreadable") from None


def _position(signing: dict) -> tuple[int, int, int]:
    return signing["height"], signing["round"], signing["step"]


def _write_archive(home: NodeHome, archive: Path, manifest: Manifest) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{archive.name}.", dir=archive.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w:gz") as tar:
            body = json.dumps(asdict(manifest), indent=2).encode() + b"\n"
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(body), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(body))
            for path in sorted(home.path.iterdir()):
                tar.add(path, path.name, filter=_skip_logs)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, archive)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _skip_logs(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if member.name.endswith(SKIPPED) else member


# -- import ----------------------------------------------------------------------------------------
def _open_archive(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r:gz")
    except FileNotFoundError:
        raise BackupError(f"no archive at {archive}") from None
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive} is not a node backup made by 'flexledger node export-state' ({exc})") from None


def _read_manifest(tar: tarfile.TarFile) -> Manifest:
    try:
        doc = json.loads(tar.extractfile(MANIFEST).read())
    except (KeyError, AttributeError, ValueError, tarfile.TarError):
        raise BackupError(f"the archive has no readable {MANIFEST}: it was not made by "
                          f"'flexledger node export-state'") from None
    manifest = Manifest.from_json(doc)
    if manifest.format != FORMAT:
        raise BackupError(f"the archive has format {manifest.format}; this version restores format {FORMAT}")
    return manifest


def _restored_signing_state(manifest: Manifest, newer: Path | None, fence_height: int | None) -> dict | None:
    """The signing state the restored home gets; None: the archive's own (no hazard)."""
    if newer is None and fence_height is None:
        if manifest.signed not in (None, NEVER_SIGNED):
            raise BackupError(
                f"this backup's signing state (height {manifest.signed[0]}) may be older than what the validator "
                f"signed since, and restoring it could make it double-sign: give --signing-state with the newest "
                f"signing_state.json of the old machine, or --fence-height with the chain's current height from "
                f"another node ('flexledger --node URL chain status')")
        return None
    if fence_height is not None:
        if fence_height < manifest.height:
            raise BackupError(f"--fence-height must be at least the backup's height {manifest.height} "
                              f"(give the chain's current height), not {fence_height}")
        candidate = {"height": fence_height, "round": FENCE_ROUND, "step": FENCE_STEP, "message": ""}
    else:
        candidate = _signing_doc(newer)
    if manifest.signed is not None and manifest.signed > _position(candidate):
        return None  # the archive's own is further along: keep it
    return candidate


def _extract(tar: tarfile.TarFile, target: Path) -> None:
    for member in tar.getmembers():
        if member.name == MANIFEST:
            continue
        try:
            tar.extract(member, target, filter="data")  # refuses absolute paths, '..', links out of the home
        except tarfile.FilterError as exc:
            raise BackupError(f"the archive holds an entry outside a node home, refusing it: {exc}") from None


def _check_restored(staging: NodeHome, manifest: Manifest) -> None:
    for required in ("config.json", "genesis.json", f"{DATA}/chain.db"):
        if not (staging.path / required).exists():
            raise BackupError(f"the archive has no {required}: it is not a whole node home")
    store = _open_store(staging)
    try:
        height, block_hash, state_root = _head(store, staging)
    finally:
        store.close()
    if (height, block_hash, state_root) != (manifest.height, manifest.block_hash, manifest.state_root):
        raise BackupError(f"the restored database's head (height {height}) is not the manifest's "
                          f"(height {manifest.height}): the archive is damaged")
