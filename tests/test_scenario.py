"""Demo scenario files: the built-in one, the orders derived from profiles, and every refusal."""
import copy
import tomllib

import pytest

from testnet.demoplan import cast, session_orders
from testnet.scenario import BUILT_IN, ScenarioError, load_scenario, parse_scenario


@pytest.fixture(scope="module")
def doc():
    return tomllib.loads(BUILT_IN.read_text())


def test_the_built_in_scenario_and_its_orders():
    scenario = load_scenario()
    people = cast(scenario)
    assert len(people) == 43 and [s.name for s in scenario.sessions] == \
        ["day-ahead R", "day-ahead C", "intraday R, EV depot"]
    orders = session_orders(scenario, people, scenario.sessions[0])
    assert orders == session_orders(scenario, people, scenario.sessions[0])  # seeded: the same every run
    ev = orders["r-ev-01"]
    evening = next(o for o in ev if o.device == "r-ev-01-ev-charger" and o.mtus[0] == 72)
    assert (evening.side, evening.qty, evening.mtus) == ("buy", int(0.8 * 7400 / 4), tuple(range(72, 80)))
    assert all(o.side == "sell" for o in ev if o.device == "r-ev-01-generation")
    assert not any(o.device.endswith("storage") for found in orders.values() for o in found)
    depot = session_orders(scenario, people, scenario.sessions[2])
    assert depot["r-depot-01"][0].mtus == (0, 1, 2, 3) and set(depot) == {"r-depot-01", "r-depot-02", "r-supply-01"}


def changed(doc, path, value):
    out = copy.deepcopy(doc)
    target = out
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


@pytest.mark.parametrize("path, value, message", [
    (("name",), None, "scenario: missing name"),
    (("block_hours",), 5, "block_hours: a divisor of 24 (1, 2, 3, 4, 6, 8, 12 or 24)"),
    (("profiles", "pv"), [0.5] * 23, "profiles.pv: expected 24 hourly fractions between 0 and 1"),
    (("groups", 0, "devices", 0, "type"), "toaster",
     "groups[0].devices[0].type: 'toaster' is not one of load, generation, storage, ev_charger, heat_pump"),
    (("groups", 0, "devices", 0, "profile"), "nope", "groups[0].devices[0].profile: no profile 'nope'"),
    (("groups", 5, "devices", 1, "type"), "generation", "groups[5].devices: at most one device of each type per prosumer"),
    (("groups", 0, "aggregator"), "agg9", "groups[0].aggregator: no aggregator 'agg9'"),
    (("groups", 0, "buses"), ["Bus R11"], "groups[0].buses: 'Bus R11' is not an id (1 to 40 characters from a-z 0-9 . _ -)"),
    (("groups", 0, "count"), 0, "groups[0]: needs at least one bus and a count of 1 to 500"),
    (("sessions", 0, "start"), "18:10", "sessions[0].start: '18:10' is not a quarter-hour time HH:MM"),
    (("sessions", 2, "mtus"), 20, "sessions[2].mtus: 1 to 12 (the session stays within the day)"),
    (("sessions", 0, "max_price"), 0.3,
     "sessions[0].max_price: group r-ev's ev_charger asks up to 0.3300 tokens/kWh (price + 10 %)"),
    (("sessions", 0, "groups"), ["c-office"], "sessions[0].groups: no group 'c-office' on feeder 'r'"),
    (("sessions", 0, "flexibility"), 2, "sessions[0].flexibility: a fraction between 0 and 1"),
    (("sessions", 0, "kind"), "flex", "sessions[0].kind: only energy sessions are scripted (flexibility follows the oracle)"),
    (("aggregators", 0, "flex_price"), 0.5, "aggregators[0].flex_price: 0 to 0.4 (the grid oracle's price cap)"),
    (("chain", "validators"), 5, "chain.validators: the DSO and each aggregator run one (4)"),
    (("chain", "restart"), "dso", "chain.restart: an aggregator's validator (agg1, agg2, agg3), with at least 4 "
                                  "validators so that the others keep finalizing"),
    (("feeder",), "grid.json", "forecast: a feeder file needs its forecast file"),
    (("day",), "tomorrow", "scenario.day: expected int, got 'tomorrow'"),
])
def test_a_bad_scenario_is_refused_naming_the_field(doc, path, value, message):
    with pytest.raises(ScenarioError) as refused:
        parse_scenario(changed(doc, path, value), BUILT_IN.parent)
    assert str(refused.value) == message


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ScenarioError, match=r"cannot read the scenario \(No such file or directory\)$"):
        load_scenario(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ScenarioError, match=f"^{bad}: not valid TOML"):
        load_scenario(bad)
