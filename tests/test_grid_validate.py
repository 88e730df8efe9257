"""Verdicts: crafted violations against an independent pandapower.runpp, hashes, input errors."""
import math

import numpy as np
import pytest

from gridoracle.crosscheck import runpp_flows
from gridoracle.forecast import Forecast, parse_forecast
from gridoracle.limits import Limits, Violation
from gridoracle.validate import GridValidator, Position, PositionError
from node.encoding import decode, encode, sha256


def runpp_for(validator, positions, mtus):
    p, q = validator.injections(sorted(positions), sorted(mtus))
    return runpp_flows(validator.model, p, q)


def index_of(items, element_id):
    return [item.id for item in items].index(element_id)


def test_ev_hub_at_the_end_of_a_residential_branch_overloads_its_line(validator, model):
    # 02:00: a 110 kW charging hub at R11 (branch R3-R11, a 35 mm2 cable rated 150 A).
    positions = [Position(8, "Bus R11", "ev-hub", -110_000), Position(8, "Bus C12", "heat-pump", -3_000),
                 Position(8, "Bus R17", "battery", 4_000)]
    verdict = validator.validate(positions, [8])
    ref = runpp_for(validator, positions, [8])
    loading = ref.line_loading_pct[0, index_of(model.lines, "line:Line R3-R11")]
    assert 110 < loading < 120
    assert not verdict.approved
    assert verdict.violations == (Violation(8, "line:Line R3-R11", "line_loading", math.ceil(loading * 100), 10_000, "R"),)
    assert verdict.curtailment and verdict.resolves


def test_ev_charging_on_a_long_branch_pushes_its_end_below_the_band(validator, model):
    # 19:00, evening peak: 30 kW of charging at R15, the end of the long branch R4-R15.
    positions = [Position(76, "Bus R15", "ev", -30_000)]
    verdict = validator.validate(positions, [76])
    ref = runpp_for(validator, positions, [76])
    vm = ref.vm_pu[0, index_of(model.buses, "bus:Bus R15")]
    assert 0.89 < vm < 0.9
    assert verdict.violations == (Violation(76, "bus:Bus R15", "undervoltage", math.floor(vm * 1e6), 900_000, "R"),)


def test_a_day_within_limits_is_approved(validator):
    rng = np.random.default_rng(3)
    buses = ["Bus R11", "Bus R16", "Bus R17", "Bus I2", "Bus C13", "Bus C17"]
    positions = [Position(mtu, bus, f"dev-{bus[-3:].strip()}", int(rng.integers(-6_000, 4_000)))
                 for mtu in range(96) for bus in buses]
    verdict = validator.validate(positions, range(96))
    assert verdict.approved and verdict.resolves
    assert verdict.violations == () and verdict.curtailment == ()
    assert verdict.flows.converged.all()
    assert verdict.to_list()[2] == "approved"


def test_absurd_load_is_a_nonconvergence_violation(validator):
    positions = [Position(40, "Bus R15", "absurd", -3_000_000), Position(41, "Bus R15", "fine", -1_000)]
    verdict = validator.validate(positions, [40, 41])
    assert not runpp_for(validator, positions, [40, 41]).converged[0]
    assert verdict.violations == (Violation(40, "feeder:R", "nonconvergence", 0, 0, "R"),)
    assert verdict.flows.converged.tolist() == [False, True]


def test_the_voltage_band_is_configurable(model, forecast):
    # The forecast alone takes R15 to about 0.918 p.u. at 20:00.
    strict = GridValidator(model, forecast, Limits(vm_min_upu=920_000, vm_max_upu=1_080_000))
    verdict = strict.validate([], [80])
    assert [(v.element, v.kind, v.limit) for v in verdict.violations] == [("bus:Bus R15", "undervoltage", 920_000)]
    assert not verdict.curtailment and not verdict.resolves  # no position to curtail
    assert GridValidator(model, forecast).validate([], [80]).approved


def test_input_hash_follows_the_documented_encoding(validator, model, forecast):
    positions = [Position(9, "Bus R11", "b", -500), Position(8, "Bus C1", "a", 700)]
    expected = sha256(encode(["flexledger-grid-input-v3", validator.powerflow.model_id, forecast.id, [8, 9],
                              [[8, "Bus C1", "a", 700], [9, "Bus R11", "b", -500]],
                              [10_000, 10_000, 900_000, 1_100_000, 10_000], []])).hex()
    assert validator.input_hash(positions, [9, 8]) == expected
    assert validator.validate(positions[::-1], [8, 9]).input_hash == expected
    other_forecast = parse_forecast("bus,mtu,load_w,load_var,gen_w\n", model)
    changed = {
        validator.input_hash([Position(9, "Bus R11", "b", -501), positions[1]], [8, 9]),
        validator.input_hash(positions, [8, 9, 10]),
        GridValidator(model, forecast, Limits(line_loading_bp=9_000)).input_hash(positions, [8, 9]),
        GridValidator(model, forecast, Limits(curtail_to_bp=9_800)).input_hash(positions, [8, 9]),
        GridValidator(model, other_forecast).input_hash(positions, [8, 9]),
    }
    assert expected not in changed and len(changed) == 5


