"""One session of each type, end to end through the `flexledger` CLI against a dev node process.

The DSO opens an energy session, a flexibility request and a capacity session with short
phases; prosumers and an aggregator bid and offer (one bid reveals by itself in the
background, the others with `market reveal`), the sessions are cleared, the meter data
manager submits signed readings, and the sessions are settled; the results, settlement and
balances printed by the CLI are checked, and so are a few rejections as the user sees them.
"""
import subprocess
import sys
import time

import pytest

from testnet.devnode import DevNode

PHASES = ["--commit-secs", "30", "--gate-secs", "1", "--reveal-secs", "25", "--settle-secs", "3600"]
PEOPLE = {"dso": "dso", "mdm": "meter_data_manager", "agg": "aggregator", "alice": "prosumer", "bob": "prosumer"}


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    dev = DevNode(tmp_path_factory.mktemp("market-cli"), block_interval=0.2)
    dev.init(meter_lead=86400)  # the sessions' MTUs are metered minutes after they are traded
    dev.start()
    yield dev
    dev.stop()


def cli(node, *args) -> str:
    return node.cli(*map(str, args)).stdout


def fails(node, *args) -> str:
    result = node.cli(*map(str, args), check=False)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr.strip()


def balance(node, who) -> str:
    return cli(node, "wallet", "balance", who).split()[1]


