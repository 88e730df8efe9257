"""A nemesis run: seeded faults against a local testnet under load, then safety and liveness checks.

For ``seconds``, while transfers and a market session run, the nemesis (``nemesis.py``)
kills, restarts, pauses, resumes, isolates and splits validators at random moments from a
seed, at most f faulty at a time. Then every fault is undone, and the checkers confirm:

- safety: no fork, every acknowledged transfer committed on every node, token supply conserved;
- liveness (``liveness.py``): while at most f were faulty, a new block followed the previous
  block or the last fault change within ``LIVENESS_BOUND`` seconds; every restarted node
  reached the head it saw on coming up within ``CATCH_UP_BOUND`` seconds (unless a new fault
  hit it first); after the last fault every node reached the same head.

    python -m testnet.faultrun --seconds 300 --seed 7       # what `make soak` runs
    python -m testnet.faultrun --seconds 20 --seed 1 2 3    # several short runs, one testnet each
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from gridoracle.setup import ORACLE_FUNDS
from market.client import MarketClient
from node.keys import KeyPair
from node.keystore import Keystore
from testnet import nemesis
from testnet.invariants import check_acknowledged, check_no_fork, check_supply
from testnet.layout import DEFAULT_PASSWORD, ISSUER_SUPPLY, generate
from testnet.liveness import Monitor, Stall, Timeline, catch_ups, longest_stall, states_at
from testnet.loadgen import LoadGenerator, fund
from testnet.manager import Testnet, TestnetError
from testnet.marketload import MarketActor, MarketTally

FUNDING = 10**9
LIVENESS_BOUND = 5.0  # seconds: the longest wait for a block while at most f are faulty (docs/architecture.md, "Testnets")
CATCH_UP_BOUND = 15.0  # seconds from a restarted node's API answering to it having the head it saw then
RECOVERY_TIMEOUT = 90.0  # seconds for every node to reach the head once every fault is undone
AFTER_FAULTS = 8.0  # seconds observed after the last fault was undone


@dataclass
class FaultRunReport:
    seed: int
    faults: list[str]
    acknowledged: int
    errors: dict[str, int]
    market: MarketTally
    first_height: int
    final_height: int
    stall: Stall | None
    stall_cause: str
    catch_ups: list[tuple[str, float | None]]
    problems: list[str] = field(default_factory=list)  # liveness violations

    def summary(self) -> str:
        kinds = Counter(f.split(" ", 1)[0].rstrip(",") for f in self.faults)
        times = [t for _, t in self.catch_ups if t is not None]
        lines = [f"seed {self.seed}: {len(self.faults)} faults ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})",
                 f"  heights {self.first_height} -> {self.final_height}; {self.acknowledged} acknowledged transfers, "
                 f"client errors {self.errors}",
                 f"  market: {self.market.opened} sessions opened, {self.market.cleared} cleared "
                 f"({self.market.volume_wh} Wh traded), {len(self.market.abandoned)} abandoned"
                 + "".join(f"\n    abandoned: {why}" for why in self.market.abandoned)]
        if self.stall is not None:
            lines.append(f"  longest stall with at most f faulty: {self.stall.seconds:.1f} s waiting for height "
                         f"{self.stall.height} after {self.stall.after} (bound {LIVENESS_BOUND:g} s)")
            lines.append("    " + self.stall_cause.replace("\n", "\n    "))
        if times:
            lines.append(f"  catch-up of restarted nodes: {len(times)} restarts, median {statistics.median(times):.1f} s, "
                         f"longest {max(times):.1f} s (bound {CATCH_UP_BOUND:g} s)")
        lines += [f"  LIVENESS VIOLATION: {p}" for p in self.problems]
        return "\n".join(lines)


class Nemesis:
    """Carries out the schedule's faults on a testnet and records each change in the timeline."""

    def __init__(self, net: Testnet, timeline: Timeline, log=print):
        self.net, self.timeline, self.log = net, timeline, log
        self.names = tuple(n.name for n in net.layout.nodes)
        self.state = nemesis.FaultState(self.names)
        self.booting: set[str] = set()  # restarted, API not answering yet: counted as crashed
        self._lock = threading.Lock()

    def live(self) -> bool:
        return len(self.state.faulty() | self.booting) <= nemesis.tolerated(len(self.names))

    def _changed(self, what: str) -> None:
        with self._lock:
            self.timeline.change(what, self.live())

    def on_answer(self, node: str) -> None:
        """The monitor heard from ``node``: a restarted node's crash ends when its API answers."""
        with self._lock:
            if node not in self.booting:
                return
            self.booting.discard(node)
            now = time.monotonic()
            self.timeline.change(f"{node} up", self.live(), at=now)

    def apply(self, fault: nemesis.Fault) -> None:
        if fault.kind == nemesis.RESTART_PAUSE:
            restarted, frozen = fault.nodes
            self.apply(nemesis.Fault(nemesis.RESTART, (restarted,)))
            time.sleep(fault.delay)
            self.apply(nemesis.Fault(nemesis.PAUSE, (frozen,)))
            return
        for node in fault.nodes:
            if fault.kind in (nemesis.KILL, nemesis.PAUSE):
                self.timeline.downs.append((time.monotonic(), node))
            {nemesis.KILL: self.net.kill, nemesis.RESTART: self._restart, nemesis.PAUSE: self.net.pause,
             nemesis.RESUME: self.net.resume}[fault.kind](node)
        if fault.groups:
            self.net.partition([list(g) for g in fault.groups])
        elif fault.kind == nemesis.HEAL:
            self.net.heal()
        with self._lock:
            self.state = nemesis.apply(self.state, fault)
        self._changed(str(fault))

    def _restart(self, node: str) -> None:
        with self._lock:
            self.booting.add(node)
        self.net.restart(node)
        self.timeline.restarts.append((time.monotonic(), node))


