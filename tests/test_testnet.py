"""BFT consensus over real sockets: 4 validators as OS processes on 127.0.0.1, with faults."""
import asyncio
import json
import urllib.request
from pathlib import Path

from aiohttp import web

from cli.main import main as cli_main

from consensus.messages import PREVOTE, PRECOMMIT, Vote
from node.bftdriver import KIND_VOTE
from node.p2p import PeerInfo, PeerNetwork
from testnet.invariants import check_no_fork
from testnet.layout import add_node
from tests.chainkit import wait_until
from tests.testnetkit import assert_stalled, node_key, running_testnet, wait_progress

ALL = ["dso", "agg1", "agg2", "agg3"]
STEPS = ("new-height", "propose", "prevote", "precommit", "commit")


def _clients(net, names):
    return {name: net.client(name) for name in names}


def test_crash_faults_halt_without_quorum_and_resume_with_sync(tmp_path):
    with running_testnet(tmp_path) as net:
        net.kill("agg3")
        wait_progress(net, ["dso", "agg1", "agg2"], blocks=3)  # f = 1 crashed: still finalizing
        net.kill("agg2")
        assert_stalled(net, ["dso", "agg1"])                  # 2 of 4 down: nothing finalized
        assert_stall_explained(net, "dso", "agg3")
        net.start("agg2")
        wait_progress(net, ["dso", "agg1", "agg2"], blocks=2)  # quorum back: the chain resumes
        net.start("agg3")                                     # far behind: catches up by block sync
        top = max(net.height(n) for n in ["dso", "agg1", "agg2"])
        net.wait_for_height(top + 1, 40, ALL)
        assert check_no_fork(_clients(net, ALL)) >= top


def test_two_two_partition_stalls_then_heals(tmp_path):
    with running_testnet(tmp_path) as net:
        net.partition([["dso", "agg1"], ["agg2", "agg3"]])
        assert_stalled(net, ALL)
        net.heal()
        wait_progress(net, ALL, blocks=2)
        check_no_fork(_clients(net, ALL))


def assert_stall_explained(net, name, gone):
    """``name``'s /status and its log (one WARNING for the stalled height) name validator ``gone``
    (down since before the height began) among the missing votes, and too little power held."""
    consensus = net.client(name).status()["consensus"]
    assert gone in consensus["missing_prevotes"] and gone in consensus["missing_precommits"], consensus
    assert consensus["since"] > 3 and consensus["quorum"] == 27 and consensus["total_power"] == 40, consensus
    log = (Path(net.layout.node(name).home) / "node.log").read_text()
    stalls = [line for line in log.splitlines() if f"stall: height {consensus['height']} " in line]
    assert len(stalls) == 1 and "WARNING" in stalls[0], stalls
    missing = stalls[0].split("; missing ")[1].split(" (power ")[0].split(", ")
    held = int(stalls[0].split(" (power ")[1].split()[0])
    assert gone in missing and held < 27, stalls[0]


def test_status_and_metrics_report_consensus(tmp_path, capsys):
    with running_testnet(tmp_path) as net:
        rows = net.status()
        assert all(r["running"] and r["height"] >= 2 and r["peers"] == 3 for r in rows), rows
        assert all(r["step"] in STEPS and isinstance(r["prevotes"], dict) for r in rows), rows
        consensus = net.client("dso").status()["consensus"]
        assert consensus["step"] in STEPS and consensus["validator"] == "dso" and consensus["proposer"] in ALL
        assert {"height", "round", "since", "proposal", "prevote_power", "precommit_power", "quorum", "total_power",
                "missing_prevotes", "missing_precommits", "peers", "votes"} <= set(consensus)
        assert set(consensus["prevotes"]) | set(consensus["missing_prevotes"]) == set(ALL)
        assert consensus["prevote_power"] == sum(10 for _ in consensus["prevotes"])
        assert cli_main(["testnet", "status", "--dir", str(tmp_path)]) in (0, None)
        out = capsys.readouterr().out.splitlines()
        assert out[0].split()[:8] == ["node", "running", "height", "round", "step", "for", "peers", "votes"]
        assert [line.split()[0] for line in out[1:5]] == ALL and all(" yes " in line for line in out[1:5])
        assert all("prevotes " in line and "precommits " in line for line in out[1:5]), out
        metrics = urllib.request.urlopen(net.layout.node("dso").api_url + "/metrics", timeout=5).read().decode()
        assert "flexledger_height " in metrics and "flexledger_peers 3" in metrics
        votes = next(line for line in metrics.splitlines() if line.startswith("flexledger_votes_received_total "))
        assert int(votes.split()[1]) > 0


