"""Finalized token transfers per second and commit latency on a 4-validator loopback testnet.

Funds SENDERS accounts, signs TRANSFERS transfers beforehand, submits each sender's
transfers to one node (``wait=check``), and watches the blocks finalized by the DSO node to
see when each transfer is committed. Latency is from submission to the moment the block
holding it is seen. The yardstick, measured in the same run: ed25519 verifications per
second on one core x cores / validators, the most transfers the machine could admit if
signature checks were all the validators did (each validator verifies every transfer).

Reproduce: .venv/bin/python bench/bench_testnet.py [--transfers 3000] [--senders 100]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ed25519_rate import ed25519_verifications_per_second  # noqa: E402
from node.keys import KeyPair  # noqa: E402
from node.keystore import Keystore  # noqa: E402
from node.tx import CallPayload, Transaction  # noqa: E402
from testnet.layout import DEFAULT_PASSWORD, generate  # noqa: E402
from testnet.loadgen import TRANSFER_GAS, fund  # noqa: E402
from testnet.manager import Testnet  # noqa: E402


def watch_commits(client, committed: dict[bytes, float], stop: threading.Event, start_height: int) -> None:
    height = start_height
    while not stop.is_set():
        head = client.get("/health")["height"]
        while height < head:
            height += 1
            seen = time.monotonic()
            for tx_hash in client.get(f"/block/{height}", txs="hashes")["txs"]:
                committed[bytes.fromhex(tx_hash)] = seen
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=3000)
    parser.add_argument("--senders", type=int, default=100, help="each sender may have at most 64 pending")
    parser.add_argument("--validators", type=int, default=4)
    args = parser.parse_args()
    verify_rate = ed25519_verifications_per_second()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="flexledger-bench-") as tmp:
        net = Testnet(generate(Path(tmp), args.validators))
        try:
            net.up(timeout=90, oracle=False)
            clients = [net.client(n.name) for n in net.layout.nodes]
            token = clients[0].contracts()["token"]
            issuer = Keystore(net.layout.wallet / "keys").load("issuer", DEFAULT_PASSWORD)
            senders = [KeyPair.generate() for _ in range(args.senders)]
            fund(clients[0], issuer, token, senders, 10**9)
            per_sender = -(-args.transfers // args.senders)
            plan = [[Transaction(net.layout.chain_id, k.public_key, n, TRANSFER_GAS,
                                 CallPayload(token, "transfer", [senders[(i + 1) % len(senders)].address, 1])).signed(k)
                     for n in range(per_sender)] for i, k in enumerate(senders)]
            total = sum(len(p) for p in plan)
            print(f"{args.validators} validators up; {total} transfers signed; submitting", flush=True)
            committed: dict[bytes, float] = {}
            submitted: dict[bytes, float] = {}
            stop = threading.Event()
            watcher = threading.Thread(target=watch_commits, args=(clients[0], committed, stop,
                                                                   clients[0].get("/health")["height"]))
            watcher.start()

            def submit_all(index: int) -> None:
                client = clients[index % len(clients)]
                for tx in plan[index]:
                    submitted[tx.hash] = time.monotonic()
                    client.submit(tx, wait="check")

            started = time.monotonic()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(submit_all, range(len(plan))))
            deadline = time.monotonic() + 300
            while len([h for h in submitted if h in committed]) < total and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()
            watcher.join()
            done = [h for h in submitted if h in committed]
            elapsed = max(committed[h] for h in done) - started
            latencies = sorted(committed[h] - submitted[h] for h in done)
        finally:
            net.down()
    rate = len(done) / elapsed
    limit = verify_rate * cores / args.validators
    print(f"ed25519 verifications/s on one core (same run): {verify_rate:,.0f}; cores: {cores}")
    print(f"signature-verification limit (rate x cores / validators): {limit:,.0f} transfers/s")
    print(f"finalized transfers: {len(done)}/{total} in {elapsed:.2f} s = {rate:,.0f}/s "
          f"({rate / limit:.3f} of the limit)")
    print(f"commit latency: p50 {statistics.median(latencies):.3f} s, "
          f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.3f} s")
    print(f"reproduce: .venv/bin/python bench/bench_testnet.py --transfers {args.transfers} --senders {args.senders}")


if __name__ == "__main__":
    main()