def describe_stall(timeline: Timeline, stall: Stall, faults_then: str) -> str:
    """What each node was doing at the end of the stall, from its last ``/status`` before it."""
    lines = [f"last fault change: {faults_then or 'none'}"]
    for node, snap in sorted(states_at(timeline, stall.end).items()):
        c = snap.consensus
        votes = "; ".join(f"{kind} {','.join(c.get(kind) or {}) or '-'} (missing {','.join(c.get('missing_' + kind) or []) or '-'})"
                          for kind in ("prevotes", "precommits"))
        lines.append(f"{node}: height {c.get('height')} round {c.get('round')} {c.get('step')}, {votes} "
                     f"[{stall.end - snap.time:.1f} s before]")
    return "\n".join(lines)


def stopped_on_their_own(net: Testnet) -> list[str]:
    """Nodes that stopped themselves during the run (a halt is never a fault the nemesis injects)."""
    found = []
    for entry in net.layout.nodes:
        log = net.process(entry.name).log_file.read_text(errors="replace")
        found += [f"{entry.name} stopped itself: {line}" for line in log.splitlines() if line.startswith("error: ")]
    return found


def check_liveness(timeline: Timeline, start: float, end: float) -> tuple[Stall | None, list[str]]:
    problems = []
    stall = longest_stall(timeline, start, end)
    if stall is not None and stall.seconds > LIVENESS_BOUND:
        problems.append(f"no block for {stall.seconds:.1f} s (height {stall.height}) after {stall.after} "
                        f"with at most f faulty")
    for node, seconds in catch_ups(timeline):
        if seconds is not None and seconds > CATCH_UP_BOUND:
            problems.append(f"{node} took {seconds:.1f} s to catch up after a restart")
    return stall, problems