def test_double_signer_produces_evidence_and_is_removed(tmp_path):
    with running_testnet(tmp_path) as net:
        offender = net.layout.node("agg3")
        evidence_key = b"offender:" + bytes.fromhex(offender.address[2:])
        asyncio.run(double_sign(net, "agg3"))
        wait_until(lambda: net.client("dso").get("/proof", raw_key=evidence_key.hex())["value"] is not None, 30)
        wait_progress(net, ["dso", "agg1", "agg2"], blocks=2)  # the honest three keep finalizing
        for name in ("dso", "agg1", "agg2"):
            net.client(name).govern(node_key(net, name), "remove_validator", {"address": offender.address})
        wait_until(lambda: len(net.client("dso").status()["validators"]) == 3, 30)
        wait_progress(net, ["dso", "agg1", "agg2"], blocks=2)
        check_no_fork(_clients(net, ["dso", "agg1", "agg2"]))


def test_validator_added_then_removed_by_governance(tmp_path):
    with running_testnet(tmp_path) as net:
        entry, key = add_node(net.layout, "agg4")
        params = {"name": "agg4", "public_key": key.public_key.hex(), "power": 10, "role": "aggregator"}
        for name in ("dso", "agg1", "agg2"):
            net.client(name).govern(node_key(net, name), "add_validator", params)
        net.start("agg4")
        wait_until(lambda: len(net.client("dso").status()["validators"]) == 5, 30)
        five = ALL + ["agg4"]
        wait_progress(net, five, blocks=3)
        for name in ("dso", "agg2", "agg3", "agg4"):
            net.client(name).govern(node_key(net, name), "remove_validator", {"address": net.layout.node("agg1").address})
        wait_until(lambda: len(net.client("dso").status()["validators"]) == 4, 30)
        net.kill("agg1")
        four = ["dso", "agg2", "agg3", "agg4"]
        wait_progress(net, four, blocks=3)
        check_no_fork(_clients(net, four))


async def double_sign(net, name: str) -> None:
    """Take over validator ``name``'s identity and sign two different prevotes and precommits per round."""
    key = node_key(net, name)
    net.kill(name)
    me = net.layout.node(name)
    peers = [PeerInfo(n.address, f"http://127.0.0.1:{n.p2p_port}") for n in net.layout.nodes if n.name != name]
    network = PeerNetwork(net.layout.chain_id, key, peers, lambda public_key: True, lambda *frame: None)
    app = web.Application()
    app.add_routes(network.routes())
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", me.p2p_port).start()
    await network.start()
    try:
        for _ in range(100):
            if len(network.connected()) == len(peers):
                break
            await asyncio.sleep(0.1)
        height = net.height("dso") + 1
        for h in (height, height + 1):
            for round_ in range(3):
                for vote_type in (PREVOTE, PRECOMMIT):
                    for block_hash in (b"\x01" * 32, b"\x02" * 32):
                        vote = Vote.signed(net.layout.chain_id, key, vote_type, h, round_, block_hash)
                        network.broadcast(KIND_VOTE, vote.to_bytes())
        await asyncio.sleep(1.0)
    finally:
        await network.stop()
        await runner.cleanup()


def _wait_exit(net, name, timeout=30):
    wait_until(lambda: net.pid(name) is None, timeout)
    return (Path(net.layout.node(name).home) / "node.log").read_text()


def test_validator_stops_rather_than_risk_double_signing(tmp_path):
    with running_testnet(tmp_path) as net:
        home = Path(net.layout.node("agg3").home)
        net.kill("agg3")
        (home / "signing_state.json").unlink()
        net.start("agg3")
        log = _wait_exit(net, "agg3")
        assert "error: signing state" in log and "is missing" in log and "Traceback" not in log
        height = net.height("dso")
        (home / "signing_state.json").write_text(json.dumps(
            {"height": height + 1000, "round": 0, "step": 1, "message": "00"}))
        net.start("agg3")
        log = _wait_exit(net, "agg3", timeout=60)
        assert "refusing to double-sign" in log and "error: stopping: refusing to sign at height" in log
        assert "Traceback" not in log
        wait_progress(net, ["dso", "agg1", "agg2"], blocks=2)
