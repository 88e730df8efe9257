"""Traffic-light regimes per feeder on a real chain: who may change them, their history, and
the gating of every market action per the DESIGN.md table (each allowed and each refused
action in each regime, with its exact message), BLACK pausing a feeder's sessions,
withdrawal of refused commitments, and RED setpoints."""
import pytest

from contracts import VMError
from market.attestation import build_report
from market.orders import Order
from tests.chainkit import DAVE
from tests.market_chain import GRID, MARKET, World, key_of, ok, rejected

STATES = ("GREEN", "YELLOW", "RED", "BLACK")
BLACK = "feeder f1 is BLACK: everything on it is paused"


@pytest.fixture
def world(tmp_path):
    built = World.build(tmp_path / "node")
    yield built
    built.chain.close()


def set_regime(world, state, mtus=(), key=None, reason="test", attestation=""):
    return world.chain.call(key or world.dso, GRID, "set_regime", "f1", state, list(mtus), reason, attestation)


def energy(world, feeder="f1", **changes):
    spec = dict(feeder=feeder, min_price=10_000, max_price=500_000, min_qty=100, max_qty=10_000, min_deposit=0)
    return world.chain.open_session(world.dso, "open_energy", **{**spec, **changes})


def flex_spec(first, **changes):
    return {"feeder": "f1", "first_mtu": first, "n_mtus": 2, "direction": "up", "power": 4_000, "max_price": 100_000,
            **changes}


def test_only_the_dso_and_the_oracle_key_change_regimes_and_the_history_is_kept(world):
    c = world.chain
    oracle = key_of("grid-oracle")
    assert c.query(GRID, "regime", "f1")["state"] == "GREEN" and c.query(GRID, "history", "f1") == []
    assert c.query(GRID, "oracle") == oracle.address
    message = "only the DSO or the grid oracle key may change a regime"
    rejected(set_regime(world, "RED", key=world.agg), message)      # an aggregator
    rejected(set_regime(world, "RED", key=world.alice), message)    # a prosumer
    rejected(set_regime(world, "RED", key=DAVE), message)          # admitted to the chain, not a participant
    for args, why in (((("PURPLE", []), "state must be GREEN, YELLOW, RED or BLACK")),
                      (("YELLOW", []), "a YELLOW regime needs the affected MTUs"),
                      (("RED", [5]), "only a YELLOW regime has affected MTUs"),
                      (("YELLOW", [5, 5]), "mtus must be at most 192 distinct MTUs (ints >= 0) in ascending order")):
        rejected(set_regime(world, *args), why)
    rejected(set_regime(world, "RED", reason=""), "reason must be 1 to 200 characters")
    rejected(set_regime(world, "RED", attestation="xyz"), "attestation must be 64 hex digits or empty")
    receipt = set_regime(world, "YELLOW", [100, 101], key=oracle, reason="forecast overload line:3",
                         attestation="ab" * 32)
    assert ok(receipt) == 1
    assert [(e.name, e.data) for e in receipt.events] == [("RegimeChanged", {
        "feeder": "f1", "state": "YELLOW", "mtus": [100, 101], "reason": "forecast overload line:3",
        "attestation": "ab" * 32, "by": oracle.address, "seq": 1})]
    assert ok(set_regime(world, "RED", reason="flexibility not enough")) == 2
    assert ok(set_regime(world, "GREEN", reason="back to normal")) == 3
    timeline = c.query(GRID, "history", "f1")
    assert [(r["seq"], r["state"], r["mtus"], r["reason"], r["attestation"], r["by"]) for r in timeline] == [
        (1, "YELLOW", [100, 101], "forecast overload line:3", "ab" * 32, oracle.address),
        (2, "RED", [], "flexibility not enough", "", world.dso.address),
        (3, "GREEN", [], "back to normal", "", world.dso.address)]
    assert c.query(GRID, "history", "f1", 2) == timeline[2:]
    assert c.query(GRID, "regime", "f1") == timeline[2]
    assert c.query(GRID, "regime", "f2")["state"] == "GREEN"   # regimes are per feeder