def run(net: Testnet, seconds: float, seed: int, senders: int = 6, log=print) -> FaultRunReport:
    """The nemesis run on a testnet that is up; raises InvariantViolation on a safety violation."""
    names = [n.name for n in net.layout.nodes]
    client = net.client(names[0])
    token = client.contracts()["token"]
    issuer = Keystore(net.layout.wallet / "keys").load("issuer", DEFAULT_PASSWORD)
    rng = random.Random(seed)
    accounts = [KeyPair(rng.randbytes(32)) for _ in range(senders)]
    fund(client, issuer, token, accounts, FUNDING)
    urls = [n.api_url for n in net.layout.nodes]
    market = MarketActor.set_up(MarketClient(net.client(names[0])), issuer, urls, seed)
    timeline = Timeline()
    shell = Nemesis(net, timeline, log)
    monitor = Monitor({n.name: n.api_url for n in net.layout.nodes}, timeline, shell.on_answer)
    load = LoadGenerator(urls, net.layout.chain_id, token, accounts, seed)
    monitor.start()
    first_height = net.height(names[0]) or 0
    started = time.monotonic()
    load.start()
    market.start()
    schedule = nemesis.Schedule(seed)
    faults: list[str] = []
    try:
        while True:
            gap, fault = schedule.next(shell.state)
            if time.monotonic() + gap > started + seconds:
                break
            time.sleep(gap)
            try:
                shell.apply(fault)
                faults.append(str(fault))
            except TestnetError as exc:
                faults.append(f"skipped {fault}: {exc}")
            log(f"  {time.monotonic() - started:6.1f} s  {faults[-1]}")
        for fault in nemesis.recovery(shell.state):
            shell.apply(fault)
            log(f"  {time.monotonic() - started:6.1f} s  {fault} (undo)")
        net.wait_for_height(timeline.head() + 1, RECOVERY_TIMEOUT)
        time.sleep(AFTER_FAULTS)
        transfers = load.stop()
        tally = market.stop()
    finally:
        monitor.stop()
        load.stop()
    end = time.monotonic()
    clients = {name: net.client(name) for name in names}
    top = max(c.get("/health")["height"] for c in clients.values())
    net.wait_for_height(top, 60)
    final = check_no_fork(clients)
    check_acknowledged(clients, transfers.acknowledged)
    oracle = client.query(client.contracts()["grid"], "oracle")  # funded at genesis for its flexibility escrows
    holders = [issuer.address, oracle] + [a.address for a in accounts] + market.holders()
    for c in clients.values():
        check_supply(c, token, holders, ISSUER_SUPPLY + ORACLE_FUNDS)
    stall, problems = check_liveness(timeline, started, end)
    problems += stopped_on_their_own(net)
    cause = ""
    if stall is not None:
        then = [c.what for c in timeline.changes if c.time <= stall.end]
        cause = describe_stall(timeline, stall, then[-1] if then else "")
    return FaultRunReport(seed, faults, len(transfers.acknowledged), dict(transfers.errors), tally, first_height,
                          final, stall, cause, catch_ups(timeline), problems)


def main() -> int:
    parser = argparse.ArgumentParser(description="Seeded nemesis run on a local testnet: faults under load, then "
                                                 "safety and liveness checks")
    parser.add_argument("--seconds", type=float, default=300, help="how long faults are injected (default 300)")
    parser.add_argument("--seed", type=int, nargs="+", default=[7], help="one run per seed, each on a new testnet")
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="run each seed's testnet in DIR/seed-N and keep it (node logs, WALs) for a post-mortem")
    args = parser.parse_args()
    failed = False
    for seed in args.seed:
        with tempfile.TemporaryDirectory(prefix="flexledger-soak-") as tmp:
            directory = args.keep / f"seed-{seed}" if args.keep else Path(tmp)
            net = Testnet(generate(directory, args.validators))
            try:
                net.up(timeout=90, oracle=False)
                print(f"nemesis run: {args.seconds:g} s of faults, seed {seed}, {args.validators} validators "
                      f"in {directory}", flush=True)
                report = run(net, args.seconds, seed, log=lambda line: print(line, flush=True))
            finally:
                net.down()
        print("safety holds: no fork, every acknowledged transfer on every node, supply conserved")
        print(report.summary(), flush=True)
        failed |= bool(report.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