def test_verdict_record_is_canonical(validator):
    verdict = validator.validate([Position(8, "Bus R11", "ev-hub", -110_000)], [8])
    record = verdict.to_list()
    assert decode(encode(record)) == record
    assert record[0] == "flexledger-grid-verdict-v1" and record[2] == "violated" and record[3] == [8]
    assert record[4] == [[8, "line:Line R3-R11", "line_loading", verdict.violations[0].value, 10_000, "R"]]
    assert record[5] == [[8, "Bus R11", "ev-hub", -110_000, verdict.curtailment[0].reduce_w]]
    assert record[6] is True


@pytest.mark.parametrize("positions, mtus, message", [
    ([], [], "no MTUs to validate"),
    ([], [3, 3], "duplicate MTU in the session"),
    ([], [-1], "MTU must be a non-negative integer, got -1"),
    ([], [1.5], "MTU must be a non-negative integer, got 1.5"),
    ([Position(1, "Bus X", "d", 1)], [1], "unknown bus 'Bus X' for device 'd'"),
    ([Position(1, "Bus R1", "d", 1.0)], [1], "injection_w must be an integer (W), got 1.0"),
    ([Position(2, "Bus R1", "d", 1)], [1], "MTU 2 of device 'd' is not in the session"),
    ([Position(1, "Bus R1", "", 1)], [1], "device must be a non-empty string, got ''"),
    ([Position(1, "Bus R1", "d", 1), Position(1, "Bus R2", "d", 5)], [1], "duplicate position for device 'd' in MTU 1"),
])
def test_bad_positions_are_refused(validator, positions, mtus, message):
    with pytest.raises(PositionError) as error:
        validator.validate(positions, mtus)
    assert str(error.value) == message


def test_a_forecast_for_another_model_is_refused(model):
    other = Forecast(id="0" * 64, load_w=np.zeros((96, 3), dtype=np.int64),
                     load_var=np.zeros((96, 3), dtype=np.int64), gen_w=np.zeros((96, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="^the forecast was loaded for another feeder model$"):
        GridValidator(model, other)


@pytest.mark.parametrize("kwargs, message", [
    ({"line_loading_bp": 0}, "line_loading_bp must be a positive integer, got 0"),
    ({"vm_min_upu": 0.9}, "vm_min_upu must be a positive integer, got 0.9"),
    ({"vm_min_upu": 1_100_000}, "vm_min_upu must be below vm_max_upu"),
    ({"curtail_to_bp": 0}, "curtail_to_bp must be a positive integer, got 0"),
    ({"curtail_to_bp": 98.0}, "curtail_to_bp must be a positive integer, got 98.0"),
    ({"curtail_to_bp": 10_001}, "curtail_to_bp must be at most 10000 (the limit itself), got 10001"),
])
def test_bad_limits_are_refused(kwargs, message):
    with pytest.raises(ValueError) as error:
        Limits(**kwargs)
    assert str(error.value) == message


def test_background_positions_count_in_the_power_flow_but_are_never_curtailed(validator):
    evening = [Position(80, "Bus R11", "ev", -15_000), Position(80, "Bus R15", "ev2", -15_000)]
    earlier = [Position(80, "Bus R16", "other-ev", -20_000), Position(79, "Bus R16", "other-ev", -20_000),
               Position(95, "Bus R16", "other-ev", -20_000)]  # MTU 95 is outside the session
    alone = validator.validate(evening[:1], range(76, 84))
    stacked = validator.validate(evening[:1], range(76, 84), background=evening[1:] + earlier)
    assert alone.approved and not stacked.approved
    assert {c.device for c in stacked.curtailment} == {"ev"}  # only the session's own position gives way
    assert stacked.input_hash == validator.input_hash(evening[:1], range(76, 84), evening[1:] + earlier[:2])
    assert stacked.input_hash != alone.input_hash
    with pytest.raises(PositionError, match="unknown bus 'Bus X'"):
        validator.validate(evening[:1], range(76, 84), background=[Position(80, "Bus X", "x", 1)])
