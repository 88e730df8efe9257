"""The grid oracle process's logic against a real dev node: attest, YELLOW and flexibility, RED.

The node runs as an OS process (``flexledger node start --dev``); the oracle (``Oracle``,
the same object ``flexledger oracle start`` runs) steps in the test process so that each
test decides when it looks at the chain.  The market is tests/oraclekit.py's: EVs on CIGRE
LV feeder R that overload line R1-R2 at 20:00.
"""
import subprocess
import sys
from dataclasses import replace

import pytest

from gridoracle.config import FlexPolicy, OracleHome
from gridoracle.service import Oracle
from market import sources
from market.attestation import positions
from market.client import MarketClient
from market.orders import Order
from node.keystore import Keystore
from testnet import actors
from testnet.devnode import DEV_PASSWORD, DevNode
from tests import oraclekit
from tests.oraclekit import FEEDER


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    dev = DevNode(tmp_path_factory.mktemp("oracle"), block_interval=0.2)
    dev.init()
    home = OracleHome(dev.home / "oracle")
    home.save_config(replace(home.load_config(), flexibility=FlexPolicy(commit_secs=3, gate_secs=1, reveal_secs=3,
                                                                        settle_secs=3600)))
    dev.start()
    try:
        market = MarketClient(dev.client)
        issuer = Keystore(dev.home / "keys").load("issuer", DEV_PASSWORD)
        people = oraclekit.set_up(market, issuer)
        yield dev, market, people, Oracle.open(home, DEV_PASSWORD)
    finally:
        dev.stop()


_days = iter(range(30_000, 40_000))


def cleared(world, orders_of) -> dict:
    _dev, market, people, oracle = world
    session = oraclekit.open_session(market, people, next(_days), oracle.address)
    return oraclekit.trade(market, session["id"], orders_of(people))


def regime_changes(market, since: int) -> list[dict]:
    return market.query(sources.GRID, "history", FEEDER, since, 100)


def regime_seq(market) -> int:
    return market.query(sources.GRID, "regime", FEEDER)["seq"]


def test_an_approved_session_is_attested_once_and_nothing_else_happens(world):
    _dev, market, people, oracle = world
    session = cleared(world, lambda p: oraclekit.evening_peak(p, 1_000))
    assert session["phase"] == "grid_validation_pending"
    seq, actions = regime_seq(market), oracle.actions
    oracle.step()
    record = market.query(sources.MARKET, "attestation", session["id"])
    assert record["attestor"] == oracle.address and record["report"]["verdict"] == "approved"
    assert record["changes"] == [] and market.session(session["id"])["phase"] == "delivery"
    assert oracle.actions == actions + 1 and regime_seq(market) == seq
    oracle.step()
    assert oracle.actions == actions + 1  # nothing twice
    assert oracle.journal.attested[str(session["id"])]["verdict"] == "approved"


def test_congestion_turns_the_feeder_yellow_and_flexibility_turns_it_green(world):
    _dev, market, people, oracle = world
    session = cleared(world, lambda p: oraclekit.evening_peak(p, 3_750))
    sid, first, seq = session["id"], session["first_mtu"], regime_seq(market)
    oracle.step()
    assert market.query(sources.MARKET, "attestation", sid) is None  # waits for the flexibility
    yellow = market.query(sources.GRID, "regime", FEEDER)
    assert yellow["state"] == "YELLOW" and yellow["mtus"] == [first + 4, first + 5]
    assert yellow["reason"].startswith(f"session {sid}: line:Line R1-R2 at 103.") and "% (20:00)" in yellow["reason"]
    assert len(yellow["attestation"]) == 64 and yellow["by"] == oracle.address
    flex_id = oracle.journal.episodes[str(sid)]["flex"]
    flex = market.session(flex_id)
    assert (flex["kind"], flex["operator"], flex["direction"], flex["first_mtu"], flex["n_mtus"]) == \
        ("flex", oracle.address, "up", first + 4, 2)
    assert "bus-r11" in flex["buses"] and "bus-r1" not in flex["buses"] and 7_000 < flex["power"] < 8_500

    offer = actors.commit(market, people.agg, flex_id, Order("offer", "bat1", 200_000, flex["power"], 1))
    market.wait_for_phase(flex_id, ("reveal",), timeout=30, poll=0.1)
    actors.reveal(market, people.agg, offer)
    market.wait_for_phase(flex_id, ("clearing",), timeout=30, poll=0.1)
    oracle.step()  # the oracle clears its own request
    assert market.session(flex_id)["phase"] == "grid_validation_pending"
    oracle.step()
    for attested in (sid, flex_id):
        assert market.query(sources.MARKET, "attestation", attested)["report"]["verdict"] == "approved"
    changes = regime_changes(market, seq)
    assert [c["state"] for c in changes] == ["YELLOW", "GREEN"]
    assert changes[1]["reason"] == f"flexibility request {flex_id} resolves session {sid}"
    assert changes[1]["attestation"] == market.query(sources.MARKET, "attestation", sid)["report"]["input_hash"]
    assert oracle.journal.episodes == {}


