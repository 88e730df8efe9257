"""Forecast file: the shipped CIGRE LV forecast and the loader's errors."""
import numpy as np
import pytest

from gridoracle import profiles
from gridoracle.feeder import load_feeder
from gridoracle.forecast import DEFAULT_FORECAST, ForecastError, load_forecast, parse_forecast

HEADER = "bus,mtu,load_w,load_var,gen_w"


@pytest.fixture(scope="module")
def model():
    return load_feeder()


def full_day(bus="Bus R1", load=1000, var=300, gen=0):
    return [f"{bus},{m},{load},{var},{gen}" for m in range(96)]


def test_shipped_forecast_is_small_and_reproducible(model):
    text = DEFAULT_FORECAST.read_text(encoding="utf-8")
    assert len(text.encode()) < 60_000
    assert text == profiles.render_csv()
    forecast = load_forecast(model)
    keys = model.bus_keys()
    cigre_peaks = {"Bus R1": 190_000, "Bus I2": 85_000, "Bus C1": 108_000, "Bus R15": 49_400}
    for bus, peak in cigre_peaks.items():
        assert forecast.load_w[:, keys.index(bus)].max() == peak
    residential = forecast.load_w[:, keys.index("Bus R1")]
    assert residential.argmax() // 4 in (19, 20) and residential.min() < 0.4 * 190_000  # evening peak, night low
    pv = forecast.gen_w[:, keys.index("Bus R15")]
    assert pv[:24].sum() == 0 and pv[88:].sum() == 0 and 20_000 < pv.max() < 23_000
    # Reactive power keeps the CIGRE power factor (0.95 residential, 0.85 industrial).
    r1 = keys.index("Bus R1")
    assert np.allclose(forecast.load_var[:, r1] / forecast.load_w[:, r1], np.tan(np.arccos(0.95)), atol=1e-3)


def test_injections_are_generation_minus_load_for_absolute_mtus(model):
    forecast = parse_forecast("\n".join([HEADER] + full_day(load=1000, var=300, gen=250)), model)
    p, q = forecast.injections([5, 96 + 5])
    col = model.bus_keys().index("Bus R1")
    assert p[0, col] == p[1, col] == -750 and q[0, col] == -300
    assert not p[:, np.arange(p.shape[1]) != col].any()


def test_forecast_id_names_the_content_not_the_layout(model):
    rows = full_day() + full_day("Bus C12", load=5, var=1, gen=2)
    a = parse_forecast("\n".join([HEADER] + rows), model)
    b = parse_forecast("# a comment\n\n" + "\n".join([" bus, mtu,load_w,load_var,gen_w"] + rows[::-1]), model)
    c = parse_forecast("\n".join([HEADER] + rows[:-1] + ["Bus C12,95,6,1,2"]), model)
    assert a.id == b.id != c.id and len(a.id) == 64


@pytest.mark.parametrize("text, message", [
    ("", "the forecast is empty"),
    ("# only a comment\n", "the forecast is empty"),
    ("bus,mtu,load_w,gen_w\n", "missing column(s): load_var"),
    ("bus,mtu,load_w,load_var,gen_w,price\n", "unexpected column(s): price"),
    ("bus,bus,mtu,load_w,load_var,gen_w\n", "duplicate column(s) in the header"),
    (f"{HEADER}\nBus X,0,1,0,0\n", "line 2: unknown bus 'Bus X'"),
    (f"{HEADER}\nBus R1,96,1,0,0\n", "line 2: MTU 96 out of range 0..95"),
    (f"{HEADER}\nBus R1,-1,1,0,0\n", "line 2: MTU -1 out of range 0..95"),
    (f"{HEADER}\n# comment\nBus R1,0,-5,0,0\n", "line 3: negative load_w -5"),
    (f"{HEADER}\nBus R1,0,5,0,-2\n", "line 2: negative gen_w -2"),
    (f"{HEADER}\nBus R1,0,1.5,0,0\n", "line 2: load_w must be an integer, got '1.5'"),
    (f"{HEADER}\nBus R1,x,1,0,0\n", "line 2: mtu must be an integer, got 'x'"),
    (f"{HEADER}\nBus R1,0,1,0\n", "line 2: expected 5 fields, got 4"),
    (f"{HEADER}\nBus R1,0,1,0,0\nBus R1,0,2,0,0\n", "line 3: duplicate row for bus 'Bus R1' MTU 0"),
    (HEADER + "\n" + "\n".join(full_day()[:7] + full_day()[8:]), "bus 'Bus R1' has no row for MTU 7"),
])
def test_loader_errors(model, text, message):
    with pytest.raises(ForecastError) as error:
        parse_forecast(text, model)
    assert str(error.value) == message


def test_file_errors_name_the_file(model, tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(f"{HEADER}\nBus R1,0,-5,0,0\n")
    with pytest.raises(ForecastError) as error:
        load_forecast(model, path)
    assert str(error.value) == f"{path}: line 2: negative load_w -5"
    with pytest.raises(ForecastError, match="cannot read the forecast"):
        load_forecast(model, tmp_path / "missing.csv")
