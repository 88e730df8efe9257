"""Liveness: after GST, with every honest node connected and up to f validators crashed or
Byzantine, every honest node decides heights 1..K within a bounded simulated time.

The bound is generous on purpose: at GST nodes may sit in late rounds whose timeouts have
grown to the cap, and up to f rounds of a height may have a faulty proposer. Over 300
random runs like the property test below, the slowest needed 20 s after GST for three
heights.
"""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.consensus_sim import BYZANTINE_KINDS, EQUIVOCATE, MALICIOUS, SILENT, Network, Partition, Simulation

HEIGHTS = 3
AFTER_GST = 60.0  # simulated seconds


def test_all_honest_and_synchronous_decides_every_height_in_round_zero():
    sim = Simulation(7, seed=1)
    assert sim.run(10, until=10.0)
    sim.check_safety()
    assert all(d.round == 0 and not d.synced for node in sim.honest for d in node.decisions.values())


def test_crashed_proposers_only_cost_rounds():
    sim = Simulation(7, seed=2, byzantine={1: SILENT, 2: SILENT})
    assert sim.run(5, until=60.0)
    sim.check_safety()
    assert max(d.round for node in sim.honest for d in node.decisions.values()) >= 1


def test_weighted_validators_with_a_heavy_byzantine_proposer():
    sim = Simulation([3, 2, 2, 1, 1], seed=3, byzantine={0: MALICIOUS},
                     network=Network(delay=(0.001, 0.5), loss=0.2, gst=10.0))
    assert sim.run(5, until=10.0 + AFTER_GST)
    sim.check_safety()


def test_minority_partitioned_until_gst_catches_up():
    network = Network(delay=(0.01, 1.0), gst=20.0, partitions=(
        Partition((frozenset({0, 1, 2, 3, 4}), frozenset({5, 6})), 0.0, 20.0),))
    sim = Simulation(7, seed=4, byzantine={0: EQUIVOCATE}, network=network)
    assert sim.run(HEIGHTS, until=20.0 + AFTER_GST)
    sim.check_safety()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.sampled_from([4, 7]),
       kinds=st.lists(st.sampled_from(BYZANTINE_KINDS), min_size=2, max_size=2),
       gst=st.floats(0.0, 30.0), max_delay=st.floats(0.01, 3.0), loss=st.floats(0.0, 0.5),
       duplicate=st.floats(0.0, 0.2), split=st.integers(1, 5), check_delay=st.sampled_from([0.0, 0.1, 0.5]))
def test_every_honest_node_decides_after_gst(seed, n, kinds, gst, max_delay, loss, duplicate, split, check_delay):
    f = (n - 1) // 3
    byzantine = {n - 1 - i: kind for i, kind in enumerate(kinds[:f])}
    honest = frozenset(range(n - f))
    side = frozenset(range(min(split, len(honest) - 1)))
    network = Network(delay=(0.001, max_delay), loss=loss, duplicate=duplicate, gst=gst, bound=0.2,
                      partitions=(Partition((side | frozenset(byzantine), frozenset(range(n)) - side), 0.0, gst),))
    sim = Simulation(n, seed=seed, byzantine=byzantine, network=network, check_delay=check_delay)
    assert sim.run(HEIGHTS, until=gst + AFTER_GST)
    sim.check_safety()
