"""A seeded randomized fault run against a local testnet, then an invariant check.

For ``seconds``, while the load generator submits transfers, a seeded random schedule kills,
restarts, pauses, resumes, partitions and heals nodes. Then every fault is undone, the chain
must finalize again, and the invariant checker confirms: no fork, every acknowledged
transfer committed on every node, token supply conserved.

    python -m testnet.faultrun --seconds 300 --seed 7     # what `make soak` runs
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from node.keys import KeyPair
from node.keystore import Keystore
from testnet.invariants import check_acknowledged, check_no_fork, check_supply
from gridoracle.setup import ORACLE_FUNDS
from testnet.layout import DEFAULT_PASSWORD, ISSUER_SUPPLY, generate
from testnet.loadgen import LoadGenerator, fund
from testnet.manager import Testnet, TestnetError

FUNDING = 10**9


@dataclass
class FaultRunReport:
    faults: list[str]
    acknowledged: int
    errors: dict[str, int]
    final_height: int


def _inject(net: Testnet, rng: random.Random, names: list[str], paused: set[str], killed: set[str]) -> str:
    name = rng.choice(names)
    choice = rng.choice(["kill", "restart", "pause", "resume", "partition", "heal"])
    if choice == "kill" and name not in killed:
        if name in paused:
            paused.discard(name)
        net.kill(name)
        killed.add(name)
    elif choice == "restart":
        if name in paused:
            net.resume(name)
            paused.discard(name)
        net.restart(name)
        killed.discard(name)
    elif choice == "pause" and name not in killed and name not in paused:
        net.pause(name)
        paused.add(name)
    elif choice == "resume" and paused:
        name = sorted(paused)[0]
        net.resume(name)
        paused.discard(name)
    elif choice == "partition":
        shuffled = names[:]
        rng.shuffle(shuffled)
        cut = rng.randint(1, len(names) - 1)
        live = [n for n in shuffled if n not in killed and n not in paused]
        groups = [[n for n in shuffled[:cut] if n in live], [n for n in shuffled[cut:] if n in live]]
        net.partition([g for g in groups if g])
        return f"partition {' | '.join(','.join(g) for g in groups)}"
    elif choice == "heal":
        net.heal()
    else:
        return "nothing"
    return f"{choice} {name}"


def run(net: Testnet, seconds: float, seed: int, senders: int = 6, log=print) -> FaultRunReport:
    names = [n.name for n in net.layout.nodes]
    rng = random.Random(seed)
    client = net.client(names[0])
    token = client.contracts()["token"]
    issuer = Keystore(net.layout.wallet / "keys").load("issuer", DEFAULT_PASSWORD)
    accounts = [KeyPair(rng.randbytes(32)) for _ in range(senders)]
    fund(client, issuer, token, accounts, FUNDING)
    load = LoadGenerator([n.api_url for n in net.layout.nodes], net.layout.chain_id, token, accounts, seed)
    load.start()
    paused: set[str] = set()
    killed: set[str] = set()
    faults = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(0.5, 3.0))
        try:
            faults.append(_inject(net, rng, names, paused, killed))
        except TestnetError as exc:
            faults.append(f"skipped: {exc}")
        log(f"  fault: {faults[-1]}")
    for name in sorted(paused):
        net.resume(name)
    for name in sorted(killed):
        net.start(name)
    net.heal()
    start = max(net.height(n) or 0 for n in names)
    net.wait_for_height(start + 2, 90)
    result = load.stop()
    clients = {name: net.client(name) for name in names}
    top = max(c.get("/health")["height"] for c in clients.values())
    net.wait_for_height(top, 60)
    final = check_no_fork(clients)
    check_acknowledged(clients, result.acknowledged)
    first = next(iter(clients.values()))
    oracle = first.query(first.contracts()["grid"], "oracle")  # funded at genesis for its flexibility escrows
    holders = [issuer.address, oracle] + [a.address for a in accounts]
    for c in clients.values():
        check_supply(c, token, holders, ISSUER_SUPPLY + ORACLE_FUNDS)
    return FaultRunReport(faults, len(result.acknowledged), dict(result.errors), final)


def main() -> int:
    parser = argparse.ArgumentParser(description="Seeded randomized fault run on a local 4-validator testnet")
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--validators", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flexledger-soak-") as tmp:
        net = Testnet(generate(Path(tmp), args.validators))
        try:
            net.up(timeout=90, oracle=False)
            print(f"fault run: {args.seconds:g} s, seed {args.seed}", flush=True)
            report = run(net, args.seconds, args.seed)
        finally:
            net.down()
    print(f"invariants hold: no fork up to height {report.final_height}, {report.acknowledged} acknowledged "
          f"transfers on every node, supply conserved; {len(report.faults)} faults; client errors {report.errors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
