"""Vectorised AC power flow against plain pandapower.runpp, MTU by MTU."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridoracle.crosscheck import runpp_flows
from gridoracle.feeder import load_feeder
from gridoracle.powerflow import PowerFlow

VM_TOL = 1e-6  # p.u.
LOADING_TOL = 1e-4  # percentage points


@pytest.fixture
def pf(model):
    return PowerFlow(model)


def assert_matches_runpp(model, pf, p, q):
    ours = pf.solve(p, q)
    ref = runpp_flows(model, p, q)
    assert ours.converged.all() and ref.converged.all()
    assert np.max(np.abs(ours.vm_pu - ref.vm_pu)) < VM_TOL
    assert np.max(np.abs(ours.line_loading_pct - ref.line_loading_pct)) < LOADING_TOL
    assert np.max(np.abs(ours.trafo_loading_pct - ref.trafo_loading_pct)) < LOADING_TOL
    return ours


def test_forecast_day_matches_runpp(model, forecast, pf):
    p, q = forecast.injections(range(0, 96, 3))  # bench/bench_grid.py compares all 96
    ours = assert_matches_runpp(model, pf, p, q)
    assert 0.9 < np.nanmin(ours.vm_pu) < 0.95  # a realistic, loaded day


def test_high_load_and_high_pv_match_runpp(model, forecast, pf):
    rng = np.random.default_rng(7)
    lv = np.array([bus.feeder is not None for bus in model.buses])
    p_evening, q_evening = forecast.injections([78] * 8)
    p_evening[:, lv] -= rng.uniform(0, 12_000, (8, lv.sum()))  # EV charging everywhere
    p_noon, q_noon = forecast.injections([52] * 8)
    p_noon[:, lv] += rng.uniform(0, 25_000, (8, lv.sum()))  # a lot of PV
    ours = assert_matches_runpp(model, pf, np.vstack([p_evening, p_noon]), np.vstack([q_evening, q_noon]))
    assert np.nanmin(ours.vm_pu[:8]) < 0.9 and np.nanmax(ours.vm_pu[8:]) > 1.05
    assert np.nanmax(ours.line_loading_pct) > 120 and np.nanmax(ours.trafo_loading_pct) > 100


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), mtus=st.lists(st.integers(0, 95), min_size=1, max_size=2))
def test_random_moderate_injections_match_runpp(model, forecast, pf, seed, mtus):
    rng = np.random.default_rng(seed)
    p, q = forecast.injections(mtus)
    lv = np.array([bus.feeder is not None for bus in model.buses])
    p[:, lv] += rng.uniform(-8_000, 8_000, (len(mtus), lv.sum())).round()
    q[:, lv] += rng.uniform(-2_000, 2_000, (len(mtus), lv.sum())).round()
    assert_matches_runpp(model, pf, p, q)


def test_absurd_load_is_a_result_not_an_exception(model, forecast, pf):
    p, q = forecast.injections([10, 11, 12])
    p[1, model.bus_keys().index("Bus C12")] -= 5e6
    flows = pf.solve(p, q)
    assert flows.converged.tolist() == [True, False, True]
    assert np.isnan(flows.vm_pu[1]).all() and np.isnan(flows.line_loading_pct[1]).all()
    assert not runpp_flows(model, p[1:2], q[1:2]).converged[0]
    # The unbalanced buses are on the commercial feeder only.
    bad = {bus.feeder for bus, mis in zip(model.buses, flows.mismatch_w[1]) if not mis <= 1}
    assert bad == {"C"}


def test_repeated_injections_warm_starts_and_cache_agree(model, forecast, pf):
    p, q = forecast.injections([30, 31, 30, 31])
    cold = pf.solve(p, q)
    assert np.array_equal(cold.vm_pu[0], cold.vm_pu[2]) and np.array_equal(cold.v[1], cold.v[3])
    fresh = PowerFlow(model)
    shifted = p.copy()
    shifted[:, model.bus_keys().index("Bus R11")] -= 1000
    warm = fresh.solve(shifted, q, v0=cold.v)
    ref = PowerFlow(model).solve(shifted, q)
    assert np.max(np.abs(warm.vm_pu - ref.vm_pu)) < 1e-9
    again = pf.solve(p, q)  # served from the cache
    assert np.array_equal(again.vm_pu, cold.vm_pu)


def test_sensitivities_match_finite_differences(model, forecast, pf):
    p, q = forecast.injections([80])
    base = pf.solve(p, q)
    keys = model.bus_keys()
    buses = np.array([keys.index(b) for b in ("Bus R11", "Bus R15", "Bus C20", "Bus 0")])
    sens = pf.sensitivities(base.v[0], buses)
    step = 50.0
    for col, bus in enumerate(buses):
        up, down = p.copy(), p.copy()
        up[0, bus] += step
        down[0, bus] -= step
        hi, lo = pf.solve(up, q), pf.solve(down, q)
        for name in ("vm_pu", "line_loading_pct", "trafo_loading_pct"):
            central = (getattr(hi, name) - getattr(lo, name))[0] / (2 * step)
            assert np.allclose(getattr(sens, name)[:, col], central, rtol=1e-4, atol=1e-11), name
    assert not sens.vm_pu[:, 3].any()  # the slack bus has no sensitivity


def test_model_id_is_stable_and_tracks_the_model(model):
    assert PowerFlow(model).model_id == PowerFlow(load_feeder()).model_id
    assert PowerFlow(model).model_id != PowerFlow(load_feeder(line_ratings_ka={})).model_id