ENERGY_COMMIT = {"GREEN": None, "YELLOW": None, "RED": "the local energy market is closed on feeder f1 (RED)",
                 "BLACK": BLACK}


@pytest.mark.parametrize("state", STATES)
def test_energy_orders_per_regime(world, state):
    """Commit and reveal on the constrained feeder (an affected MTU and another one), and on
    another feeder, with f1 in each regime.  YELLOW affects only MTU first + 1."""
    c = world.chain
    f1, f2 = energy(world), energy(world, feeder="f2")
    first = c.session(f1)["first_mtu"]
    other_mtu = Order("buy", "alice-load", 200_000, 1_000, 100, (0,))
    affected = Order("buy", "alice-load", 200_000, 1_000, 100, (1,))
    elsewhere = Order("buy", "bob-hp", 200_000, 1_000, 100, (1,))
    _, early_other = c.seal(world.alice, f1, other_mtu)
    _, early_affected = c.seal(world.alice, f1, affected)
    _, early_elsewhere = c.seal(world.agg, f2, elsewhere)
    ok(set_regime(world, state, [first + 1] if state == "YELLOW" else []))

    receipt, late = c.seal(world.alice, f1, other_mtu, deposit=200_000)
    if ENERGY_COMMIT[state] is None:
        ok(receipt)
    else:
        rejected(receipt, ENERGY_COMMIT[state])
    ok(c.seal(world.agg, f2, elsewhere)[0])     # open elsewhere, whatever f1's regime
    spec = {"feeder": "f1", "first_mtu": first, "n_mtus": 2, "max_price": 1, "max_qty": 1}
    opened = c.call(world.dso, MARKET, "open_energy", spec)   # sessions may be opened for later, except in BLACK
    if state == "BLACK":
        rejected(opened, BLACK)
    else:
        ok(opened)

    c.goto(f1, "reveal")
    reveal_other = {"GREEN": None, "YELLOW": None, **{s: ENERGY_COMMIT[s] for s in ("RED", "BLACK")}}[state]
    reveal_affected = {"GREEN": None, "YELLOW": f"the local energy market is closed on feeder f1 for MTU {first + 1} "
                                                "(YELLOW)", "RED": ENERGY_COMMIT["RED"], "BLACK": BLACK}[state]
    for sealed, expected, order in ((early_other, reveal_other, other_mtu), (early_affected, reveal_affected, affected)):
        if expected is None:
            ok(c.reveal(world.alice, sealed))
        else:
            with pytest.raises(VMError) as info:    # the wallet's check says the same before committing
                c.query(MARKET, "check_order", f1, world.alice.address, order.to_value())
            assert info.value.message == expected
            rejected(c.reveal(world.alice, sealed), expected)
    if late is not None:
        ok(c.reveal(world.alice, late))
    ok(c.reveal(world.agg, early_elsewhere))


def test_yellow_over_the_whole_window_refuses_energy_commits(world):
    c = world.chain
    sid = energy(world, n_mtus=2)
    first = c.session(sid)["first_mtu"]
    ok(set_regime(world, "YELLOW", [first, first + 1]))
    rejected(c.seal(world.alice, sid, Order("buy", "alice-load", 200_000, 1_000, 100, (0,)), deposit=200_000)[0],
             "the local energy market is closed on feeder f1 for every MTU of the session (YELLOW)")
    ok(set_regime(world, "YELLOW", [first + 1]))
    ok(c.seal(world.alice, sid, Order("buy", "alice-load", 200_000, 1_000, 100, (0,)))[0])


FLEX = {"GREEN": "the flexibility market is closed on feeder f1 (GREEN)", "YELLOW": None,
        "RED": "the flexibility market is closed on feeder f1 (RED)", "BLACK": BLACK}


