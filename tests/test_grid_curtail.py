"""Curtailment proposals: applied, an independent pandapower.runpp is within every limit."""
import numpy as np

from gridoracle.crosscheck import runpp_flows
from gridoracle.limits import Limits
from gridoracle.validate import GridValidator, Position


def reductions(verdict):
    return {(c.mtu, c.device): c.reduce_w for c in verdict.curtailment}


def applied(verdict, positions):
    """The positions with the proposal applied."""
    new = {(c.mtu, c.device): c.new_injection_w for c in verdict.curtailment}
    for c in verdict.curtailment:
        assert 0 < c.reduce_w <= abs(c.injection_w) and abs(c.new_injection_w) == abs(c.injection_w) - c.reduce_w
    return [Position(p.mtu, p.bus, p.device, new.get((p.mtu, p.device), p.injection_w)) for p in positions]


def assert_runpp_within_limits(validator, positions, mtus):
    p, q = validator.injections(sorted(positions), sorted(mtus))
    ref = runpp_flows(validator.model, p, q)
    limits = validator.limits
    assert ref.converged.all()
    assert np.max(ref.line_loading_pct) <= limits.line_loading_bp / 100
    assert np.max(ref.trafo_loading_pct) <= limits.trafo_loading_bp / 100
    assert limits.vm_min_upu / 1e6 <= np.min(ref.vm_pu) and np.max(ref.vm_pu) <= limits.vm_max_upu / 1e6


def test_line_overload_curtails_only_the_loads_downstream(validator):
    positions = [Position(8, "Bus R11", "ev-a", -60_000), Position(8, "Bus R11", "ev-b", -60_000),
                 Position(8, "Bus R11", "ev-small", -10_000), Position(8, "Bus R11", "pv", 5_000),
                 Position(8, "Bus R18", "ev-far", -20_000), Position(8, "Bus C12", "ev-c", -5_000)]
    verdict = validator.validate(positions, [8])
    assert [v.element for v in verdict.violations] == ["line:Line R3-R11"]
    cut = reductions(verdict)
    assert set(cut) == {(8, "ev-a"), (8, "ev-b"), (8, "ev-small")}
    assert cut[(8, "ev-a")] == cut[(8, "ev-b")] > cut[(8, "ev-small")] > 0  # equal positions, equal shares
    assert verdict.resolves
    assert_runpp_within_limits(validator, applied(verdict, positions), [8])
    # Not more than needed: the line ends up just inside its rating.
    after = validator.validate(applied(verdict, positions), [8])
    assert after.approved and 99.0 < np.max(after.flows.line_loading_pct) <= 100.0


def test_a_safety_margin_curtails_to_its_share_of_the_rating(model, forecast):
    margin = GridValidator(model, forecast, Limits(curtail_to_bp=9_800))
    positions = [Position(8, "Bus R11", "ev-a", -60_000), Position(8, "Bus R11", "ev-b", -60_000)]
    verdict = margin.validate(positions, [8])
    assert [(v.element, v.limit) for v in verdict.violations] == [("line:Line R3-R11", 10_000)]  # beyond the rating
    assert verdict.resolves
    after = margin.validate(applied(verdict, positions), [8])
    assert after.approved and 97.0 < np.max(after.flows.line_loading_pct) <= 98.0
    assert margin.validate([Position(8, "Bus R11", "ev-a", -95_000)], [8]).approved  # 99 %: nothing to curtail


def test_undervoltage_curtails_loads_that_depress_the_bus(validator):
    positions = [Position(76, "Bus R15", "ev", -30_000), Position(76, "Bus R13", "heat-pump", -8_000),
                 Position(76, "Bus R15", "pv", 2_000), Position(76, "Bus I2", "press", -20_000)]
    verdict = validator.validate(positions, [76])
    assert [v.kind for v in verdict.violations] == ["undervoltage"]
    cut = reductions(verdict)
    assert set(cut) == {(76, "ev"), (76, "heat-pump")}  # never the PV, never another feeder
    assert verdict.resolves
    assert_runpp_within_limits(validator, applied(verdict, positions), [76])


def test_pv_overvoltage_curtails_generation(model, forecast):
    validator = GridValidator(model, forecast, Limits(vm_max_upu=1_050_000))
    positions = [Position(52, "Bus R15", "pv-farm", 100_000), Position(52, "Bus R14", "pv-roof", 10_000),
                 Position(52, "Bus R15", "ev", -7_000), Position(52, "Bus C20", "pv-c", 10_000)]
    verdict = validator.validate(positions, [52])
    assert {v.kind for v in verdict.violations} == {"overvoltage"}
    assert {device for _, device in reductions(verdict)} == {"pv-farm", "pv-roof"}
    assert verdict.resolves
    assert_runpp_within_limits(validator, applied(verdict, positions), [52])


def test_nonconvergence_caps_the_absurd_position_first(validator):
    positions = [Position(80, "Bus R15", "absurd", -2_000_000), Position(80, "Bus R18", "ev", -7_000),
                 Position(80, "Bus C12", "ev-c", -7_000)]
    verdict = validator.validate(positions, [80])
    assert [v.kind for v in verdict.violations] == ["nonconvergence"]
    cut = reductions(verdict)
    assert cut[(80, "absurd")] > 1_980_000 and (80, "ev") not in cut and (80, "ev-c") not in cut
    assert verdict.resolves
    assert_runpp_within_limits(validator, applied(verdict, positions), [80])


def test_many_mtus_each_curtailed_on_its_own(validator):
    rng = np.random.default_rng(11)
    positions = [Position(m, "Bus R11", "hub", -int(rng.integers(100_000, 140_000))) for m in range(0, 24)]
    positions += [Position(m, "Bus R15", "ev", -int(rng.integers(20_000, 35_000))) for m in range(72, 88)]
    positions += [Position(m, "Bus C13", "shop", -2_000) for m in range(96)]
    verdict = validator.validate(positions, range(96))
    violated = {v.mtu for v in verdict.violations}
    assert violated and violated <= set(range(24)) | set(range(72, 88))
    assert {mtu for mtu, _ in reductions(verdict)} == violated
    assert all(device != "shop" for _, device in reductions(verdict))
    assert verdict.resolves
    checked = sorted(violated | {30, 60})
    assert_runpp_within_limits(validator, [p for p in applied(verdict, positions) if p.mtu in checked], checked)


def test_a_violation_no_position_causes_is_left_unresolved(model, forecast):
    validator = GridValidator(model, forecast, Limits(vm_min_upu=950_000))
    positions = [Position(80, "Bus R15", "pv", 1_000), Position(80, "Bus C12", "ev-c", -3_000)]
    verdict = validator.validate(positions, [80])
    assert not verdict.approved and verdict.curtailment == () and not verdict.resolves
    assert verdict.residual == verdict.violations
    assert {v.element for v in verdict.residual} >= {"bus:Bus R15"}
