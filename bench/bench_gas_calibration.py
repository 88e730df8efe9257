"""Gas calibration: nanoseconds and peak bytes per gas of every VM operation at its worst.

Every case is a contract whose ``run(n)`` builds its inputs and then does one
operation ``n`` times (or once on inputs of size ``n``): deep and shared
structures, long strings, adversarial substrings, colliding dict keys, big
integers, big storage values, events and results.  Time per gas is the
difference between a small and a large ``n`` (so building the inputs cancels
out), the best of three; cases marked "until out of gas" run one operation
that the meter must stop, and divide the time by the gas limit.  Peak memory
is measured with tracemalloc on the large run, over all the gas it used.

The arithmetic loop of ``bench_vm.py`` runs first, in the same process:
goals are no entry above 3x its ns/gas and none above 64 bytes of peak memory
per gas.  Entries over a goal are marked ``!``.  From the slowest entry, the
bench prints the bound on one block's execution time that the block gas limit
gives.  Compiling a deploy is calibrated against its intrinsic gas.

Reproduce: .venv/bin/python bench/bench_gas_calibration.py [--only SUBSTRING]
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts import GasMeter, VMError, compile_contract, run_call  # noqa: E402
from node.execution import BlockContext, Executor  # noqa: E402
from node.params import ChainParams  # noqa: E402
from node.state import Overlay  # noqa: E402

CALLER = "0x" + "a1" * 20
ECHO = "0x" + "e0" * 20   # a second contract, for cross-contract calls
ECHO_SOURCE = "def echo_len(v):\n    return len(v)\n"
TIME_GOAL = 3.0       # x the arithmetic loop's ns/gas
MEMORY_GOAL = 64.0    # peak bytes per gas


@dataclass(frozen=True)
class Case:
    name: str
    body: str                 # the body of run(n), indented by 4
    small: int = 0
    large: int = 0
    exhaust_gas: int = 0      # > 0: one run(large) that must end out of gas at this limit
    helpers: str = ""         # more top-level code (functions)


def case(name, body, small=0, large=0, helpers=""):
    return Case(name, body, small, large, 0, helpers)


def until_out_of_gas(name, body, n, gas):
    return Case(name, body, 0, n, gas)


SHARED = "    x = [0]\n    for i in range(28):\n        x = [x] * 10\n"
LONG = "    a = 'x' * 200000\n    b = 'x' * 199999 + 'y'\n"
NEEDLE_TEXT = "    text = 'a' * 200000\n    needle = 'a' * 90 + 'b'\n"
# 8 ints per hash class (ints that differ by a multiple of 2**61 - 1), the most the guard allows
COLLIDING = ("    keys = []\n    for c in range(400):\n        for k in range(8):\n"
             "            keys.append(c + k * 2305843009213693951)\n")
BIG = "    a = 2**253 - 19\n    b = 2**252 + 12345\n"

CASES = [
    case("arithmetic loop (baseline)", "    total = 0\n    i = 0\n    while i < n:\n"
         "        total = total + i * 3 - 1\n        i += 1\n    return 0\n", 1000, 300000),
    until_out_of_gas("== on shared lists (x = [x] * 10)", SHARED + "    y = [x] * 10\n"
                     "    return x == y\n", 0, 2_000_000),
    until_out_of_gas("< on shared lists", SHARED + "    y = [x] * 10\n    return x < y\n", 0, 2_000_000),
    until_out_of_gas("in on shared lists", SHARED + "    return x in [0, 1, 2]\n", 0, 2_000_000),
    until_out_of_gas("storage.set of shared lists", SHARED + "    storage.set('k', x)\n", 0, 2_000_000),
    until_out_of_gas("emit of shared lists", SHARED + "    emit('E', {'x': x})\n", 0, 2_000_000),
    until_out_of_gas("return shared lists", SHARED + "    return x\n", 0, 2_000_000),
    until_out_of_gas("sorted of shared lists", SHARED + "    return sorted([x, x, x])\n", 0, 2_000_000),
    case("== on equal nested lists", "    a = [[i, [i, i]] for i in range(2000)]\n"
         "    b = [[i, [i, i]] for i in range(2000)]\n    for _ in range(n):\n        r = a == b\n"
         "    return 0\n", 2, 40),
    case("< on long equal-prefix str", LONG + "    for _ in range(n):\n        r = a < b\n    return 0\n",
         2, 200),
    case("in on a list of tuples", "    xs = [(i, i, i, i) for i in range(3000)]\n"
         "    for _ in range(n):\n        r = (1, 2, 3, 4) in xs\n    return 0\n", 2, 200),
    case("list.count of tuples", "    xs = [(i, i) for i in range(3000)]\n"
         "    for _ in range(n):\n        r = xs.count((5, 5))\n    return 0\n", 2, 200),
    case("str in str (adversarial needle)", NEEDLE_TEXT + "    for _ in range(n):\n"
         "        r = needle in text\n    return 0\n", 2, 40),
    case("str.find (adversarial needle)", NEEDLE_TEXT + "    for _ in range(n):\n"
         "        r = text.find(needle)\n    return 0\n", 2, 40),
    case("str.count (adversarial needle)", NEEDLE_TEXT + "    for _ in range(n):\n"
         "        r = text.count(needle)\n    return 0\n", 2, 40),
    case("str.split(sep) (adversarial sep)", NEEDLE_TEXT + "    for _ in range(n):\n"
         "        r = text.split(needle)\n    return 0\n", 2, 40),
    case("str.split() into many parts", "    text = 'a ' * 100000\n    for _ in range(n):\n"
         "        r = text.split()\n    return 0\n", 1, 10),
    case("str.join of many parts", "    parts = ['ab'] * 100000\n    for _ in range(n):\n"
         "        r = ','.join(parts)\n    return 0\n", 1, 20),
    case("str.strip(chars) with long chars", "    text = 'ab' * 50000\n"
         "    chars = 'abcdefghijklmnopqrstuvwxyz' * 10\n    for _ in range(n):\n"
         "        r = text.strip(chars)\n    return 0\n", 1, 20),
    case("str.lower / upper", "    text = 'AbC' * 60000\n    for _ in range(n):\n"
         "        r = text.lower()\n        r = text.upper()\n    return 0\n", 1, 20),
    case("str.lower / upper of non-ASCII text", "    text = '\U0001F600\u00e9A' * 60000\n"
         "    for _ in range(n):\n        r = text.lower()\n        r = text.upper()\n    return 0\n", 1, 10),
    case("list() of non-Latin-1 text", "    text = '\U0001F600' * 100000\n    for _ in range(n):\n"
         "        r = list(text)\n    return 0\n", 1, 10),
    case("range() of ints near 2**255", "    for _ in range(n):\n"
         "        r = range(2**255, 2**255 + 50000)\n    return 0\n", 1, 10),
    case("str.encode / bytes.decode", "    text = 'h\u00e9llo' * 40000\n    for _ in range(n):\n"
         "        r = text.encode().decode()\n    return 0\n", 1, 20),
    case("bytes.hex / bytes(hex str)", "    data = b'\\x01\\xff' * 50000\n    for _ in range(n):\n"
         "        r = bytes(data.hex())\n    return 0\n", 1, 20),
    case("str(int) and int(str) at 77 digits", "    x = 2**255 - 1\n    for _ in range(n):\n"
         "        r = int(str(x))\n    return 0\n", 100, 20000),
    case("f-string", "    a = 'x' * 100\n    for i in range(n):\n        r = f'{a}{i}{a}{i}'\n"
         "    return 0\n", 100, 20000),
    case("list repetition", "    for _ in range(n):\n        r = [0, 1] * 100000\n    return 0\n", 1, 10),
    case("str repetition", "    for _ in range(n):\n        r = '\U0001F600' * 200000\n    return 0\n", 1, 10),
    case("list concatenation and slicing", "    a = list(range(100000))\n    for _ in range(n):\n"
         "        r = a + a\n        r = a[1:]\n    return 0\n", 1, 10),
    case("dict insert, int keys", "    for _ in range(n):\n        d = {}\n"
         "        for i in range(10000):\n            d[i] = i\n    return 0\n", 1, 10),
    case("dict insert, colliding int keys", COLLIDING + "    for _ in range(n):\n        d = {}\n"
         "        for k in keys:\n            d[k] = 1\n    return 0\n", 1, 10),
    case("dict lookup, colliding int keys", COLLIDING + "    d = {}\n    for k in keys:\n"
         "        d[k] = 1\n    for _ in range(n):\n        for k in keys:\n            r = d[k]\n"
         "    return 0\n", 1, 10),
    case("dict insert, tuple keys", "    for _ in range(n):\n        d = {}\n"
         "        for i in range(5000):\n            d[(i, i, 'a', i)] = i\n    return 0\n", 1, 10),
    case("dict comprehension", "    for _ in range(n):\n        d = {i: i for i in range(10000)}\n"
         "    return 0\n", 1, 10),
    case("list comprehension", "    for _ in range(n):\n        r = [i * 2 for i in range(10000)]\n"
         "    return 0\n", 1, 10),
    case("big int * // % at 255 bits", BIG + "    for _ in range(n):\n        r = (a * 7) // b\n"
         "        r = a % b\n        r = a ^ b\n    return 0\n", 1000, 100000),
    case("big int ** and <<", "    for i in range(n):\n        r = 3 ** 160\n        r = 1 << 250\n"
         "    return 0\n", 1000, 100000),
    case("list.append", "    for _ in range(n):\n        xs = []\n        for i in range(10000):\n"
         "            xs.append(i)\n    return 0\n", 1, 10),
    case("list.insert(0) / pop(0) on a long list", "    xs = list(range(50000))\n"
         "    for _ in range(n):\n        xs.insert(0, 1)\n        r = xs.pop(0)\n    return 0\n", 10, 1000),
    case("list.extend / reverse / copy", "    xs = list(range(100000))\n    for _ in range(n):\n"
         "        ys = xs.copy()\n        ys.extend(xs)\n        ys.reverse()\n    return 0\n", 1, 10),
    case("list.remove / index near the end", "    xs = list(range(20000))\n    for _ in range(n):\n"
         "        r = xs.index(19998)\n        xs.remove(19999)\n        xs.append(19999)\n"
         "    return 0\n", 2, 100),
    case("dict.items / keys / values / update", "    d = {i: i for i in range(20000)}\n"
         "    for _ in range(n):\n        r = d.items()\n        r = d.keys()\n        r = d.values()\n"
         "        e = {}\n        e.update(d)\n    return 0\n", 1, 10),
    case("dict.get / setdefault / pop", "    d = {}\n    for i in range(n):\n        d.setdefault(i, i)\n"
         "        r = d.get(i)\n        r = d.pop(i)\n    return 0\n", 1000, 100000),
    case("list() tuple() dict() of 20k", "    xs = [(i, i) for i in range(20000)]\n"
         "    for _ in range(n):\n        r = list(xs)\n        r = tuple(xs)\n        r = dict(xs)\n"
         "    return 0\n", 1, 10),
    case("enumerate / zip / reversed / range", "    xs = list(range(20000))\n    for _ in range(n):\n"
         "        r = enumerate(xs)\n        r = zip(xs, xs)\n        r = reversed(xs)\n"
         "        r = range(20000)\n    return 0\n", 1, 10),
    case("min / max with key, sum, any, all", "    xs = list(range(20000))\n    for _ in range(n):\n"
         "        r = min(xs, key=lambda v: -v)\n        r = max(xs)\n        r = sum(xs)\n"
         "        r = any(xs)\n        r = all(xs)\n    return 0\n", 1, 10),
    case("sorted with a tuple key", "    xs = list(range(20000))\n    for _ in range(n):\n"
         "        r = sorted(xs, key=lambda v: (v % 7, -v))\n    return 0\n", 1, 6),
    case("sorted long str with a common prefix", "    xs = ['x' * 400 + str(i * 7919 % 5000) "
         "for i in range(5000)]\n    for _ in range(n):\n        r = sorted(xs)\n    return 0\n", 1, 6),
    case("function calls (recursion)", "    for _ in range(n):\n        r = _fib(12)\n    return 0\n",
         2, 40, helpers="def _fib(k):\n    return k if k < 2 else _fib(k - 1) + _fib(k - 2)\n"),
    case("storage.set / get of 60 kB", "    value = ['x' * 60] * 900\n    for i in range(n):\n"
         "        storage.set('k', value)\n        r = storage.get('k')\n    return 0\n", 2, 40),
    case("storage.scan of big entries", "    for i in range(200):\n"
         "        storage.set('s' + str(1000 + i), ['y' * 50] * 100)\n    for _ in range(n):\n"
         "        r = storage.scan('s', None, 200)\n    return 0\n", 1, 10),
    case("emit 60 kB events", "    data = {'v': ['z' * 60] * 900}\n    for _ in range(n):\n"
         "        emit('Big', data)\n    return 0\n", 1, 4),
    case("return a 60 kB result", "    return [['r' * 60] * 900] * n\n", 0, 1),
    case("cross-contract call with 60 kB args", "    arg = ['a' * 60] * 900\n    for _ in range(n):\n"
         f"        r = call('{ECHO}', 'echo_len', arg)\n    return 0\n", 1, 10),
    case("crypto.sha256 of 100 kB", "    data = b'q' * 100000\n    for _ in range(n):\n"
         "        r = crypto.sha256(data)\n    return 0\n", 2, 40),
    case("crypto.ed25519_verify", "    key = b'k' * 32\n    sig = b's' * 64\n    for _ in range(n):\n"
         "        r = crypto.ed25519_verify(key, b'message', sig)\n    return 0\n", 10, 400),
]


class _Empty:
    def get(self, key):
        return None

    def scan(self, prefix, start_after=None):
        return iter(())


class Chain:
    """The node's own host (ChainHost over an overlay): real encoding, sizes and events."""

    def __init__(self):
        self.executor = Executor()
        self.params = ChainParams()
        self.overlay = Overlay(Overlay(_Empty()))
        self.ctx = BlockContext("calibration", 1, 1_700_000_000_000)

    def deploy(self, source: str, address: str = "0x" + "c0" * 20) -> str:
        self.executor.deploy(self.overlay, self.ctx, self.params, address, source, [], CALLER,
                             GasMeter(10**9))
        return address

    def run(self, address: str, n: int, gas: int) -> tuple[float, int, str]:
        host = self.executor.host(Overlay(self.overlay), self.ctx, CALLER, self.params)
        meter = GasMeter(gas)
        start = time.perf_counter()
        try:
            run_call(host, address, "run", [n], CALLER, meter)
            outcome = "ok"
        except VMError as exc:
            outcome = exc.code
        return time.perf_counter() - start, meter.used, outcome


