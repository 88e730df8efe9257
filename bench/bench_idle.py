"""Idle CPU of a validator on a 4-validator loopback testnet with the consortium's block policy.

Every node runs the defaults of ``node/config.py`` (``block_time`` 1 s, ``empty_blocks``
false, ``empty_block_interval`` 30 s; docs/block-production.md) instead of the testnet's
block every 0.2 s. After the first blocks, nobody sends anything; the figure is the CPU time
(utime + stime from /proc/<pid>/stat) one validator process uses over ``--seconds``, as a
share of one core, with the blocks made meanwhile. Goal (issue 11): below 2 %.

Reproduce: .venv/bin/python bench/bench_idle.py [--seconds 30] [--settle 5]
(``--block-time 0.2 --empty-blocks`` measures the local testnet's policy for comparison)
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.config import NodeConfig, NodeHome  # noqa: E402
from testnet.layout import generate  # noqa: E402
from testnet.manager import Testnet  # noqa: E402

DEFAULTS = NodeConfig()


def cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def set_policy(net: Testnet, block_time: float, empty_blocks: bool, interval: float) -> None:
    for entry in net.layout.nodes:
        home = NodeHome(Path(entry.home))
        config = home.load_config()
        config.block_time, config.empty_blocks, config.empty_block_interval = block_time, empty_blocks, interval
        home.save_config(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to measure")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait after start-up first")
    parser.add_argument("--block-time", type=float, default=DEFAULTS.block_time)
    parser.add_argument("--empty-blocks", action="store_true", default=DEFAULTS.empty_blocks)
    parser.add_argument("--empty-block-interval", type=float, default=DEFAULTS.empty_block_interval)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        net = Testnet(generate(Path(directory), 4))
        set_policy(net, args.block_time, args.empty_blocks, args.empty_block_interval)
        try:
            net.up(timeout=90, min_height=1, oracle=False)
            time.sleep(args.settle)
            pid, client = net.pid("agg1"), net.client("agg1")
            height, cpu, started = client.status()["height"], cpu_seconds(pid), time.monotonic()
            time.sleep(args.seconds)
            used, elapsed = cpu_seconds(pid) - cpu, time.monotonic() - started
            blocks = client.status()["height"] - height
        finally:
            net.down()
    print(f"idle validator (agg1 of 4; block_time {args.block_time:g} s, empty_blocks "
          f"{str(args.empty_blocks).lower()}, empty_block_interval {args.empty_block_interval:g} s): "
          f"{100 * used / elapsed:.2f} % of one core over {elapsed:.0f} s ({used:.2f} s CPU), {blocks} blocks")


if __name__ == "__main__":
    main()
