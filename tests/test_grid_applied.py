"""The curtailment as the market applies it (gridoracle.applied): in Wh, to both sides of the
trades, confirmed by the power flow of the trades it leaves (issue 18)."""
import numpy as np

from gridoracle.applied import Trades, applied_curtailment
from gridoracle.crosscheck import runpp_flows
from gridoracle.limits import Limits
from gridoracle.validate import GridValidator, Position, energy_positions
from market.attestation import Curtailment, apply_curtailment, positions, wh_from_w

MTU = 80  # 20:00: the forecast alone loads Line R1-R2 to 89.8 %
DEVICES = {1: "depot", 2: "supply"}
BUSES = {"depot": "Bus R18", "supply": "Bus R1"}


def depot_buys(wh: int) -> Trades:
    """The EV depot at R18 buys ``wh`` Wh in MTU 80 from the supply at R1 (one trade)."""
    return Trades(MTU, [[0, 1, 2, wh, wh * 300, wh * 300]], DEVICES, BUSES)


def max_line_loading(validator, trades_rows, background=()) -> float:
    p, q = validator.injections(sorted([*energy_positions(positions(trades_rows, DEVICES, MTU), BUSES),
                                        *background]), [MTU])
    flows = runpp_flows(validator.model, p, q)
    assert flows.converged.all()
    return float(np.max(flows.line_loading_pct))


def test_the_proposal_in_wh_leaves_the_line_overloaded_once_the_seller_sells_less_too(validator):
    trades = depot_buys(18_750)
    verdict = validator.validate(energy_positions(positions(trades.rows, DEVICES, MTU), BUSES), [MTU])
    assert verdict.resolves and [c.device for c in verdict.curtailment] == ["depot"]
    as_proposed = [Curtailment(c.mtu, c.device, wh_from_w(c.reduce_w)) for c in verdict.curtailment]
    # The contract takes the Wh off the supply at R1 as well: less feed-in there, lower voltage, more current.
    assert max_line_loading(validator, apply_curtailment(trades.rows, DEVICES, MTU, as_proposed)) > 100.1


def test_the_applied_curtailment_is_what_the_contract_stores_and_within_the_limits(validator):
    trades = depot_buys(18_750)
    verdict = validator.validate(energy_positions(positions(trades.rows, DEVICES, MTU), BUSES), [MTU])
    applied = applied_curtailment(validator, trades, verdict.curtailment, [MTU])
    (cut,) = applied.curtailment
    assert cut.device == "depot" and cut.wh > wh_from_w(verdict.curtailment[0].reduce_w)
    assert applied.resolves and applied.residual == ()
    left = 18_750 - cut.wh
    assert applied.kept_wh == {(MTU, "depot"): left, (MTU, "supply"): -left}
    after = apply_curtailment(trades.rows, DEVICES, MTU, applied.curtailment)
    assert 99.9 < max_line_loading(validator, after) <= 100.0
    assert np.max(applied.flows.line_loading_pct) == np.max(validator.validate(
        energy_positions(positions(after, DEVICES, MTU), BUSES), [MTU]).flows.line_loading_pct)


def test_the_safety_margin_holds_for_the_trades_as_applied(model, forecast):
    margin = GridValidator(model, forecast, Limits(curtail_to_bp=9_800))
    trades = depot_buys(18_750)
    verdict = margin.validate(energy_positions(positions(trades.rows, DEVICES, MTU), BUSES), [MTU])
    applied = applied_curtailment(margin, trades, verdict.curtailment, [MTU])
    after = apply_curtailment(trades.rows, DEVICES, MTU, applied.curtailment)
    assert applied.resolves and 97.9 < max_line_loading(margin, after) <= 98.0


def test_what_no_curtailment_of_the_session_can_fix_does_not_resolve(validator):
    trades = depot_buys(2_000)
    fleet = [Position(MTU, "Bus R18", "fleet", -150_000)]  # another session's, never curtailed
    verdict = validator.validate(energy_positions(positions(trades.rows, DEVICES, MTU), BUSES), [MTU], fleet)
    applied = applied_curtailment(validator, trades, verdict.curtailment, [MTU], fleet)
    assert applied.curtailment == (Curtailment(MTU, "depot", 2_000),)  # all of it, and still too much
    assert not applied.resolves and "line:Line R1-R2" in {v.element for v in applied.residual}
    assert applied.kept_wh == {(MTU, "depot"): 0, (MTU, "supply"): 0}
