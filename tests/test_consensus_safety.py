"""Safety over many simulated schedules: honest nodes never decide different blocks at one
height, and every commit certificate and piece of evidence they produce is valid.

Hypothesis draws the seed, the validator powers (4 or 7 validators), Byzantine validators
of every kind holding less than 1/3 of the power, message delay, loss (for good when GST
never comes), duplication, partitions that the Byzantine validators are never cut off by,
slow block checks, and invalid blocks from a Byzantine proposer. Liveness is not asserted here: GST may never come.
"""
import math
import random

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.consensus_sim import BYZANTINE_KINDS, Network, Partition, Simulation

EXAMPLES = 150
HEIGHTS = 4


def byzantine_for(powers: list[int], kinds: list[str], rng: random.Random) -> dict[int, str]:
    """Byzantine validators, of the given kinds, holding less than 1/3 of the power."""
    chosen: dict[int, str] = {}
    order = rng.sample(range(len(powers)), len(powers))
    for index, kind in zip(order, kinds):
        if 3 * (sum(powers[i] for i in chosen) + powers[index]) < sum(powers):
            chosen[index] = kind
    return chosen


def partitions_for(n: int, byzantine: dict[int, str], cuts: list[tuple[float, float]],
                   rng: random.Random) -> tuple[Partition, ...]:
    """Splits of the honest validators in two; Byzantine ones talk to everybody."""
    honest = [i for i in range(n) if i not in byzantine]
    result = []
    for start, length in cuts:
        side = set(rng.sample(honest, rng.randint(1, len(honest) - 1)))
        result.append(Partition((frozenset(side | set(byzantine)), frozenset(set(range(n)) - side)), start,
                                start + length))
    return tuple(result)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1),
       powers=st.sampled_from([4, 7]).flatmap(lambda n: st.lists(st.sampled_from([1, 1, 2, 3]), min_size=n,
                                                                  max_size=n)),
       kinds=st.lists(st.sampled_from(BYZANTINE_KINDS), min_size=2, max_size=2),
       max_delay=st.floats(0.01, 4.0), loss=st.floats(0.0, 0.5), duplicate=st.floats(0.0, 0.3),
       gst=st.one_of(st.floats(0.0, 40.0), st.just(math.inf)),
       cuts=st.lists(st.tuples(st.floats(0.0, 30.0), st.floats(0.5, 10.0)), max_size=3),
       check_delay=st.sampled_from([0.0, 0.2, 1.5]), invalid=st.booleans())
def test_honest_nodes_never_decide_different_blocks(seed, powers, kinds, max_delay, loss, duplicate, gst, cuts,
                                                    check_delay, invalid):
    rng = random.Random(seed)
    byzantine = byzantine_for(powers, kinds, rng)
    network = Network(delay=(0.001, max_delay), loss=loss, duplicate=duplicate, gst=gst, bound=0.2,
                      partitions=partitions_for(len(powers), byzantine, cuts, rng))
    invalid_proposers = frozenset(list(byzantine)[:1] if invalid else [])
    sim = Simulation(powers, seed=seed, byzantine=byzantine, network=network, check_delay=check_delay,
                     invalid_proposers=invalid_proposers)
    sim.run(HEIGHTS, until=min(gst, 40.0) + 60.0)
    sim.check_safety()
    event(f"heights decided by every honest node: {min(len(node.decisions) for node in sim.honest)}")