def test_flexibility_that_is_not_enough_turns_the_feeder_red_curtails_and_returns_it_green(world):
    _dev, market, people, oracle = world
    session = cleared(world, lambda p: oraclekit.evening_peak(p, 3_750))
    sid, first, seq = session["id"], session["first_mtu"], regime_seq(market)
    oracle.step()
    flex_id = oracle.journal.episodes[str(sid)]["flex"]
    market.wait_for_phase(flex_id, ("clearing",), timeout=30, poll=0.1)  # nobody offers
    oracle.step()
    oracle.step()
    changes = regime_changes(market, seq)
    assert [c["state"] for c in changes] == ["YELLOW", "RED", "GREEN"]
    assert changes[1]["reason"].startswith(f"flexibility request {flex_id} is not enough for session {sid}: ")
    assert changes[2]["reason"] == f"curtailment of session {sid} applied: within limits"
    record = market.query(sources.MARKET, "attestation", sid)
    report = record["report"]
    assert report["verdict"] == "violated" and {v[0] for v in report["violations"]} >= {"line:Line R1-R2"}
    assert {(m, d) for m, d, _wh in report["curtailment"]} <= {(first + k, ev) for k in (4, 5) for ev in ("ev1", "ev2")}
    assert record["changes"] and all(change[4] < change[3] for change in record["changes"])
    for mtu, device, wh in report["curtailment"]:  # direct control: draw what is left of the position
        setpoint = market.query(sources.GRID, "setpoint", device, mtu)
        assert setpoint["feeder"] == FEEDER and setpoint["watts"] == pytest.approx(4 * (3_750 - wh), abs=4)
    kept = positions(market.rows(sid, "results"), market.devices_by_seq(sid), first)
    for mtu in {mtu for mtu, _device, _wh in report["curtailment"]}:  # the seller sells less: it may feed in less
        assert market.query(sources.GRID, "setpoint", "gen1", mtu)["watts"] == 4 * kept[(mtu, "gen1")] < 0
    assert oracle.journal.episodes == {}


def test_a_restart_after_the_request_adopts_it_instead_of_asking_again(world):
    dev, market, people, oracle = world
    session = cleared(world, lambda p: oraclekit.evening_peak(p, 3_750))
    oracle.step()
    flex_id = oracle.journal.episodes[str(session["id"])]["flex"]
    oracle.journal.episodes.clear()  # as if it crashed before writing its journal
    oracle.journal.save()
    restarted = Oracle.open(OracleHome(dev.home / "oracle"), DEV_PASSWORD)
    sessions_before = len(market.sessions())
    restarted.step()
    assert restarted.actions == 0 and len(market.sessions()) == sessions_before
    assert restarted.journal.episodes[str(session["id"])]["flex"] == flex_id
    market.wait_for_phase(flex_id, ("clearing",), timeout=30, poll=0.1)
    restarted.step()
    restarted.step()
    assert market.query(sources.MARKET, "attestation", session["id"]) is not None
    assert market.query(sources.GRID, "regime", FEEDER)["state"] == "GREEN"