def test_one_session_of_each_type_end_to_end(node):
    for name, role in PEOPLE.items():
        cli(node, "keys", "new", name)
        cli(node, "wallet", "send", name, "1000", "--key", "issuer")
        assert cli(node, "participant", "admit", name, "--name", name, "--role", role, "--key", "issuer") \
            .startswith(f"admitted {name} (0x")
    assert fails(node, "participant", "admit", "alice", "--name", "x", "--role", "dso", "--key", "alice") == \
        "error [require_failed]: only the registry authority may admit participants"
    for device, kind, owner, bus, extra in (("alice-load", "load", "alice", "bus1", []),
                                            ("bob-pv", "generation", "bob", "bus2", []),
                                            ("bob-battery", "storage", "bob", "bus2",
                                             ["--capacity", "20000", "--aggregator", "agg"])):
        cli(node, "device", "register", device, "--type", kind, "--max-power", "40000", "--bus", bus,
            "--feeder", "f1", "--key", owner, *extra)
    listing = cli(node, "device", "list", "--trader", "agg")
    assert listing.startswith("bob-battery") and "storage" in listing and len(listing.splitlines()) == 1

    first = int(time.time()) // 900 + 8
    window = ["--feeder", "f1", "--first-mtu", first, "--mtus", "2", *PHASES]
    assert "opened energy session 1" in cli(node, "dso", "open-energy", "--key", "dso", *window, "--max-price", "0.5",
                                           "--max-qty", "10000", "--imbalance-price", "0.3")
    # the flexibility market is open only in YELLOW: the DSO declares it (here for an MTU after the
    # sessions' window, so the energy session below is not affected)
    assert fails(node, "dso", "regime", "set", "f1", "yellow", "--key", "agg", "--reason", "x", "--mtus",
                 str(first + 4)) == "error [require_failed]: only the DSO or the grid oracle key may change a regime"
    assert fails(node, "dso", "regime", "set", "f1", "yellow", "--key", "dso", "--reason", "x") == \
        "error: a YELLOW regime needs --mtus: the affected MTU numbers"
    out = cli(node, "dso", "regime", "set", "f1", "yellow", "--key", "dso", "--reason", "forecast overload",
              "--mtus", str(first + 4))
    assert out.startswith("feeder f1: YELLOW") and "forecast overload" in out and "(change 1," in out
    assert cli(node, "dso", "regime", "show", "f1").splitlines()[1].split()[:2] == ["1", "YELLOW"]
    out = cli(node, "dso", "request-flex", "--key", "dso", *window, "--bus", "bus2", "--direction", "up",
              "--power", "4000", "--max-price", "0.4", "--penalty-price", "0.1")
    assert "opened flex session 2" in out and "escrowed 1.600000" in out   # 2 MTUs * 0.4 * 2 * 4000 W / 4000
    assert "opened capacity session 3" in cli(node, "dso", "capacity", "--key", "dso", *window, "--capacity",
                                             "10000,3000", "--rule", "premium", "--max-price", "1", "--max-qty", "10000")
    sessions = cli(node, "market", "sessions").splitlines()
    assert [line.split()[1:3] for line in sessions] == [["energy", "commit"], ["flex", "commit"], ["capacity", "commit"]]

    # rejections as the wallet sees them, before anything is committed
    assert fails(node, "market", "offer", 2, "--key", "agg", "--device", "bob-battery", "--price", "0.45",
                 "--qty", "4000") == "error [require_failed]: offer price above the price cap"
    assert fails(node, "market", "bid", 1, "--key", "alice", "--device", "bob-pv", "--price", "0.2",
                 "--qty", "1000") == "error [require_failed]: device not in the trader's portfolio"
    assert fails(node, "market", "bid", 2, "--key", "agg", "--device", "bob-battery", "--price", "0.2",
                 "--qty", "1000") == "error: a flex session takes offers: use 'flexledger market offer'"

    assert "committed sell 1 in session 1" in cli(node, "market", "offer", 1, "--key", "bob", "--device",
                                                  "bob-pv", "--price", "0.1", "--qty", "5000", "--no-reveal")
    # alice's bid reveals by itself when the reveal phase opens
    background = subprocess.Popen([sys.executable, "-m", "cli.main", "market", "bid", "1", "--key", "alice",
                                   "--device", "alice-load", "--price", "0.2", "--qty", "3000", "--wait", "120"],
                                  env=node.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        cli(node, "market", "offer", 2, "--key", "agg", "--device", "bob-battery", "--price", "0.3", "--qty",
            "4000", "--indivisible", "--baseline", "0", "--no-reveal")
        cli(node, "market", "bid", 3, "--key", "alice", "--device", "alice-load", "--price", "0.8", "--qty", "6000",
            "--min-qty", "1000", "--no-reveal")
        cli(node, "market", "bid", 3, "--key", "agg", "--device", "bob-battery", "--price", "0.9", "--qty", "5000",
            "--mtus", "1", "--no-reveal")
        assert "sealed" in cli(node, "market", "orders", 1)
        revealed = cli(node, "market", "reveal", "--key", "agg", "--wait", "120")
        assert "revealed offer 1 in session 2" in revealed and "revealed bid 2 in session 3" in revealed
        cli(node, "market", "reveal", "--key", "bob", "--wait", "120")
        cli(node, "market", "reveal", "--key", "alice", "3")
        out, err = background.communicate(timeout=120)
    finally:
        if background.poll() is None:
            background.kill()
    assert background.returncode == 0, err
    assert "waiting for the reveal phase" in out and "revealed buy 2 in session 1" in out

    client = node.client
    while client.query(client.contracts()["market"], "session", [3])["phase"] != "clearing":  # opened last
        time.sleep(0.5)
    for sid in (1, 2, 3):
        assert f"session {sid} cleared: now delivery" in cli(node, "market", "clear", sid, "--key", "mdm")
    results = cli(node, "market", "results", 1)
    assert "3000 Wh  1 trades  price 0.100000/kWh" in results   # the offer keeps 2000 Wh: the interval is [0.1, 0.1]
    assert "all selection of 1 offers: 4000 W awarded for 4000 W requested" in cli(node, "market", "results", 2)
    capacity = cli(node, "market", "results", 3)
    assert "6000 of 10000 W to 1 bids" in capacity and "3000 of 3000 W to 1 bids" in capacity

    readings = [f"alice-load,{first},3000", f"bob-pv,{first},-2000", f"alice-load,{first + 1},3000",
                f"bob-pv,{first + 1},-3000", f"bob-battery,{first},-1000", f"bob-battery,{first + 1},-500"]
    assert "recorded 6 readings" in cli(node, "meter", "submit", "--key", "mdm",
                                        *[arg for r in readings for arg in ("--reading", r)])
    assert fails(node, "meter", "submit", "--key", "mdm", "--reading", f"bob-pv,{first},1") == \
        f"error [require_failed]: meter reading already recorded for bob-pv MTU {first}"
    before = {who: balance(node, who) for who in ("dso", "alice", "bob", "agg")}
    for sid in (1, 2, 3):
        assert f"session {sid} settled" in cli(node, "market", "settle", sid, "--key", "mdm")
    energy = cli(node, "market", "settlement", 1)
    # bob sold 3000 Wh but exported only 2000: short 1000 Wh at 0.3/kWh = 0.3 into the pool (no long side)
    assert "bob-pv MTU" in energy and "imbalance charge 0.300000 of 0.300000" in energy
    flex = cli(node, "market", "settlement", 2)
    assert "delivered 1000 Wh, paid 0.300000" in flex and "delivered 500 Wh, paid 0.150000" in flex
    assert "penalty 0.040000 of 0.040000" in flex   # 1000 - 100 tolerance - 500 = 400 Wh at 0.1
    after = {who: balance(node, who) for who in ("dso", "alice", "bob", "agg")}
    assert cli(node, "market", "show", 1).startswith("session 1: energy, phase settled")
    assert "direction up, 4000 W" in cli(node, "market", "show", 2)
    assert "rule premium, capacity [10000, 3000] W" in cli(node, "market", "show", 3)
    assert "offer bob-battery 4000 (min 4000) at 0.300000/kWh MTUs all baseline 0 Wh" in cli(node, "market", "orders", 2)
    assert "bid 2 bob-battery MTU" in cli(node, "market", "settlement", 3)   # agg's capacity bid (seq 2)
    listing = cli(node, "participant", "list").splitlines()  # everyone, and the grid oracle admitted at genesis
    assert len(listing) == len(PEOPLE) + 1 and sum("dso grid oracle" in line for line in listing) == 1
    assert all(a != b for a, b in zip(before.values(), after.values()))
    # every token that went into escrow came back out
    assert cli(node, "wallet", "balance", client.contracts()["market"]).split()[1] == "0.000000"
