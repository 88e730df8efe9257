"""Block production on real processes (issue 11): an idle chain makes heartbeat blocks only, a
transaction still commits within about a block time, and an observer relays the transactions
sent to it to the validators."""
import time
from pathlib import Path

from node.config import NodeHome
from testnet.layout import add_node, generate
from testnet import manager
from tests.chainkit import wait_until
from tests.testnetkit import FAST_TIMEOUTS, issuer_key, running_testnet

VALIDATORS = ["dso", "agg1", "agg2", "agg3"]
HEARTBEAT = 2.0
BLOCK_TIME = 0.5


def _idle_policy(layout) -> None:
    for entry in layout.nodes:
        home = NodeHome(Path(entry.home))
        config = home.load_config()
        config.block_time, config.empty_blocks, config.empty_block_interval = BLOCK_TIME, False, HEARTBEAT
        home.save_config(config)


def _transfer(client, key, to: str, timeout: float = 20.0) -> dict:
    token = client.contracts()["token"]
    return client.call(key, token, "transfer", [to, 1], gas_limit=30_000)


def _block(client, height: int) -> dict:
    return client.get(f"/block/{height}")


def test_an_idle_chain_makes_heartbeat_blocks_only_and_a_transfer_commits_within_a_block_time(tmp_path):
    layout = generate(tmp_path, 4, timeouts=FAST_TIMEOUTS)
    _idle_policy(layout)
    net = manager.Testnet(layout)
    try:
        net.up(timeout=60, oracle=False)
        client = net.client("dso")
        # Past the start: a validator that entered height 1 by sync times its heartbeat from an
        # older round 0 and may open height 2 at once (a gap of 0.07 s seen once in a full run).
        wait_until(lambda: client.status()["height"] >= 2, 3 * HEARTBEAT)
        first = client.status()["height"]
        time.sleep(3 * HEARTBEAT + 0.5)
        last = client.status()["height"]
        assert 2 <= last - first <= 4, (first, last)          # one block per heartbeat, not one per block time
        # gaps between the blocks made while watching (the one before may still be the start's)
        stamps = [_block(client, h)["header"]["timestamp_ms"] for h in range(first + 1, last + 1)]
        gaps = [(b - a) / 1000 for a, b in zip(stamps, stamps[1:])]
        assert all(HEARTBEAT - 0.3 <= gap <= HEARTBEAT + 1.0 for gap in gaps), gaps
        assert all(not _block(client, h)["txs"] for h in range(first + 1, last + 1))

        time.sleep(0.7)                                       # mid-way between two heartbeats
        started = time.monotonic()
        receipt = _transfer(net.client("agg2"), issuer_key(net), "0x" + "42" * 20)["receipt"]
        took = time.monotonic() - started
        assert receipt["status"] == "ok", receipt
        assert took < BLOCK_TIME + 1.0, took                  # at most the block time and one round, not 2 s
        status = net.client("agg1").status()["consensus"]
        assert status["step"] in ("new-height", "commit", "propose", "prevote", "precommit")
    finally:
        net.down()


def test_an_observer_relays_a_transfer_to_the_validators(tmp_path):
    with running_testnet(tmp_path) as net:
        entry, observer_key = add_node(net.layout, "observer")  # its own key, not a validator
        issuer = issuer_key(net)
        dso = net.client("dso")
        registry = dso.contracts()["registry"]
        admitted = dso.call(issuer, registry, "admit", [observer_key.address, "observer", ["prosumer"],
                                                          observer_key.public_key.hex()], gas_limit=50_000)
        assert admitted["receipt"]["status"] == "ok", admitted
        net.start("observer")
        observer = net.client("observer")
        wait_until(lambda: (net.height("observer") or 0) >= dso.status()["height"] - 1, timeout=30, interval=0.2)
        wait_until(lambda: len(observer.status()["consensus"]["peers"]) == 4, timeout=15, interval=0.2)
        receipt = _transfer(observer, issuer, "0x" + "43" * 20)["receipt"]
        assert receipt["status"] == "ok", receipt
        height = receipt["height"]
        assert dso.get(f"/tx/{receipt['tx_hash']}")["receipt"]["height"] == height
        assert net.client("observer").status()["consensus"]["validator"] is None
