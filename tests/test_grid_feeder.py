"""Feeder model: CIGRE LV topology, element ids, feeders, ratings, pandapower JSON files."""
import pandapower as pp
import pandapower.networks as pn
import pytest

from gridoracle.feeder import CIGRE_LV_LINE_RATINGS_KA, FeederError, load_feeder


@pytest.fixture(scope="module")
def model():
    return load_feeder()


def test_cigre_lv_feeders_follow_the_transformers(model):
    assert sorted(model.feeders) == ["C", "I", "R"]
    assert model.feeders["I"] == ("Bus I1", "Bus I2")
    assert model.feeders["R"] == tuple(f"Bus R{n}" for n in range(1, 19))
    assert model.feeders["C"] == tuple(f"Bus C{n}" for n in range(1, 21))
    upstream = [bus.key for bus in model.buses if bus.feeder is None]
    assert upstream == ["Bus 0", "Bus R0", "Bus I0", "Bus C0"]
    assert {t.id: t.feeder for t in model.trafos} == {
        "trafo:Trafo R0-R1": "R", "trafo:Trafo I0-I1": "I", "trafo:Trafo C0-C1": "C"}


def test_element_ids_and_limits(model):
    assert len(model.buses) == 44 and len(model.lines) == 37 and len(model.trafos) == 3
    line = {line.id: line for line in model.lines}["line:Line R3-R11"]
    assert (line.from_bus, line.to_bus, line.feeder) == ("Bus R3", "Bus R11", "R")
    assert line.rating_ka == CIGRE_LV_LINE_RATINGS_KA["UG3"] == 0.15
    trafo = {t.id: t for t in model.trafos}["trafo:Trafo I0-I1"]
    assert (trafo.hv_bus, trafo.lv_bus, trafo.rating_mva) == ("Bus I0", "Bus I1", 0.15)
    assert model.bus("Bus C12").id == "bus:Bus C12"
    with pytest.raises(FeederError, match="unknown bus 'Bus X'"):
        model.bus("Bus X")
    # The model's network carries no injections: the forecast and positions replace them.
    assert len(model.pandapower_net().load) == 0


def test_keep_the_networks_own_ratings():
    model = load_feeder(line_ratings_ka={})
    assert {line.rating_ka for line in model.lines} == {1.0}


def test_json_file_with_unnamed_lines(tmp_path):
    net = pn.create_cigre_network_lv()
    net.line["name"] = None
    path = tmp_path / "lv.json"
    pp.to_json(net, str(path))
    model = load_feeder(path)
    assert model.name == "lv"
    assert model.lines[0].id == "line:0" and model.lines[0].rating_ka == 1.0
    assert sorted(model.feeders) == ["Trafo C0-C1", "Trafo I0-I1", "Trafo R0-R1"]
    renamed = load_feeder(path, line_ratings_ka={"UG3": 0.1}, feeder_names={"Trafo R0-R1": "res"})
    assert "res" in renamed.feeders
    assert {line.rating_ka for line in renamed.lines if line.feeder == "res"} == {1.0, 0.1}


def test_a_tie_line_joins_feeders_only_when_closed(tmp_path):
    net = pn.create_cigre_network_lv()
    bus = {name: idx for idx, name in net.bus.name.items()}
    tie = pp.create_line(net, bus["Bus R18"], bus["Bus C20"], length_km=0.1, std_type="UG3", name="Tie R18-C20")
    switch = pp.create_switch(net, bus["Bus R18"], tie, et="l", closed=False)
    path = tmp_path / "tie.json"
    pp.to_json(net, str(path))
    assert sorted(load_feeder(path, feeder_names={"Trafo R0-R1": "R", "Trafo C0-C1": "C"}).feeders) == [
        "C", "R", "Trafo I0-I1"]
    net.switch.at[switch, "closed"] = True
    pp.to_json(net, str(path))
    meshed = load_feeder(path, feeder_names={"Trafo R0-R1": "R", "Trafo C0-C1": "C"})
    assert sorted(meshed.feeders) == ["C+R", "Trafo I0-I1"]


def test_out_of_service_elements_are_not_modelled(tmp_path):
    net = pn.create_cigre_network_lv()
    net.line.loc[net.line.name == "Line C9-C20", "in_service"] = False
    path = tmp_path / "lv.json"
    pp.to_json(net, str(path))
    model = load_feeder(path)
    assert "line:Line C9-C20" not in {line.id for line in model.lines}
    assert "Bus C20" not in model.bus_keys()


def test_unsupported_or_broken_networks(tmp_path):
    net = pn.create_cigre_network_lv()
    pp.create_gen(net, 5, p_mw=0.01, vm_pu=1.0)
    path = tmp_path / "gen.json"
    pp.to_json(net, str(path))
    with pytest.raises(FeederError, match=r"^unsupported element table 'gen' \(1 in service\)$"):
        load_feeder(path)
    net = pn.create_cigre_network_lv()
    net.ext_grid["in_service"] = False
    path = tmp_path / "noslack.json"
    pp.to_json(net, str(path))
    with pytest.raises(FeederError, match=r"^the network has no in-service external grid \(slack\)$"):
        load_feeder(path)
    with pytest.raises(FeederError, match="cannot load pandapower network"):
        load_feeder(tmp_path / "missing.json")
    with pytest.raises(FeederError, match="^no line has std_type 'UG9'$"):
        load_feeder(line_ratings_ka={"UG9": 0.2})
    with pytest.raises(FeederError, match="^line:Line R3-R11 has no positive rating$"):
        load_feeder(line_ratings_ka={"UG3": 0.0})
