"""Benchmark for node.smt: bulk build, 1,000-key update batches (update + root),
proof generation and verification.

Every rate is also shown as a ratio to this machine's sha256 rate on 64-byte
inputs, measured in the same run, so figures compare across machines.

    .venv/bin/python bench/bench_smt.py [--n 100000]
"""

import argparse
import hashlib
import os
import random
import statistics
import sys
import time

from node.smt import SparseMerkleTree, verify_proof

BATCH = 1_000
BATCHES = 20
PROOFS = 10_000


def sha256_rate(count: int = 1_000_000) -> float:
    data = bytes(64)
    sha256 = hashlib.sha256
    start = time.perf_counter()
    for _ in range(count):
        sha256(data).digest()
    return count / (time.perf_counter() - start)


def report(label: str, ops: int, seconds: float, unit: str, hash_rate: float) -> None:
    rate = ops / seconds
    print(
        f"{label:<34} {ops:>9,} {unit} in {seconds:8.4f} s = {rate:>11,.0f} {unit}/s"
        f"  ({rate / hash_rate:.4f}x sha256 rate, {hash_rate / rate:6.1f} hashes' time each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="entries in the tree (default 100,000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    def random_key() -> bytes:
        return rng.randbytes(20)

    hash_rate = sha256_rate()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    print(f"{'sha256 of 64-byte inputs':<34} {hash_rate:>11,.0f} hashes/s")

    state = {random_key(): rng.randbytes(32) for _ in range(args.n)}
    start = time.perf_counter()
    tree = SparseMerkleTree.from_items(state.items())
    tree.root()
    report(f"from_items + root, n={args.n:,}", args.n, time.perf_counter() - start, "entries", hash_rate)

    # Each batch: half overwrites of existing keys, a quarter deletes, a quarter inserts.
    times = []
    for _ in range(BATCHES):
        existing = rng.sample(list(state), BATCH * 3 // 4)
        changes: dict[bytes, bytes | None] = {k: rng.randbytes(32) for k in existing[: BATCH // 2]}
        changes.update({k: None for k in existing[BATCH // 2 :]})
        changes.update({random_key(): rng.randbytes(32) for _ in range(BATCH - len(changes))})
        start = time.perf_counter()
        tree.update(changes)
        tree.root()
        times.append(time.perf_counter() - start)
        for k, v in changes.items():
            if v is None:
                del state[k]
            else:
                state[k] = v
    report(f"update {BATCH:,} keys + root (median)", BATCH, statistics.median(times), "keys", hash_rate)
    print(f"{'':<34} batch times: min {min(times):.4f} s, max {max(times):.4f} s over {BATCHES} batches")

    root = tree.root()
    sample = [(k, state[k]) for k in rng.sample(list(state), PROOFS // 2)]
    sample += [(random_key(), None) for _ in range(PROOFS // 2)]
    start = time.perf_counter()
    proofs = [tree.prove(k) for k, _ in sample]
    report("prove (half absent)", PROOFS, time.perf_counter() - start, "proofs", hash_rate)
    start = time.perf_counter()
    ok = sum(verify_proof(root, k, v, p) for (k, v), p in zip(sample, proofs))
    report("verify (half absent)", PROOFS, time.perf_counter() - start, "proofs", hash_rate)
    assert ok == PROOFS, f"only {ok} of {PROOFS} proofs verified"
    print(f"mean proof length {statistics.mean(len(p.siblings) for p in proofs):.1f} siblings")
    print(f"reproduce: .venv/bin/python bench/bench_smt.py --n {args.n} --seed {args.seed}")


if __name__ == "__main__":
    main()
