"""When a validator starts round 0 of the next height: the target block time and the empty-block policy.

After a decision the consensus engine waits in its ``new-height`` step until the driver
hands it the step's timeout; ``Round0Gate`` decides when (node config, docs/block-production.md):

- ``block_time`` (seconds, default 1.0): round 0 starts no earlier than ``block_time`` after
  round 0 of the previous height started, so a busy chain makes one block per ``block_time``
  as long as consensus takes less than that (and starts at once after the decision if it
  took longer);
- ``empty_blocks`` (default false): when false, round 0 also waits until a transaction is
  ready in this node's mempool, or until ``empty_block_interval`` (seconds, default 30)
  after round 0 of the previous height: an idle chain makes a heartbeat block at most every
  ``empty_block_interval``, and a transaction that arrives while it is idle is proposed
  ``block_time`` after the previous block's round 0 (at once if that is past). The chain's
  first block does not wait (as CometBFT's proof block), so a new consortium sees its first
  finalized block at once. True: a block every ``block_time``, transactions or not.

This is CometBFT's ``create_empty_blocks`` / ``create_empty_blocks_interval``: every
validator, not only the proposer, waits for transactions in its own mempool before it enters
round 0 (consensus/state.go, ``enterNewRound`` and ``handleTxsAvailable``); transactions are
gossiped to every validator, so they all start. A validator also starts round 0 as soon as a
proposal or vote of that height arrives from another validator (CometBFT prevotes a complete
proposal that arrives while it waits): a validator whose mempool missed the transaction
follows the others instead of holding up the quorum.

Chain time moves only with blocks: a market session phase whose end falls in an idle stretch
ends with the next block, up to ``empty_block_interval`` late.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol


@dataclass(frozen=True)
class BlockPolicy:
    block_time: float = 1.0
    empty_blocks: bool = False
    empty_block_interval: float = 30.0

    def round0_at(self, decided: float, previous_round0: float | None, txs_ready: bool) -> float:
        """The moment round 0 may start: ``decided`` is when this height began (the previous
        one was committed), ``previous_round0`` when round 0 of the previous height started
        (None: unknown, as after a restart), both on the same clock."""
        if previous_round0 is None:
            earliest, heartbeat = decided, decided + self.empty_block_interval
        else:
            earliest = max(decided, previous_round0 + self.block_time)
            heartbeat = max(earliest, previous_round0 + self.empty_block_interval)
        return earliest if self.empty_blocks or txs_ready else heartbeat


def check_config(doc: dict) -> None:
    """ValueError naming the field if the node config ``doc`` (its JSON object, types already
    checked) sets the policy's fields out of range, or still sets ``timeouts.commit``."""
    for name in ("block_time", "empty_block_interval"):
        if name in doc and not doc[name] > 0:
            raise ValueError(f"{name} must be a number of seconds above zero, not {doc[name]!r}")
    policy = BlockPolicy(**{name: doc[name] for name in ("block_time", "empty_block_interval") if name in doc})
    if policy.empty_block_interval < policy.block_time:
        raise ValueError(f"empty_block_interval ({policy.empty_block_interval:g} s) must be at least block_time "
                         f"({policy.block_time:g} s): raise it, or set empty_blocks to true for a block every "
                         f"block_time")
    if isinstance(doc.get("timeouts"), dict) and "commit" in doc["timeouts"]:
        raise ValueError(f"timeouts.commit is replaced by block_time, the target block time: remove it and set "
                         f"\"block_time\": {doc['timeouts']['commit']!r} (seconds, above zero) if you want it")


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


Scheduler = Callable[[float, Callable[[], None]], TimerHandle]  # (delay, callback), like loop.call_later


class Round0Gate:
    """Holds round 0 of each height until ``policy`` lets it start, then calls ``start_round0``.

    ``hold`` at each new height; ``txs_ready`` whenever a transaction is admitted;
    ``peer_started`` when another validator's proposal or vote of the height arrives. Time
    comes from ``clock`` and timers from ``call_later``, both injectable for tests."""

    def __init__(self, policy: BlockPolicy, clock: Callable[[], float], call_later: Scheduler,
                 has_ready_txs: Callable[[], bool], start_round0: Callable[[], None]):
        self.policy = policy
        self._clock = clock
        self._call_later = call_later
        self._has_ready_txs = has_ready_txs
        self._start_round0 = start_round0
        self.held = False
        self.round0_started: float | None = None  # when round 0 of the latest height started
        self._decided = 0.0
        self._timer: TimerHandle | None = None
        self._armed_for_txs = False  # the timer already counts with ready transactions

    def hold(self, block_needed: bool = False) -> None:
        """The engine waits to start round 0 of a new height; ``block_needed``: make a block
        after ``block_time`` whether or not transactions wait (the chain's first block, as
        CometBFT's proof block)."""
        self.held = True
        self._decided = self._clock()
        self._arm(block_needed or self._has_ready_txs())

    def txs_ready(self) -> None:
        if self.held and not self._armed_for_txs and self._has_ready_txs():
            self._arm(True)

    def peer_started(self) -> None:
        if self.held:
            self._open()

    def round0_in(self) -> float | None:
        """Seconds until round 0 starts, if it is held."""
        if not self.held:
            return None
        at = self.policy.round0_at(self._decided, self.round0_started, self._armed_for_txs)
        return max(at - self._clock(), 0.0)

    def cancel(self) -> None:
        self.held = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, txs_ready: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_for_txs = txs_ready
        at = self.policy.round0_at(self._decided, self.round0_started, txs_ready)
        self._timer = self._call_later(max(at - self._clock(), 0.0), self._open)

    def _open(self) -> None:
        self.cancel()
        self.round0_started = self._clock()
        self._start_round0()