def test_a_device_on_a_bus_outside_the_model_is_reported_and_the_session_waits(world):
    dev, market, people, oracle = world
    session = cleared(world, lambda p: [(p.stray, Order("buy", "stray-load", 300_000, 500, 1, (0,))),
                                        (p.seller, Order("sell", "gen1", 100_000, 500, 1, (0,)))])
    oracle.step()
    oracle.step()
    assert market.query(sources.MARKET, "attestation", session["id"]) is None
    assert oracle.journal.errors[str(session["id"])] == \
        "device 'stray-load' is on bus 'bus-x9', which is not in the feeder model (map it in oracle.json \"buses\")"
    status = dev.cli("oracle", "status").stdout
    assert f"error    session {session['id']}: device 'stray-load' is on bus 'bus-x9'" in status
    assert "regimes  r GREEN" in status


def test_grid_show_prints_the_latest_loadings_and_the_regimes(world):
    dev, market, people, oracle = world
    session = cleared(world, lambda p: oraclekit.evening_peak(p, 1_000))
    oracle.step()
    out = dev.cli("grid", "show").stdout.splitlines()
    assert out[0] == "feeder model cigre-lv: limits lines 100 %, transformers 100 %, voltage 0.90-1.10 p.u."
    assert any(line.startswith("R        r             18  GREEN") for line in out)
    assert f"validation of session {session['id']} (energy, feeder r, cleared): approved, 0 violations; " \
           "worst MTU of each element" in out
    r1r2 = next(line for line in out if line.startswith("line:Line R1-R2 "))
    loading, at = r1r2.split()[-2:]  # the forecast's 20:00 peak (89.8 %) plus 8 kW of EVs
    assert 90 < float(loading.rstrip("%")) < 100 and at == "20:00" and "0.350 kA" in r1r2
    at_mtu = dev.cli("grid", "show", "--mtu", str(session["first_mtu"])).stdout
    assert "MTU " + str(session["first_mtu"]) + " (19:00)" in at_mtu
    failed = dev.cli("grid", "show", "--session", "999999", check=False)
    assert failed.returncode == 1 and failed.stderr.strip() == \
        "error: the oracle has no validation of session 999999 (it keeps the latest 20)"


def test_the_cli_loads_pandapower_only_for_the_commands_that_need_it():
    probe = "import sys, cli.main; print('pandapower' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_oracle_init_creates_a_home_and_refuses_what_it_cannot_use(world, tmp_path):
    dev = world[0]
    out = dev.cli("oracle", "init", "--oracle-home", str(tmp_path / "o")).stdout
    assert out.startswith(f"created grid oracle home {tmp_path / 'o'}") and "oracle key: 0x" in out
    assert OracleHome(tmp_path / "o").load_config().node == dev.url
    again = dev.cli("oracle", "init", "--oracle-home", str(tmp_path / "o"), check=False)
    assert again.returncode == 1 and again.stderr.strip() == \
        f"error: {tmp_path / 'o'} already holds a grid oracle; remove it or choose another directory"
    lone = dev.cli("oracle", "init", "--oracle-home", str(tmp_path / "p"), "--feeder", "grid.json", check=False)
    assert lone.returncode == 1 and lone.stderr.strip() == \
        "error: --feeder needs --forecast (the uncontrolled load and generation of that feeder)"
    dev.cli("oracle", "init", "--oracle-home", str(tmp_path / "m"), "--curtail-to-pct", "98")
    assert OracleHome(tmp_path / "m").load_config().limits.curtail_to_bp == 9_800
    for bad in ("0", "100.5", "-1", "lots"):
        refused = dev.cli("oracle", "init", "--oracle-home", str(tmp_path / "n"), "--curtail-to-pct", bad, check=False)
        shown = repr(bad if bad == "lots" else float(bad))
        assert refused.returncode == 1 and refused.stderr.strip() == \
            f"error: --curtail-to-pct must be a number from 0.01 to 100 (percent of the loading limits), got {shown}"
    assert not (tmp_path / "n").exists()


def test_a_red_plan_in_the_journal_is_no_flexibility_episode_and_forgetting_drops_plan_and_error(world):
    oracle = world[3]
    journal = oracle._journal()
    journal.episodes["999999"] = {"stage": "red", "feeder": FEEDER}  # as left by a crash mid-RED
    journal.errors["999999"] = "device 'x' is on bus 'y', which is not in the feeder model"
    assert not oracle._episode_of_flex(999998)
    oracle._forget(999999)
    assert "999999" not in journal.episodes and "999999" not in journal.errors
