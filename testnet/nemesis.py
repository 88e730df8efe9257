"""The nemesis: a seeded schedule of every fault a local testnet can inject, at most f at a time.

As in Jepsen and CometBFT's e2e runner, faults are chosen at random from a seed and applied
to real processes. This module is the pure part: the fault state of a testnet, which faults
are allowed from it, and what each does to it. ``faultrun`` carries the faults out.

A node is *faulty* while it is killed, paused (SIGSTOP), or cut off from the largest group
of live nodes by a partition; a restarted node is a correct process (the liveness checker
counts it as crashed until its API answers). With n equal-power validators the chain must
stay live with ``f = (n - 1) // 3`` faulty. The schedule never exceeds f, with one
exception: a split into two halves (``split``), where no side has a quorum; the next fault
then is always ``heal``, and the liveness checker does not count the split's time.

Faults:

    kill N        SIGKILL               restart N   start a killed N, or kill and start a running one
    pause N       SIGSTOP               resume N    SIGCONT
    isolate N     N alone | the rest    split A|B   two halves, no quorum on either side
    heal          every link restored
    restart N + pause M after D s       N's catch-up (sync, then consensus at the head) while M freezes
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace

KILL, RESTART, PAUSE, RESUME, ISOLATE, SPLIT, HEAL, RESTART_PAUSE = (
    "kill", "restart", "pause", "resume", "isolate", "split", "heal", "restart+pause")
KINDS = (KILL, RESTART, PAUSE, RESUME, ISOLATE, SPLIT, HEAL, RESTART_PAUSE)
MAX_CATCH_UP_DELAY = 2.0  # seconds between the restart and the pause of RESTART_PAUSE


def tolerated(n: int) -> int:
    """f: how many of n equal-power validators may be faulty with the chain still live."""
    return (n - 1) // 3


@dataclass(frozen=True)
class Fault:
    kind: str
    nodes: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()  # ISOLATE and SPLIT: the partition's groups
    delay: float = 0.0  # RESTART_PAUSE: seconds between the restart and the pause

    def __str__(self) -> str:
        if self.groups:
            return f"{self.kind} {' | '.join(','.join(g) for g in self.groups)}"
        if self.kind == RESTART_PAUSE:
            return f"restart {self.nodes[0]}, pause {self.nodes[1]} {self.delay:.1f} s later"
        return " ".join((self.kind, *self.nodes))


@dataclass(frozen=True)
class FaultState:
    """What is wrong with a testnet of ``names`` now."""

    names: tuple[str, ...]
    killed: frozenset[str] = frozenset()
    paused: frozenset[str] = frozenset()
    groups: tuple[tuple[str, ...], ...] = ()  # the partition; empty when every link is up

    def running(self) -> list[str]:
        return [n for n in self.names if n not in self.killed and n not in self.paused]

    def faulty(self) -> frozenset[str]:
        """Killed, paused, and cut off from the partition group with the most live nodes."""
        live = self.running()
        if self.groups:
            connected = max(([n for n in g if n in live] for g in self.groups), key=len)
        else:
            connected = live
        return frozenset(self.names) - frozenset(connected)

    def quorum_lost(self) -> bool:
        return len(self.faulty()) > tolerated(len(self.names))


def apply(state: FaultState, fault: Fault) -> FaultState:
    """The fault state after ``fault``."""
    kind, nodes = fault.kind, frozenset(fault.nodes)
    if kind == KILL:
        return replace(state, killed=state.killed | nodes, paused=state.paused - nodes)
    if kind == RESTART:
        return replace(state, killed=state.killed - nodes, paused=state.paused - nodes)
    if kind == PAUSE:
        return replace(state, paused=state.paused | nodes)
    if kind == RESUME:
        return replace(state, paused=state.paused - nodes)
    if kind in (ISOLATE, SPLIT):
        return replace(state, groups=fault.groups)
    if kind == HEAL:
        return replace(state, groups=())
    if kind == RESTART_PAUSE:
        restarted, frozen = fault.nodes
        return replace(state, killed=state.killed - {restarted}, paused=(state.paused - {restarted}) | {frozen})
    raise ValueError(f"unknown fault kind {kind!r}")


def candidates(state: FaultState, rng: random.Random) -> list[Fault]:
    """Every fault allowed from ``state``: after it at most f are faulty (a split only from a
    fault-free state); after a split only ``heal``. During a partition, only the isolated node
    may crash or restart (pausing a node would keep it from hearing the heal)."""
    if state.quorum_lost():
        return [Fault(HEAL)] if state.groups else []
    names, f = state.names, tolerated(len(state.names))
    running = state.running()
    found: list[Fault] = []
    if state.groups:
        alone = [g[0] for g in state.groups if len(g) == 1]
        found += [Fault(KILL, (n,)) for n in alone if n in running]
        found += [Fault(RESTART, (n,)) for n in alone]
        found.append(Fault(HEAL))
        return [c for c in found if len(apply(state, c).faulty()) <= f]
    found += [Fault(KILL, (n,)) for n in names if n not in state.killed]
    found += [Fault(RESTART, (n,)) for n in names]
    found += [Fault(PAUSE, (n,)) for n in running]
    found += [Fault(RESUME, (n,)) for n in sorted(state.paused)]
    found += [Fault(RESTART_PAUSE, (n, m), delay=round(rng.uniform(0, MAX_CATCH_UP_DELAY), 1))
              for n in names for m in running if m != n]
    if not state.killed and not state.paused:
        found += [Fault(ISOLATE, groups=((n,), tuple(m for m in names if m != n))) for n in names]
        shuffled = list(names)
        rng.shuffle(shuffled)
        half = len(names) // 2
        found.append(Fault(SPLIT, groups=(tuple(sorted(shuffled[:half])), tuple(sorted(shuffled[half:])))))
    return [c for c in found if c.kind == SPLIT or len(apply(state, c).faulty()) <= f]


def choose(state: FaultState, rng: random.Random) -> Fault:
    """The next fault: a kind first (so that rare kinds are as likely as common ones), then one of its faults."""
    allowed = candidates(state, rng)
    kinds = sorted({c.kind for c in allowed}, key=KINDS.index)
    kind = rng.choice(kinds)
    return rng.choice([c for c in allowed if c.kind == kind])


def recovery(state: FaultState) -> list[Fault]:
    """The faults that undo ``state``: resume the paused, start the killed, heal the links."""
    steps = [Fault(RESUME, (n,)) for n in sorted(state.paused)]
    steps += [Fault(RESTART, (n,)) for n in sorted(state.killed)]
    if state.groups:
        steps.append(Fault(HEAL))
    return steps


class Schedule:
    """A seeded stream of faults, each with the seconds to wait before it."""

    def __init__(self, seed: int, min_gap: float = 0.5, max_gap: float = 8.0):
        self._rng = random.Random(seed)
        self.min_gap, self.max_gap = min_gap, max_gap

    def next(self, state: FaultState) -> tuple[float, Fault]:
        """(seconds to wait, fault allowed from ``state``)."""
        gap = round(self._rng.uniform(self.min_gap, self.max_gap), 2)
        return gap, choose(state, self._rng)
