"""Heavy queries against a live dev node: does it keep answering and producing blocks?

Starts a dev node (block interval 0.2 s) whose genesis holds a contract with an endless
loop, lets queries have 50,000,000 gas (the old default limit; today's is 5,000,000), and
sends two such queries at once. Meanwhile it asks ``/health`` every 50 ms. It prints how
each query ended and after how long, the median and worst ``/health`` latency, and the
blocks produced while the queries ran. Before queries left the event loop, ``/health``
waited for both queries (seconds) and blocks stopped.

Reproduce: .venv/bin/python bench/bench_queries.py
"""
from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.keys import genesis_contract_address  # noqa: E402
from testnet.devnode import DevNode  # noqa: E402
from tests.httpkit import post  # noqa: E402

SPINNER = "def spin():\n    i = 0\n    while i >= 0:\n        i = i + 1\n"
QUERY_GAS = 50_000_000
BLOCK_INTERVAL = 0.2


def dev_node_with_spinner(directory: Path) -> DevNode:
    node = DevNode(directory, block_interval=BLOCK_INTERVAL)
    node.init()
    home = directory / "node"
    genesis = json.loads((home / "genesis.json").read_text())
    genesis["contracts"].append({"name": "spinner", "source": SPINNER, "deployer": "0x" + "00" * 20, "init_args": []})
    (home / "genesis.json").write_text(json.dumps(genesis))
    config = json.loads((home / "config.json").read_text())
    config["query_gas_limit"] = QUERY_GAS
    (home / "config.json").write_text(json.dumps(config))
    node.start()
    return node


def main() -> None:
    node = dev_node_with_spinner(Path(tempfile.mkdtemp()))
    try:
        time.sleep(1)
        first_height = node.client.get("/health")["height"]
        endings: list[str] = []

        def heavy() -> None:
            started = time.monotonic()
            status, body = post(node.url + "/query", {"contract": genesis_contract_address("spinner"), "function": "spin"},
                                timeout=120)
            endings.append(f"{status} {body.get('code')} after {time.monotonic() - started:.2f} s")

        queries = [threading.Thread(target=heavy) for _ in range(2)]
        started = time.monotonic()
        for query in queries:
            query.start()
        latencies = []
        while any(query.is_alive() for query in queries):
            asked = time.monotonic()
            node.client.get("/health")
            latencies.append(time.monotonic() - asked)
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        blocks = node.client.get("/health")["height"] - first_height
        latencies.sort()
        print(f"two queries of up to {QUERY_GAS:,} gas: " + "; ".join(endings))
        print(f"/health while they ran: {len(latencies)} requests, median {latencies[len(latencies) // 2] * 1000:.0f} ms, "
              f"worst {latencies[-1] * 1000:.0f} ms")
        print(f"blocks produced in those {elapsed:.1f} s: {blocks} (one per {BLOCK_INTERVAL} s when idle)")
        print("reproduce: .venv/bin/python bench/bench_queries.py")
    finally:
        node.kill()


if __name__ == "__main__":
    main()
