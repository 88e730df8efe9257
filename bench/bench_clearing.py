"""On-chain clearing of 1,000 and 10,000 revealed energy orders, next to the reference clearing.

For each book size: a fresh in-process chain with the market at genesis (the real mempool,
execution and LevelDB commit path, with the test clock of tests/market_chain.py); TRADERS
prosumers, each with a storage device; ORDERS random sealed orders (bids and offers over
4 MTUs, prices 40-160 tokens/MWh, divisible with random minimums) committed and revealed
in real transactions; then one block with the ``clear`` transaction.  Reported:

- block execution: the proposer executing the block's transactions (the VM run of
  ``clear`` and its calls) -- the figure the goal of 2 s is about;
- the whole block: execution, state root, and the LevelDB commit;
- gas used by ``clear``; the reference clearing (market.reference) on the same orders;
- the same for ``settle`` (meter data for every traded device and MTU, then payouts).

The genesis bound on order MTUs per session (8 000 by default) is raised to the book size.

Reproduce: .venv/bin/python bench/bench_clearing.py [--orders 1000 10000] [--traders 200]
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from market import meterdata  # noqa: E402
from market.genesis import MarketConfig  # noqa: E402
from market.orders import Order, commitment, new_salt  # noqa: E402
from market.reference.energy import EnergyOrder, clear_energy  # noqa: E402
from node.tx import CallPayload  # noqa: E402
from tests.chainkit import SUPPLY, TOKEN  # noqa: E402
from tests.market_chain import MARKET, METER, REGISTRY, SMALL_GAS, MarketChain, key_of  # noqa: E402

HEAVY_GAS = 50_000_000
MTUS = 4


class Timed:
    """Wraps the executor's execute_block to time the last block's execution."""

    def __init__(self, executor):
        self.inner = executor.execute_block
        self.seconds = 0.0
        executor.execute_block = self

    def __call__(self, *args, **kw):
        started = time.perf_counter()
        try:
            return self.inner(*args, **kw)
        finally:
            self.seconds = time.perf_counter() - started


def run_all(chain: MarketChain, calls: list, gas: int = SMALL_GAS) -> list:
    receipts = chain.run_all(calls, gas)
    failed = [r for r in receipts if not r.ok]
    if failed:
        raise SystemExit(f"{len(failed)} transactions failed, e.g. {failed[0].error_code}: {failed[0].error}")
    return receipts


def timed_block(chain: MarketChain, key, function: str, *args) -> tuple[object, float, float]:
    timer = chain.chain.executor.execute_block
    tx = chain.tx(key, CallPayload(MARKET, function, list(args)), HEAVY_GAS)
    chain.submit(tx)
    started = time.perf_counter()
    chain.produce()
    whole = time.perf_counter() - started
    receipt = chain.chain.store.receipt(tx.hash)
    if not receipt.ok:
        raise SystemExit(f"{function} failed: {receipt.error_code}: {receipt.error}")
    return receipt, timer.seconds, whole


def bench(orders_count: int, traders_count: int, seed: int) -> None:
    rnd = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="flexledger-bench-clearing-") as tmp:
        config = MarketConfig(commit=3600, gate=60, reveal=3600, settle=86400, max_entries=max(orders_count, 8_000))
        chain = MarketChain(Path(tmp), config=config)
        Timed(chain.chain.executor)
        dso, mdm = chain.participant("dso", "dso"), chain.participant("mdm", "meter_data_manager", funds=0)
        traders = [key_of(f"trader-{i}") for i in range(traders_count)]
        run_all(chain, [(chain.issuer, REGISTRY, "admit", [k.address, f"trader-{i}", ["prosumer"], k.public_key.hex()])
                        for i, k in enumerate(traders)])
        funds = SUPPLY // (2 * traders_count)
        run_all(chain, [(chain.issuer, TOKEN, "transfer", [k.address, funds]) for k in traders])
        run_all(chain, [(k, TOKEN, "approve", [MARKET, funds]) for k in traders])
        run_all(chain, [(k, REGISTRY, "register_device", [{
            "id": f"store-{i}", "type": "storage", "max_power": 400_000, "min_power": 0, "capacity": 10**6,
            "bus": f"bus{i % 20}", "feeder": "f1"}]) for i, k in enumerate(traders)])
        sid = chain.open_session(dso, "open_energy", n_mtus=MTUS, max_price=1_000_000, max_qty=100_000,
                                 imbalance_price=200_000, rule="uniform")
        book = []
        for n in range(orders_count):
            trader = rnd.randrange(traders_count)
            qty = rnd.randint(100, 5_000)
            order = Order(rnd.choice(("buy", "sell")), f"store-{trader}", rnd.randint(40, 160) * 1000, qty,
                          rnd.randint(1, qty), (rnd.randrange(MTUS),))
            book.append((traders[trader], order, new_salt()))
        started = time.perf_counter()
        receipts = run_all(chain, [(key, MARKET, "commit", [sid, commitment(MARKET, sid, key.address, order, salt),
                                                            1_000_000]) for key, order, salt in book])
        commit_seconds = time.perf_counter() - started
        seqs = [r.result for r in receipts]
        chain.goto(sid, "reveal")
        started = time.perf_counter()
        run_all(chain, [(key, MARKET, "reveal", [sid, seq, order.to_value(), salt])
                        for (key, order, salt), seq in zip(book, seqs)])
        reveal_seconds = time.perf_counter() - started
        chain.goto(sid, "reveal_end")

        receipt, execution, whole = timed_block(chain, dso, "clear", sid)
        reference_started = time.perf_counter()
        expected = clear_energy([EnergyOrder(seq, o.side, o.price, o.qty, o.min_qty, o.mtus)
                                 for (_, o, _), seq in zip(book, seqs)], "uniform")
        reference = time.perf_counter() - reference_started
        rows = chain.rows(sid, "results")
        assert rows == [[r.mtu, t.bid_seq, t.offer_seq, t.qty, t.buyer_pays, t.seller_gets]
                        for r in expected for t in r.trades], "on-chain clearing differs from the reference"
        print(f"\n{orders_count} revealed orders ({traders_count} traders, {MTUS} MTUs), {len(rows)} trades")
        print(f"  commits: {commit_seconds:.1f} s, reveals: {reveal_seconds:.1f} s (setup, for scale)")
        print(f"  clear: block execution {execution:.3f} s, whole block {whole:.3f} s, gas {receipt.gas_used:,}")
        print(f"  reference clearing (plain Python): {reference:.3f} s")

        first = chain.session(sid)["first_mtu"]
        device_of = {seq: order.device for (_, order, _), seq in zip(book, seqs)}
        traded = sorted({(device_of[seq], first + row[0]) for row in rows for seq in row[1:3]})
        readings = [(device, mtu, rnd.randint(-5_000, 5_000)) for device, mtu in traded]
        chain.now = max(chain.now, (first + MTUS) * 900)   # meter data only for MTUs already delivered
        run_all(chain, [(mdm, METER, "submit", [mdm.address, [list(r) for r in batch],
                                                meterdata.sign(mdm, METER, batch)])
                        for batch in meterdata.batches(readings)], gas=HEAVY_GAS // 4)
        receipt, execution, whole = timed_block(chain, dso, "settle", sid)
        print(f"  settle ({len(readings)} device MTUs, {receipt.result} payouts): block execution {execution:.3f} s, "
              f"whole block {whole:.3f} s, gas {receipt.gas_used:,}")
        chain.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--traders", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for count in args.orders:
        bench(count, args.traders, args.seed)
    print("\nreproduce: .venv/bin/python bench/bench_clearing.py")


if __name__ == "__main__":
    main()
