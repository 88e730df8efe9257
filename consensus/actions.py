"""What the consensus engine asks its node to do: the engine's only outputs.

Every engine entry point returns a list of these actions, in the order they must be carried
out. They are re-exported by ``consensus.messages``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from consensus.types import Commit

if TYPE_CHECKING:
    from consensus.messages import DuplicateVoteEvidence, Proposal, Timeout, Vote


@dataclass(frozen=True)
class Broadcast:
    """Send a message this node signed to every peer (after writing it to the WAL)."""

    message: Proposal | Vote


@dataclass(frozen=True)
class ScheduleTimeout:
    """Call ``Engine.on_timeout(timeout)`` after ``delay`` seconds."""

    timeout: Timeout
    delay: float


@dataclass(frozen=True)
class BuildBlock:
    """This node proposes at (height, round): build a block, answer with ``on_block_built``."""

    height: int
    round: int


@dataclass(frozen=True)
class CheckBlock:
    """Decode and execute a proposed block, answer with ``on_block_checked``.

    The block is valid only if it decodes, its hash is ``block_hash`` and it executes at
    ``height``.
    """

    height: int
    round: int
    block_hash: bytes
    block: bytes


@dataclass(frozen=True)
class Decide:
    """The block is final: commit it with its commit certificate, then call ``start_height``."""

    height: int
    round: int
    block_hash: bytes
    block: bytes
    commit: Commit


@dataclass(frozen=True)
class EvidenceFound:
    """A validator signed two different votes for one (type, height, round)."""

    evidence: DuplicateVoteEvidence


Action = Union[Broadcast, ScheduleTimeout, BuildBlock, CheckBlock, Decide, EvidenceFound]