def measure(chain: Chain, address: str, c: Case) -> tuple[float, float, str]:
    """(ns per gas, peak bytes per gas, outcome of the large run)."""
    gas = c.exhaust_gas or 10**10
    runs = []
    for _ in range(3):
        t_large, g_large, outcome = chain.run(address, c.large, gas)
        t_small, g_small, _ = chain.run(address, c.small, gas) if not c.exhaust_gas else (0.0, 0, "")
        runs.append((t_large - t_small) / max(g_large - g_small, 1))
    tracemalloc.start()
    _, used, _ = chain.run(address, c.large, gas)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return min(runs) * 1e9, peak / max(used, 1), outcome


def compile_cases() -> list[tuple[str, str]]:
    """Deploy sources near the 128 KiB limit that are slow to compile."""
    operators = " + ".join(["x"] * 190)
    many_statements = "def f(x):\n" + f"    y = {operators}\n" * 160
    elifs = "def f(x):\n    if x == 0:\n        return 0\n" + "".join(
        f"    elif x == {i}:\n        return {i}\n" for i in range(1, 3500))
    functions = "".join(f"def f{i}(a, b):\n    return [a, b, {{'k': a}}, (a, b)]\n" for i in range(2200))
    nested = "def f(x):\n" + "".join(f"{'    ' * (i + 1)}if x:\n" for i in range(38)) + \
        "    " * 39 + "return 1\n"
    bad = many_statements + "x = 1.5\n"
    return [("many long expressions", many_statements * 3), ("3,500 elifs", elifs),
            ("2,200 small functions", functions), ("38 nested ifs", nested * 600),
            ("long source failing at its end", bad * 3)]


