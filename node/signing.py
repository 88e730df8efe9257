"""The validator's last line of defence against double-signing.

``GuardedSigner`` signs consensus messages only in increasing (height, round, step) order,
and signs the same (height, round, step) again only for the identical message. Before a
signature is released, the new position is written and fsynced to the signing-state file.
A different message at exactly the last position is refused without stopping the node
(``SignedBeforeRestart``: a crash between the signing state and the WAL; the engine skips
that step), a position below the last one stops it (``DoubleSignRefused``: a restored or
fenced signing state, or another process signing with this key).
A validator whose signing-state file is missing (with a chain already running) or
damaged refuses to start: ``SigningStateError`` tells the operator what to do.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import msgpack

from consensus.messages import SignatureRefused
from node.atomicfile import write_json_atomic
from node.keys import KeyPair

log = logging.getLogger("flexledger.signing")

STEP_PROPOSAL = 0


class SigningStateError(Exception):
    """The signing state is missing or damaged; the message says how to recover."""


class DoubleSignRefused(Exception):
    """A request to sign something that could contradict an earlier signature."""


class SignedBeforeRestart(DoubleSignRefused, SignatureRefused):
    """A different message at exactly the last signed position: this validator signed there,
    then crashed before its WAL kept the message (the two are written one after the other).
    The engine sends nothing for that step and goes on; the node keeps running."""


def position(message: bytes) -> tuple[int, int, int]:
    """(height, round, step) of a proposal or vote sign-bytes message."""
    fields = msgpack.unpackb(message)
    if fields[0] == "vote":
        return fields[3], fields[4], fields[2]
    if fields[0] == "proposal":
        return fields[2], fields[3], STEP_PROPOSAL
    raise DoubleSignRefused(f"refusing to sign an unknown message type {fields[0]!r}")


class GuardedSigner:
    def __init__(self, key: KeyPair, path: Path):
        self.key = key
        self.address = key.address
        self.path = Path(path)
        self.last: tuple[int, int, int] = (-1, -1, -1)
        self.last_message = b""
        self._load()

    @staticmethod
    def create(path: Path) -> None:
        """A fresh signing state for a validator that has never signed."""
        Path(path).write_text(json.dumps({"height": -1, "round": -1, "step": -1, "message": ""}) + "\n")

    def _load(self) -> None:
        if not self.path.exists():
            raise SigningStateError(
                f"signing state {self.path} is missing: this validator may have signed before and could "
                f"double-sign. Restore the file from the machine that ran it, or, only if this key has never "
                f"signed on this chain, create a fresh one with 'flexledger node reset-signing-state'")
        try:
            doc = json.loads(self.path.read_text())
            self.last = (int(doc["height"]), int(doc["round"]), int(doc["step"]))
            self.last_message = bytes.fromhex(doc["message"])
        except (ValueError, KeyError, TypeError):
            raise SigningStateError(f"signing state {self.path} is damaged; refusing to sign. Restore it "
                                    f"from a backup before starting this validator") from None

    def _save(self, where: tuple[int, int, int], message: bytes) -> None:
        write_json_atomic(self.path, {"height": where[0], "round": where[1], "step": where[2],
                                      "message": message.hex()}, indent=None)

    def sign(self, message: bytes) -> bytes:
        where = position(message)
        if where < self.last:
            raise DoubleSignRefused(f"refusing to sign at height/round/step {where}: already signed at {self.last}")
        if where == self.last and message != self.last_message:
            log.warning("not signing at height/round/step %s: this validator signed a different message there "
                        "before a restart and its WAL lost it; it sends nothing for that step", where)
            raise SignedBeforeRestart(f"refusing to sign at height/round/step {where}: already signed a different "
                                      f"message there")
        if where != self.last:
            self._save(where, message)
            self.last, self.last_message = where, message
        return self.key.sign(message)
