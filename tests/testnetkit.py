"""Helpers for multi-process testnet tests: start a testnet in a temp dir, always tear it down."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

from node.config import NodeHome
from node.keystore import Keystore
from testnet.layout import DEFAULT_PASSWORD, generate
from testnet.manager import Testnet

FAST_TIMEOUTS = {"propose": 0.6, "propose_delta": 0.3, "prevote": 0.3, "prevote_delta": 0.2,
                 "precommit": 0.3, "precommit_delta": 0.2, "cap": 3.0, "commit": 0.1}


@contextlib.contextmanager
def running_testnet(directory, validators: int = 4):
    layout = generate(directory, validators, timeouts=FAST_TIMEOUTS)
    net = Testnet(layout)
    try:
        net.up(timeout=60)
        yield net
    finally:
        net.down()


def node_key(net: Testnet, name: str):
    return NodeHome(Path(net.layout.node(name).home)).load_key()


def issuer_key(net: Testnet):
    return Keystore(net.layout.wallet / "keys").load("issuer", DEFAULT_PASSWORD)


def heights(net: Testnet, names: list[str]) -> dict[str, int | None]:
    return {name: net.height(name) for name in names}


def wait_progress(net: Testnet, names: list[str], blocks: int = 2, timeout: float = 40.0) -> None:
    start = max(h or 0 for h in heights(net, names).values())
    net.wait_for_height(start + blocks, timeout, names)


def assert_stalled(net: Testnet, names: list[str], seconds: float = 4.0) -> None:
    time.sleep(1.0)  # a block decided just before the fault may still land
    before = heights(net, names)
    time.sleep(seconds)
    after = heights(net, names)
    assert after == before, f"blocks were finalized without a quorum: {before} -> {after}"
