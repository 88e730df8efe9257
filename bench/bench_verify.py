"""What `wallet balance --verify` costs the wallet, as a ratio to one ed25519 verification.

In process, no network: a state of ``--n`` entries (token balances) proven by the sparse
Merkle tree, a header signed by a commit certificate of ``--validators`` validators of equal
power (all of them sign, as a live chain's certificates do), and the wallet's checks of
node/lightclient.py: the certificate against the trusted set, the state proof against the
header, and both together as one verified read does them. Also a validator-set change
followed (the certificate checked against the new set and the trusted set's share). Each
time is the median of ``--repeat`` runs; the yardstick, ed25519 verifications per second,
is measured in the same run (bench/ed25519_rate.py).

Reproduce: .venv/bin/python bench/bench_verify.py --n 100000 --validators 4
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ed25519_rate import ed25519_verifications_per_second  # noqa: E402
from consensus.types import PRECOMMIT, Commit, CommitSignature, Validator, ValidatorSet, vote_sign_bytes  # noqa: E402
from node.block import Header  # noqa: E402
from node.encoding import encode  # noqa: E402
from node.keys import KeyPair  # noqa: E402
from node.lightclient import TrustedSet, verify_commit, verify_header, verify_state_entry  # noqa: E402
from node.smt import SparseMerkleTree  # noqa: E402

CHAIN_ID = "bench-verify"


def _median_seconds(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _signed_header(keys: list[KeyPair], validators: ValidatorSet, state_root: bytes) -> tuple[Header, Commit]:
    header = Header(CHAIN_ID, 1000, 1, b"\x01" * 32, b"\x02" * 32, state_root, b"\x03" * 32, validators.hash(),
                    keys[0].address)
    message = vote_sign_bytes(CHAIN_ID, PRECOMMIT, header.height, 0, header.hash)
    return header, Commit(header.height, 0, header.hash,
                          tuple(CommitSignature(k.address, k.sign(message)) for k in keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="state entries")
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    keys = [KeyPair.generate() for _ in range(args.validators)]
    validators = ValidatorSet(tuple(Validator(f"v{i}", k.public_key, 10, "dso" if i == 0 else "aggregator")
                                    for i, k in enumerate(keys)))
    tree = SparseMerkleTree.from_items((b"stor:balance:%d" % i, encode(i)) for i in range(args.n))
    key, value = b"stor:balance:4242", encode(4242)
    proof, root = tree.prove(key), tree.root()
    header, commit = _signed_header(keys, validators, root)
    trusted = TrustedSet(CHAIN_ID, 0, validators)
    newcomer = KeyPair.generate()
    changed = ValidatorSet(validators.validators[1:] + (Validator("new", newcomer.public_key, 10, "aggregator"),))
    changed_header, changed_commit = _signed_header(keys[1:] + [newcomer], changed, root)

    def verified_read():
        verify_header(trusted, header, commit, validators)
        verify_state_entry(header, root, key, value, proof)

    ed25519_rate = ed25519_verifications_per_second()
    one_signature = 1 / ed25519_rate
    rows = [
        ("state proof (sparse Merkle, %d siblings)" % len(proof.siblings),
         _median_seconds(lambda: verify_state_entry(header, root, key, value, proof), args.repeat)),
        ("commit certificate (%d signatures)" % len(keys),
         _median_seconds(lambda: verify_commit(CHAIN_ID, header, commit, validators), args.repeat)),
        ("verified balance read (certificate + proof)", _median_seconds(verified_read, args.repeat)),
        ("validator-set change followed", _median_seconds(
            lambda: verify_header(trusted, changed_header, changed_commit, changed), args.repeat)),
    ]
    print(f"state entries: {args.n:,}; validators: {args.validators}; median of {args.repeat}")
    print(f"ed25519 verifications/s, same run: {ed25519_rate:,.0f} ({one_signature * 1e6:.0f} µs each)")
    for what, seconds in rows:
        print(f"{what:48s} {seconds * 1e6:9.1f} µs  = {seconds / one_signature:5.2f} ed25519 verifications")


if __name__ == "__main__":
    main()
