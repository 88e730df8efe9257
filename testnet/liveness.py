"""Liveness under faults: a timeline of a fault run, its longest stall, and catch-up times.

The monitor polls every node's ``/status`` (one thread per node: a paused node delays only
its own polls) and the fault run records each fault change. The checker's rule, after
Tendermint's liveness promise: while at most f validators are faulty, a new block is
finalized within a bound after the previous block *or* the last fault change, whichever is
later. A restarted node counts as crashed until its API answers; that moment is a change
too. Time while more than f are faulty (a 2|2 split, a restart while another node is
frozen) is not held to the bound.

``longest_stall`` and ``catch_ups`` are pure functions of the timeline.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from node.client import ClientError, NodeClient

POLL = 0.2  # seconds between a node's status polls
POLL_TIMEOUT = 1.0


@dataclass(frozen=True)
class Change:
    """A fault change at ``time``; ``live`` is whether at most f are faulty after it."""

    time: float
    what: str
    live: bool


@dataclass(frozen=True)
class Snapshot:
    """One node's consensus state as its ``/status`` reported it."""

    time: float
    node: str
    height: int
    consensus: dict


@dataclass
class Timeline:
    """Everything a fault run observed, in monotonic seconds; safe to record from several threads."""

    changes: list[Change] = field(default_factory=list)
    first_seen: dict[int, float] = field(default_factory=dict)  # height -> when a node first had it
    snapshots: list[Snapshot] = field(default_factory=list)
    restarts: list[tuple[float, str]] = field(default_factory=list)  # a node's process was started again
    downs: list[tuple[float, str]] = field(default_factory=list)  # a node was killed or paused
    lock: threading.Lock = field(default_factory=threading.Lock)

    def change(self, what: str, live: bool, at: float | None = None) -> None:
        with self.lock:
            self.changes.append(Change(time.monotonic() if at is None else at, what, live))

    def observe(self, snapshot: Snapshot) -> None:
        with self.lock:
            self.snapshots.append(snapshot)
            for height in range(max(self.first_seen, default=0) + 1, snapshot.height + 1):
                self.first_seen[height] = snapshot.time

    def head(self) -> int:
        with self.lock:
            return max(self.first_seen, default=0)


@dataclass(frozen=True)
class Stall:
    """The longest wait for a block while at most f were faulty."""

    start: float  # the later of the previous block and the last change
    end: float  # the next block, change or the end of observation
    height: int  # the height being waited for
    after: str  # the change or block the wait started from

    @property
    def seconds(self) -> float:
        return self.end - self.start


def longest_stall(timeline: Timeline, start: float, end: float) -> Stall | None:
    """The longest interval within [start, end] with no new block and no fault change, while at
    most f were faulty; None if at most f were never faulty."""
    marks: list[tuple[float, str, bool | None, int]] = [(start, "the start", None, 0)]
    marks += [(c.time, c.what, c.live, -1) for c in timeline.changes if start <= c.time <= end]
    marks += [(t, f"block {h}", None, h) for h, t in timeline.first_seen.items() if start <= t <= end]
    marks.sort(key=lambda m: m[0])
    marks.append((end, "the end", None, 0))
    live = next((c.live for c in reversed(timeline.changes) if c.time < start), True)
    height = max((h for h, t in timeline.first_seen.items() if t < start), default=0)
    best: Stall | None = None
    for (t, what, changed, h), (t_next, _, _, _) in zip(marks, marks[1:]):
        live = live if changed is None else changed
        height = max(height, h)
        if live and (best is None or t_next - t > best.seconds):
            best = Stall(t, t_next, height + 1, what)
    return best


def catch_ups(timeline: Timeline) -> list[tuple[str, float | None]]:
    """For every restart: (node, seconds from starting its process to it having the head height
    of that moment), or None when it did not get there before its next fault or the end."""
    found = []
    for restarted, node in timeline.restarts:
        target = max((h for h, t in timeline.first_seen.items() if t <= restarted), default=0)
        next_down = min((t for t, n in timeline.downs + timeline.restarts if n == node and t > restarted),
                        default=float("inf"))
        reached = next((s.time for s in timeline.snapshots
                        if s.node == node and restarted <= s.time < next_down and s.height >= target), None)
        found.append((node, None if reached is None else reached - restarted))
    return found


def states_at(timeline: Timeline, moment: float) -> dict[str, Snapshot]:
    """Each node's last snapshot at or before ``moment``."""
    last: dict[str, Snapshot] = {}
    for snapshot in timeline.snapshots:
        if snapshot.time <= moment:
            last[snapshot.node] = snapshot
    return last


class Monitor:
    """Polls every node's ``/status`` into a timeline; ``on_answer(node)`` runs after each answer."""

    def __init__(self, urls: dict[str, str], timeline: Timeline, on_answer: Callable[[str], None]):
        self.urls, self.timeline, self.on_answer = urls, timeline, on_answer
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._poll, args=(name,), daemon=True) for name in urls]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(POLL_TIMEOUT + 1)

    def _poll(self, name: str) -> None:
        client = NodeClient(self.urls[name], timeout=POLL_TIMEOUT)
        while not self._stop.is_set():
            try:
                doc = client.status()
            except (ClientError, OSError):
                doc = None
            if doc is not None:
                self.timeline.observe(Snapshot(time.monotonic(), name, doc["height"], doc.get("consensus") or {}))
                self.on_answer(name)
            self._stop.wait(POLL)
