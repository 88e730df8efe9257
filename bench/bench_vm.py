"""Contract VM speed: metered operations per second, and sort+scan of 10,000 orders.

1. A simple arithmetic loop; an "operation" is one evaluated statement or
   expression node, each charged NODE_GAS, so operations = node gas / NODE_GAS.
2. One call stores ORDERS orders with storage.set; a second call scans them all
   (storage.scan, 1000 per page), sorts them by (price, id) and sums the
   notional of the best TOP.  Uses the in-memory host of the VM unit tests.

Reproduce: .venv/bin/python bench/bench_vm.py [--loop 300000] [--orders 10000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts import GasMeter, run_call  # noqa: E402
from contracts.gas import CALL_GAS, NODE_GAS  # noqa: E402
from tests.vm_host import ALICE, FakeHost  # noqa: E402

TOP = 100
BIG_GAS = 10**10

LOOP = """
def loop(n):
    total = 0
    i = 0
    while i < n:
        total = total + i * 3 - 1
        i += 1
    return total
"""

ORDERS = """
def store(n):
    for i in range(n):
        storage.set("order:" + str(i), {"id": i, "price": (i * 7919) % 1000,
                                        "qty": 1 + i % 10, "owner": chain.caller})
    return n


def best(top):
    orders = []
    last = None
    while True:
        page = storage.scan("order:", last, 1000)
        if not page:
            break
        for key, order in page:
            orders.append(order)
        last = page[-1][0]
    ranked = sorted(orders, key=lambda o: (o["price"], o["id"]))
    total = 0
    for order in ranked[:top]:
        total += order["price"] * order["qty"]
    return [len(orders), total]
"""


def timed_call(host: FakeHost, address: str, function: str, *args) -> tuple[object, float, int]:
    meter = GasMeter(BIG_GAS)
    start = time.perf_counter()
    result = run_call(host, address, function, list(args), ALICE, meter)
    return result, time.perf_counter() - start, meter.used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", type=int, default=300_000)
    parser.add_argument("--orders", type=int, default=10_000)
    args = parser.parse_args()

    host = FakeHost()
    loop = host.deploy(LOOP, "loop")
    timed_call(host, loop, "loop", 1000)   # warm up
    _, seconds, gas = timed_call(host, loop, "loop", args.loop)
    operations = (gas - CALL_GAS) // NODE_GAS
    print(f"arithmetic loop: {args.loop} iterations, {operations} metered operations in "
          f"{seconds:.3f} s")
    print(f"metered operations per second: {operations / seconds:,.0f}")
    print(f"loop iterations per second: {args.loop / seconds:,.0f}  gas per second: "
          f"{gas / seconds:,.0f}")

    orders = host.deploy(ORDERS, "orders")
    _, store_seconds, store_gas = timed_call(host, orders, "store", args.orders)
    (count, total), best_seconds, best_gas = timed_call(host, orders, "best", TOP)
    assert count == args.orders
    print(f"store {args.orders} orders (one call): {store_seconds:.3f} s, gas {store_gas:,}")
    print(f"scan + sort {count} orders by (price, id) + sum top {TOP}: {best_seconds:.3f} s, "
          f"gas {best_gas:,} (notional {total})")
    print("reproduce: .venv/bin/python bench/bench_vm.py")


if __name__ == "__main__":
    main()
