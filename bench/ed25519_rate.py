"""The machine's ed25519 verification rate: the yardstick other benchmarks are divided by."""
from __future__ import annotations

import time

from node.keys import KeyPair, verify


def ed25519_verifications_per_second(seconds: float = 1.0) -> float:
    key = KeyPair.generate()
    message = b"x" * 200
    signature = key.sign(message)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(200):
            verify(key.public_key, message, signature)
        count += 200
    return count / (time.perf_counter() - started)