@pytest.mark.parametrize("state", STATES)
def test_flexibility_market_is_open_only_in_yellow(world, state):
    c = world.chain
    first = c.now // 900 + 96
    rejected(c.call(world.dso, MARKET, "request_flex", flex_spec(first)), FLEX["GREEN"])
    ok(set_regime(world, "YELLOW", [first]))
    sid = ok(c.call(world.dso, MARKET, "request_flex", flex_spec(first)))
    offer = Order("offer", "bob-battery", 50_000, 2_000, 100, (), baseline=0)
    _, early = c.seal(world.agg, sid, offer)
    ok(set_regime(world, state, [first] if state == "YELLOW" else []))

    for receipt in (c.call(world.dso, MARKET, "request_flex", flex_spec(first)),
                    c.seal(world.agg, sid, offer, deposit=200_000)[0]):
        if FLEX[state] is None:
            ok(receipt)
        else:
            rejected(receipt, FLEX[state])
    c.goto(sid, "reveal")
    if FLEX[state] is None:
        ok(c.reveal(world.agg, early))
    else:
        rejected(c.reveal(world.agg, early), FLEX[state])


def test_capacity_sessions_pause_only_in_black(world):
    c = world.chain
    spec = dict(n_mtus=2, capacity=[10_000, 4_000], rule="fcfs", max_qty=10_000)
    for state in ("YELLOW", "RED"):
        ok(set_regime(world, state, [c.now // 900 + 96] if state == "YELLOW" else []))
        c.open_session(world.dso, "publish_capacity", **spec)
    ok(set_regime(world, "BLACK"))
    rejected(c.call(world.dso, MARKET, "publish_capacity", {"feeder": "f1", "first_mtu": c.now // 900 + 96, **spec}),
             BLACK)


def test_black_pauses_everything_on_the_feeder_and_red_does_not_stop_settlement(world):
    c = world.chain
    oracle = key_of("grid-oracle")
    sid = energy(world, attestor=oracle.address, imbalance_price=300_000)
    first = c.session(sid)["first_mtu"]
    sealed = [(world.alice, c.seal(world.alice, sid, Order("buy", "alice-load", 200_000, 1_000, 100, (0,)))[1]),
              (world.bob, c.seal(world.bob, sid, Order("sell", "bob-pv", 100_000, 1_000, 100, (0,)))[1])]
    c.goto(sid, "reveal")
    for key, s in sealed:
        ok(c.reveal(key, s))
    c.goto(sid, "reveal_end")
    ok(set_regime(world, "BLACK", reason="outage"))
    rejected(c.call(world.dso, MARKET, "open_energy", {"feeder": "f1", "first_mtu": first, "n_mtus": 1,
                                                      "max_price": 1, "max_qty": 1}), BLACK)
    rejected(c.call(world.bob, MARKET, "clear", sid), BLACK)
    ok(set_regime(world, "RED", reason="restoring"))
    assert ok(c.call(world.bob, MARKET, "clear", sid)) == "grid_validation_pending"
    ok(set_regime(world, "BLACK", reason="outage again"))
    report = build_report(c.session(sid), "cd" * 32).to_value()
    rejected(c.call(oracle, MARKET, "attest", sid, report), BLACK)
    rejected(c.call(world.dso, MARKET, "override", sid, [[first, 1, 2, 0]], "outage"), BLACK)
    ok(set_regime(world, "RED", reason="restoring"))
    ok(c.call(oracle, MARKET, "attest", sid, report))
    ok(world.meter([("alice-load", first, 1_000), ("bob-pv", first, -1_000)]))
    ok(set_regime(world, "BLACK", reason="outage again"))
    rejected(c.call(world.bob, MARKET, "settle", sid), BLACK)
    ok(set_regime(world, "RED", reason="restoring"))
    ok(c.call(world.bob, MARKET, "settle", sid))
    assert c.session(sid)["phase"] == "settled" and c.balance(MARKET) == 0


@pytest.mark.parametrize("state", ("YELLOW", "RED", "BLACK"))
def test_a_commitment_the_regime_refuses_can_be_withdrawn_without_forfeit(world, state):
    c = world.chain
    sid = energy(world)
    first = c.session(sid)["first_mtu"]
    before = c.balance(world.alice.address)
    _, refused = c.seal(world.alice, sid, Order("buy", "alice-load", 200_000, 1_000, 100, (1,)), deposit=300_000)
    _, accepted = c.seal(world.alice, sid, Order("buy", "alice-load", 200_000, 1_000, 100, (0,)))
    ok(set_regime(world, state, [first + 1] if state == "YELLOW" else []))
    rejected(c.call(world.alice, MARKET, "withdraw", sid, refused.seq, refused.order.to_value(), refused.salt),
             "not in the reveal phase (the session is in commit)")
    c.goto(sid, "reveal")
    rejected(c.call(world.bob, MARKET, "withdraw", sid, refused.seq, refused.order.to_value(), refused.salt),
             "not your commitment")
    receipt = c.call(world.alice, MARKET, "withdraw", sid, accepted.seq, accepted.order.to_value(), accepted.salt)
    if state == "YELLOW":
        rejected(receipt, "the feeder's regime accepts this order: reveal it instead")
    else:
        assert ok(receipt) == 200_000
    assert ok(c.call(world.alice, MARKET, "withdraw", sid, refused.seq, refused.order.to_value(), refused.salt)) \
        == 300_000
    rejected(c.call(world.alice, MARKET, "withdraw", sid, refused.seq, refused.order.to_value(), refused.salt),
             "order already revealed or withdrawn")
    if state == "YELLOW":
        ok(c.reveal(world.alice, accepted))
        assert c.balance(world.alice.address) == before - 200_000
    else:
        assert c.balance(world.alice.address) == before
    ok(set_regime(world, "GREEN", reason="clear"))
    c.goto(sid, "reveal_end")
    ok(c.call(world.bob, MARKET, "clear", sid))
    ok(c.call(world.bob, MARKET, "settle", sid))
    assert c.session(sid)["forfeited"] == 0 and c.balance(world.alice.address) == before
    assert c.balance(MARKET) == 0


def test_setpoints_only_in_red_by_grid_operators_and_readable_by_anyone(world):
    c = world.chain
    oracle = key_of("grid-oracle")
    mtu = c.now // 900 + 96
    rejected(c.call(world.dso, GRID, "set_setpoints", "f1", [["alice-load", mtu, 1_000]]),
             "setpoints need a RED regime (feeder f1 is GREEN)")
    ok(set_regime(world, "RED", reason="line:3 overloaded"))
    rejected(c.call(world.agg, GRID, "set_setpoints", "f1", [["alice-load", mtu, 1_000]]),
             "only the DSO or the grid oracle key may issue setpoints")
    rejected(c.call(world.dso, GRID, "set_setpoints", "f1", [["bob-hp", mtu, 1_000]]),
             "device bob-hp is not on feeder f1")
    rejected(c.call(world.dso, GRID, "set_setpoints", "f1", [["alice-load", mtu, "1kW"]]),
             "a setpoint is [device, mtu, watts] with int mtu >= 0 and int watts")
    assert ok(c.call(world.dso, GRID, "set_setpoints", "f1",
                     [["alice-load", mtu, 2_000], ["alice-load", mtu + 1, 0], ["bob-pv", mtu, -5_000]])) == 3
    ok(c.call(oracle, GRID, "set_setpoints", "f1", [["alice-load", mtu, 1_500]]))   # replaces the earlier one
    assert c.query(GRID, "setpoint", "alice-load", mtu)["watts"] == 1_500
    assert c.query(GRID, "setpoint", "alice-load", mtu + 2) is None
    assert [(r["mtu"], r["watts"], r["by"]) for r in c.query(GRID, "setpoints", "alice-load")] == [
        (mtu, 1_500, oracle.address), (mtu + 1, 0, world.dso.address)]
    assert c.query(GRID, "setpoints", "bob-pv")[0]["watts"] == -5_000
    ok(set_regime(world, "GREEN", reason="back to normal"))
    rejected(c.call(world.dso, GRID, "set_setpoints", "f1", [["alice-load", mtu, 1_000]]),
             "setpoints need a RED regime (feeder f1 is GREEN)")
    assert c.query(GRID, "setpoint", "alice-load", mtu)["watts"] == 1_500    # the record stays
