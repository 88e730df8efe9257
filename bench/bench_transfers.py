"""Token transfers committed per second by one dev node, next to ed25519 verifications per second.

Starts a dev node process, admits and funds SENDERS accounts, signs TRANSFERS transfers beforehand,
submits them all over the HTTP API (wait=check, from a few client threads), and measures
the time from the first submission until the last one is committed. The ed25519 rate is
measured in the same run, and the result is also given as a ratio to it.

Reproduce: .venv/bin/python bench/bench_transfers.py [--transfers 3000] [--senders 30]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ed25519_rate import ed25519_verifications_per_second  # noqa: E402
from node.keys import KeyPair  # noqa: E402
from node.keystore import Keystore  # noqa: E402
from node.tx import CallPayload, Transaction  # noqa: E402
from testnet.devnode import DEV_PASSWORD, DevNode  # noqa: E402
from testnet.loadgen import fund  # noqa: E402

GAS = 200_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=3000)
    parser.add_argument("--senders", type=int, default=30)
    parser.add_argument("--block-interval", type=float, default=0.25)
    args = parser.parse_args()

    verify_rate = ed25519_verifications_per_second()
    with tempfile.TemporaryDirectory(prefix="flexledger-bench-") as tmp:
        node = DevNode(Path(tmp), block_interval=args.block_interval)
        node.init()
        node.start()
        try:
            client = node.client
            issuer = Keystore(node.home / "keys").load("issuer", DEV_PASSWORD)
            token = client.contracts()["token"]
            senders = [KeyPair.generate() for _ in range(args.senders)]
            fund(client, issuer, token, senders, 10**9)  # admitted as participants, and funded
            print(f"admitted and funded {len(senders)} senders; signing {args.transfers} transfers", flush=True)
            per_sender = -(-args.transfers // len(senders))
            txs = [Transaction("flexledger-dev", k.public_key, n, GAS,
                               CallPayload(token, "transfer", [senders[(i + 1) % len(senders)].address, 1])).signed(k)
                   for n in range(per_sender) for i, k in enumerate(senders)][:args.transfers]
            height_before = client.status()["height"]
            started = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda tx: client.submit(tx, wait="check"), txs))
            submitted = time.perf_counter() - started
            while client.status()["mempool_size"] > 0:
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
            height_after = client.status()["height"]
            failed = sum(client.get(f"/tx/{tx.hash.hex()}")["receipt"]["status"] != "ok" for tx in txs[-50:])
        finally:
            node.stop()
    rate = args.transfers / elapsed
    print(f"ed25519 verifications/s (this machine, this run): {verify_rate:,.0f}")
    print(f"transfers submitted over HTTP:  {args.transfers} in {submitted:.2f} s ({args.transfers / submitted:,.0f}/s)")
    print(f"transfers committed:            {args.transfers} in {elapsed:.2f} s over {height_after - height_before} blocks")
    print(f"committed transfers/s:          {rate:,.0f}")
    print(f"ratio to ed25519 verifications: {rate / verify_rate:.4f}")
    print(f"failed among the last 50:       {failed}")
    print("reproduce: .venv/bin/python bench/bench_transfers.py "
          f"--transfers {args.transfers} --senders {args.senders}")


if __name__ == "__main__":
    main()
