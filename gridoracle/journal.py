"""What the grid oracle has done, kept across restarts (``<home>/state.json``).

The chain is the source of truth: before every transaction the oracle checks on chain
whether it already happened (an attestation, a regime, a flexibility request), so a crash
between sending a transaction and writing this file never makes it act twice.  The journal
keeps what the chain cannot tell cheaply: the block height the oracle has caught up to,
the lowest session id that may still need it (``watermark``), the congestion episodes in
progress (an energy session waiting for the flexibility the oracle requested) and a record
of each attestation for ``flexledger oracle status``.

The file is replaced atomically (``node.atomicfile``) after every change.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from node.atomicfile import write_json_atomic

VERSION = 1


class JournalError(Exception):
    """A state file that belongs to another chain or oracle key, or cannot be read."""


@dataclass
class Journal:
    path: Path
    chain_id: str
    oracle: str
    height: int = 0
    watermark: int = 1
    attested: dict[str, dict] = field(default_factory=dict)  # session id -> {verdict, input_hash, height, ...}
    episodes: dict[str, dict] = field(default_factory=dict)  # energy session id -> {feeder, flex, input_hash, stage}
    errors: dict[str, str] = field(default_factory=dict)  # session id -> why it cannot be validated

    @classmethod
    def read(cls, path: Path) -> "Journal":
        """The journal at ``path`` as it is (an empty one if there is none), for reading only."""
        path = Path(path)
        if not path.exists():
            return cls(path, "", "")
        try:
            doc = json.loads(path.read_text())
            return cls(path, doc["chain_id"], doc["oracle"], int(doc["height"]), int(doc["watermark"]),
                       dict(doc["attested"]), dict(doc["episodes"]), dict(doc.get("errors", {})))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise JournalError(f"{path} is damaged ({exc}); move it away to start over") from None

    @classmethod
    def open(cls, path: Path, chain_id: str, oracle: str) -> "Journal":
        """The journal at ``path`` for this chain and oracle key (a new one if there is none)."""
        if not Path(path).exists():
            return cls(Path(path), chain_id, oracle)
        journal = cls.read(path)
        if journal.chain_id != chain_id or journal.oracle != oracle:
            raise JournalError(f"{path} belongs to chain {journal.chain_id!r} and oracle {journal.oracle}, not "
                               f"{chain_id!r} and {oracle}; move it away to start over")
        return journal

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"version": VERSION, "chain_id": self.chain_id, "oracle": self.oracle,
                                      "height": self.height, "watermark": self.watermark,
                                      "attested": self.attested, "episodes": self.episodes,
                                      "errors": self.errors})
