"""Proposer rotation: smooth weighted round-robin over one period, the same on every call."""
from collections import Counter
from functools import reduce
from math import gcd

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.engine import Engine
from consensus.proposer import proposer, proposer_sequence
from tests.consensus_sim import CHAIN_ID, make_validators


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=8), st.integers(1, 20))
def test_frequencies_over_a_period_are_proportional_to_power(powers, scale):
    _, validators = make_validators([p * scale for p in powers])
    divisor = reduce(gcd, powers)
    sequence = proposer_sequence(validators)
    assert len(sequence) == sum(powers) // divisor
    counts = Counter(sequence)
    for validator, power in zip(validators.validators, powers):
        assert counts[validator.address] == power // divisor


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=6), st.integers(0, 10**6), st.integers(0, 50))
def test_same_answer_on_every_call_and_every_node(powers, height, round_):
    _, validators = make_validators(powers)
    sequence = proposer_sequence(validators)
    answer = proposer(validators, height, round_)
    assert answer == sequence[(height + round_) % len(sequence)]
    proposer_sequence.cache_clear()
    assert proposer(validators, height, round_) == answer
    engine = Engine(CHAIN_ID, None)
    engine.start_height(max(height, 1), validators)
    assert engine.proposer(height, round_) == answer


def test_equal_powers_rotate_in_set_order():
    _, validators = make_validators([5, 5, 5, 5])
    addresses = [v.address for v in validators.validators]
    assert [proposer(validators, 1, r) for r in range(4)] == addresses[1:] + addresses[:1]
    assert [proposer(validators, h, 0) for h in range(4)] == addresses


def test_heavier_validators_are_spread_out():
    _, validators = make_validators([3, 1, 1])
    a, b, c = (v.address for v in validators.validators)
    assert proposer_sequence(validators) == (a, b, a, c, a)
