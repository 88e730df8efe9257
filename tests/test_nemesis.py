"""The nemesis schedule and the liveness checker's arithmetic, without processes."""
import random

from hypothesis import given, settings, strategies as st

from testnet import nemesis
from testnet.liveness import Change, Snapshot, Timeline, catch_ups, longest_stall
from testnet.nemesis import Fault, FaultState, apply, candidates, recovery

NAMES = ("dso", "agg1", "agg2", "agg3")


def walk(seed: int, steps: int) -> list[tuple[Fault, FaultState]]:
    schedule, state, seen = nemesis.Schedule(seed), FaultState(NAMES), []
    for _ in range(steps):
        _gap, fault = schedule.next(state)
        state = apply(state, fault)
        seen.append((fault, state))
    return seen


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 60))
def test_at_most_f_faulty_except_during_a_split_which_is_healed_next(seed, steps):
    previous = None
    for fault, state in walk(seed, steps):
        if previous is not None and previous.kind == nemesis.SPLIT:
            assert fault.kind == nemesis.HEAL
        if fault.kind != nemesis.SPLIT:
            assert len(state.faulty()) <= 1, (fault, state)
        previous = fault


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 40))
def test_recovery_undoes_every_fault(seed, steps):
    state = walk(seed, steps)[-1][1] if steps else FaultState(NAMES)
    for fault in recovery(state):
        state = apply(state, fault)
    assert state == FaultState(NAMES)


def test_every_kind_of_fault_is_scheduled():
    kinds = {fault.kind for seed in range(5) for fault, _ in walk(seed, 60)}
    assert kinds == set(nemesis.KINDS)


def test_a_restart_during_catch_up_pauses_another_node_within_the_delay():
    state = FaultState(NAMES, killed=frozenset({"agg1"}))
    combos = [c for c in candidates(state, random.Random(1)) if c.kind == nemesis.RESTART_PAUSE]
    assert combos and all(c.nodes[0] != c.nodes[1] and 0 <= c.delay <= nemesis.MAX_CATCH_UP_DELAY for c in combos)
    after = apply(state, Fault(nemesis.RESTART_PAUSE, ("agg1", "agg3"), delay=0.5))
    assert after.killed == frozenset() and after.paused == {"agg3"} and after.faulty() == {"agg3"}


def test_faulty_counts_the_nodes_cut_off_from_the_largest_live_group():
    isolated = FaultState(NAMES, groups=(("agg3",), ("dso", "agg1", "agg2")))
    assert isolated.faulty() == {"agg3"} and not isolated.quorum_lost()
    split = FaultState(NAMES, groups=(("dso", "agg1"), ("agg2", "agg3")))
    assert len(split.faulty()) == 2 and split.quorum_lost()
    assert candidates(split, random.Random(0)) == [Fault(nemesis.HEAL)]


def test_during_an_isolation_only_the_isolated_node_crashes_or_restarts():
    state = FaultState(NAMES, groups=(("agg3",), ("dso", "agg1", "agg2")))
    found = candidates(state, random.Random(0))
    assert {str(c) for c in found} == {"kill agg3", "restart agg3", "heal"}


def timeline(blocks: dict[int, float], changes: list[Change]) -> Timeline:
    t = Timeline()
    t.first_seen.update(blocks)
    t.changes.extend(changes)
    return t


def test_the_stall_clock_restarts_at_each_block_and_each_fault_change():
    t = timeline({1: 1.0, 2: 2.0, 3: 9.0}, [Change(4.0, "pause agg3", True)])
    stall = longest_stall(t, 0.0, 10.0)
    assert (stall.start, stall.end, stall.height, stall.after) == (4.0, 9.0, 3, "pause agg3")


def test_time_with_more_than_f_faulty_is_not_held_to_the_bound():
    t = timeline({1: 1.0, 2: 20.0}, [Change(2.0, "split dso,agg1 | agg2,agg3", False), Change(18.0, "heal", True)])
    stall = longest_stall(t, 0.0, 21.0)
    assert (stall.start, stall.end, stall.after) == (18.0, 20.0, "heal")


def test_a_stall_running_to_the_end_of_the_run_counts():
    stall = longest_stall(timeline({1: 1.0}, []), 0.0, 30.0)
    assert (stall.start, stall.end, stall.height) == (1.0, 30.0, 2)


def test_catch_up_is_timed_from_the_restart_to_the_head_of_that_moment():
    t = timeline({1: 1.0, 2: 2.0, 3: 3.0, 4: 6.0}, [])
    t.restarts.append((3.5, "agg1"))
    t.snapshots += [Snapshot(4.0, "agg1", 1, {}), Snapshot(5.0, "agg1", 3, {})]
    t.restarts.append((7.0, "agg2"))
    t.downs.append((8.0, "agg2"))  # paused before it caught up
    t.snapshots.append(Snapshot(9.0, "agg2", 4, {}))
    assert catch_ups(t) == [("agg1", 1.5), ("agg2", None)]