def measure_compile(name: str, source: str, params: ChainParams) -> tuple[float, int]:
    source = source[:127 * 1024]
    gas = params.intrinsic_gas(len(source) + 200, len(source.encode()))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        try:
            compile_contract(source)
        except Exception:   # noqa: BLE001 - a failing compile is calibrated too
            pass
        best = min(best, time.perf_counter() - start)
    return best * 1e9 / gas, len(source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    args = parser.parse_args()
    chain = Chain()
    baseline = None
    worst = 0.0
    print(f"{'operation':44} {'ns/gas':>8} {'x loop':>7} {'B/gas':>7}  outcome")
    for c in CASES:
        if baseline is not None and args.only not in c.name:
            continue
        chain.overlay = Overlay(Overlay(_Empty()))   # a fresh state per case
        chain.deploy(ECHO_SOURCE, ECHO)
        address = chain.deploy(f"def run(n):\n{c.body}\n{c.helpers}")
        ns, memory, outcome = measure(chain, address, c)
        if baseline is None:   # the loop: the best of a few more runs, the machine being shared
            ns = min([ns] + [measure(chain, address, c)[0] for _ in range(3)])
            baseline = ns
        ratio = ns / baseline
        worst = max(worst, ns)
        flag = "!" if ratio > TIME_GOAL or memory > MEMORY_GOAL else " "
        print(f"{c.name:44} {ns:8.1f} {ratio:7.2f} {memory:7.1f} {flag} {outcome}")
    params = ChainParams()
    for name, source in compile_cases():
        if args.only and args.only not in "compile " + name:
            continue
        ns, size = measure_compile(name, source, params)
        worst = max(worst, ns)
        flag = "!" if ns / baseline > TIME_GOAL else " "
        print(f"{'compile: ' + name:44} {ns:8.1f} {ns / baseline:7.2f} {'':7}  {flag} {size} bytes")
    print(f"\ngoals: at most {TIME_GOAL:g}x the loop's ns/gas ({TIME_GOAL * baseline:.1f}) and "
          f"{MEMORY_GOAL:g} bytes of peak memory per gas")
    print(f"block gas limit {params.block_gas_limit:,} x slowest {worst:.1f} ns/gas: a block executes "
          f"in at most {params.block_gas_limit * worst / 1e9:.1f} s on this machine "
          f"(the loop alone: {params.block_gas_limit * baseline / 1e9:.1f} s)")


if __name__ == "__main__":
    main()
