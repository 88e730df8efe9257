"""Issue 17 in the simulated network: validators that join late, by restart, by a healed
partition or by block sync, and the gossip that lets them take part in the height the
others already voted in (tests/consensus_sim.py models node/bftdriver.py's rules).

The liveness bound. After the last fault change, with at most f validators faulty and every
message delivered within DELTA (GST = 0), each live honest node decides ``k`` more heights
within ``bound(k, behind)`` simulated seconds:

* catch-up: ``behind`` blocks at SYNC_TIME each, and a round trip per batch (at most two
  batches, and the round trip that finds no more) -- 6 DELTA;
* SYNC_POLL + DELTA: the stuck peers rebroadcast their own messages of the height every
  SYNC_POLL, so the late node has them that long after it entered the height;
* per height, the pause after a decision (``commit``) and three rounds, each no longer than
  its three timeouts and three message delays: round 0 may be lost to a faulty proposer,
  the next to the late node entering in another round than the others (they meet through
  the round skip), and the third has an honest proposer with every live node in it (round
  robin: the one faulty validator proposes at most one round in four).

With the testnet's timeouts, a height takes at most 0.2 + 2.3 + 3.3 + 4.3 = 10.1 s by this
count; the runs below need far less (about 9 s for five heights after the fault, at most).
"""
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus.messages import (NIL, PRECOMMIT, PREVOTE, STEP_PRECOMMIT, STEP_PREVOTE, STEP_PROPOSE, BuildBlock,
                                Proposal, ScheduleTimeout, Timeout, Vote)
from consensus.timeouts import TimeoutConfig
from tests.consensus_sim import (SYNC_POLL, Bench, Gossip, Network, Outage, Partition, Simulation, make_block,
                                 of_type, sent)

# The testnet's timeouts (testnet/layout.py, TESTNET_TIMEOUTS).
TIMEOUTS = TimeoutConfig(propose=1.0, propose_delta=0.5, prevote=0.5, prevote_delta=0.25, precommit=0.5,
                         precommit_delta=0.25, cap=5.0, commit=0.2)
DELTA = Network().bound  # the largest message delay
SYNC_TIME = 0.1  # seconds a catching-up node takes per synced block
ROUNDS_PER_HEIGHT = 3
STEPS = (STEP_PROPOSE, STEP_PREVOTE, STEP_PRECOMMIT)

FIXED = Gossip()  # the driver's rules since the fix
OLD_RULE = Gossip(remember_ahead=True)  # issue 17's cause: a message heard while behind was remembered as seen
NO_REGOSSIP = Gossip(regossip=False)  # the fixed seen rule, but nobody sends a message twice
ALL_VOTES = Gossip(rebroadcast_all=True)  # stuck nodes rebroadcast every message of the height, not only their own


def round_time(round_: int) -> float:
    return sum(TIMEOUTS.delay(step, round_) for step in STEPS) + 3 * DELTA


def bound(heights: int, behind: int) -> float:
    """Simulated seconds for ``heights`` heights after the last fault change (see above)."""
    catch_up = behind * SYNC_TIME + 6 * DELTA
    height = TIMEOUTS.commit + sum(round_time(r) for r in range(ROUNDS_PER_HEIGHT))
    return catch_up + SYNC_POLL + DELTA + heights * height


def prevoted(sim: Simulation, index: int, height: int) -> bool:
    return any(isinstance(m, Vote) and m.type == PREVOTE for m in sim.nodes[index].own.get(height, []))


def head(sim: Simulation) -> int:
    return max(n.chain_height for n in sim.live)


def lag(sim: Simulation) -> int:
    return head(sim) - min(n.chain_height for n in sim.live)


def watch_entry(sim: Simulation, index: int, after: float, then=lambda: None) -> dict:
    """Record the height node ``index`` first enters after ``after``, and which validators
    had prevoted in it by then; call ``then()`` at that moment."""
    entry: dict = {}

    def on_enter(node, height):
        if node.index == index and sim.now >= after and not entry:
            entry.update(height=height, time=sim.now,
                         prevoted={i for i in range(len(sim.nodes)) if i != index and prevoted(sim, i, height)})
            then()
    sim.on_enter = on_enter
    return entry


# -- 1. the issue's sequence ---------------------------------------------------------------------
KILLED, BACK = 2.0, 6.9  # agg1 killed, then restarted while the others are in round 0 of a height


def issue_17(seed: int, gossip: Gossip) -> tuple[Simulation, dict, int]:
    """``testnet kill agg1; sleep; testnet restart agg1; testnet pause agg3``: validator 1 down
    from KILLED to BACK, validator 3 frozen for good at BACK. Run until just before BACK;
    returns the simulation, the record of 1's entry into the head, and how far behind it is."""
    sim = Simulation(4, seed=seed, timeouts=TIMEOUTS, sync_time=SYNC_TIME, gossip=gossip,
                     outages=(Outage(1, KILLED, BACK), Outage(3, BACK, restart=False)))
    entry = watch_entry(sim, 1, after=BACK)
    sim.run_until(lambda: False, BACK - 1e-6)
    return sim, entry, lag(sim)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_issue_17_a_restarted_validator_takes_part_in_the_height_the_others_voted_in(seed):
    sim, entry, behind = issue_17(seed, FIXED)
    assert sim.run(head(sim) + 3, until=BACK + bound(3, behind))
    sim.check_safety()
    height = entry["height"]
    assert entry["prevoted"] == {0, 2}  # the engine-level cause: it entered after the others voted
    commit = sim.nodes[0].decisions[height].commit  # decided with the late node's precommit, which it reached itself
    assert sim.signers[1].address in {s.validator for s in commit.signatures}
    assert not sim.nodes[1].decisions[height].synced


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("gossip", [OLD_RULE, NO_REGOSSIP], ids=["old-seen-rule", "no-regossip"])
def test_issue_17_stalls_with_the_old_seen_rule_or_without_regossip(seed, gossip):
    sim, entry, behind = issue_17(seed, gossip)
    assert not sim.run(head(sim) + 1, until=BACK + bound(3, behind))
    sim.check_safety()
    height = entry["height"]
    assert entry["prevoted"] == {0, 2}
    assert all(n.chain_height == height - 1 for n in sim.live)  # nobody decided the height, for good
    late = sim.nodes[1]
    prevotes = [m for i in (0, 2) for m in sim.nodes[i].own[height] if isinstance(m, Vote) and m.type == PREVOTE]
    if gossip is OLD_RULE:  # heard while behind, remembered as seen: their re-sends at the height are dropped
        assert all(m in late.seen[height] and late.dropped_as_seen[m] > 0 for m in prevotes)
    else:  # heard while behind and not remembered, but nobody sends them again
        assert all(m in late.relayed_ahead and m not in late.seen[height] for m in prevotes)


@pytest.mark.parametrize("seed", range(6))
def test_a_validator_freezing_when_the_restarted_one_enters_the_head_costs_no_liveness(seed):
    """The issue's words: right when the restarted validator enters the head height, another
    one goes silent."""
    sim = Simulation(4, seed=seed, timeouts=TIMEOUTS, sync_time=SYNC_TIME, outages=(Outage(1, KILLED, BACK),))
    entry = watch_entry(sim, 1, after=BACK, then=lambda: sim.go_down(3, restart=False))
    sim.run_until(lambda: False, BACK - 1e-6)
    behind = lag(sim)
    sim.live.remove(sim.nodes[3])
    assert sim.run_until(lambda: bool(entry), BACK + behind * SYNC_TIME + 6 * DELTA)
    assert sim.run(head(sim) + 3, until=entry["time"] + bound(3, 0))
    sim.check_safety()
