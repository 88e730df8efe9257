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
                 "precommit": 0.3, "precommit_delta": 0.2, "cap": 3.0}


@contextlib.contextmanager
def running_testnet(directory, validators: int = 4, oracle: bool = False, timeouts: dict | None = FAST_TIMEOUTS):
    """A testnet in ``directory``, stopped afterwards; the grid oracle runs only when asked for.
    ``timeouts=None`` gives the testnet defaults (``flexledger testnet up``)."""
    layout = generate(directory, validators, timeouts=timeouts)
    net = Testnet(layout)
    try:
        net.up(timeout=60, oracle=oracle)
        yield net
    finally:
        net.down()


def node_key(net: Testnet, name: str):
    return NodeHome(Path(net.layout.node(name).home)).load_key(net.layout.password())


def issuer_key(net: Testnet):
    return Keystore(net.layout.wallet / "keys").load("issuer", DEFAULT_PASSWORD)


def heights(net: Testnet, names: list[str]) -> dict[str, int | None]:
    return {name: net.height(name) for name in names}


def wait_progress(net: Testnet, names: list[str], blocks: int = 2, timeout: float = 40.0) -> None:
    start = max(h or 0 for h in heights(net, names).values())
    net.wait_for_height(start + blocks, timeout, names)


def assert_stalled(net: Testnet, names: list[str], seconds: float = 4.0) -> None:
    """No new height is finalized among ``names`` (a node may still catch up to the highest)."""
    settled = time.monotonic() + 10
    top = max(h or 0 for h in heights(net, names).values())
    quiet_since = time.monotonic()
    while time.monotonic() < settled and time.monotonic() - quiet_since < 1.5:  # a decision in flight may land
        time.sleep(0.2)
        now = max(h or 0 for h in heights(net, names).values())
        if now != top:
            top, quiet_since = now, time.monotonic()
    time.sleep(seconds)
    after = max(h or 0 for h in heights(net, names).values())
    assert after == top, f"blocks were finalized without a quorum: highest height went {top} -> {after}"
