"""Proposer rotation: who proposes at (height, round), the same answer on every node.

Voting powers are divided by their greatest common divisor; the period is the sum of the
reduced powers. One period of smooth weighted round-robin (the nginx scheme) gives the
sequence: at each of ``period`` steps every validator's credit grows by its reduced power,
the validator with the most credit (the first in set order on a tie) is picked and its
credit drops by the period. Over one period each validator is picked exactly its reduced
power times, spread evenly. ``proposer(height, round) = sequence[(height + round) % period]``,
so a failed round moves to the next proposer and consecutive heights rotate too.

The sequence costs O(period * validators) to build and is cached per validator set.
"""
from __future__ import annotations

from functools import lru_cache, reduce
from math import gcd

from consensus.types import ValidatorSet


@lru_cache(maxsize=16)
def proposer_sequence(validators: ValidatorSet) -> tuple[str, ...]:
    """Addresses in proposing order over one period of ``validators``."""
    divisor = reduce(gcd, (v.power for v in validators.validators))
    powers = [v.power // divisor for v in validators.validators]
    addresses = [v.address for v in validators.validators]
    period = sum(powers)
    credit = [0] * len(powers)
    sequence = []
    for _ in range(period):
        credit = [c + p for c, p in zip(credit, powers)]
        chosen = credit.index(max(credit))
        credit[chosen] -= period
        sequence.append(addresses[chosen])
    return tuple(sequence)


def proposer(validators: ValidatorSet, height: int, round_: int) -> str:
    """Address of the validator that proposes at (height, round)."""
    sequence = proposer_sequence(validators)
    return sequence[(height + round_) % len(sequence)]
