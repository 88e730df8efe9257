"""Determinism: blocks produced by one node and replayed by a fresh one give identical results.

Hypothesis generates sequences of contract calls (storage writes, scans, loops, events,
failures, out-of-gas, token transfers), groups them into blocks, lets node A propose and
commit them, and has node B execute the same blocks through the validator path. Receipts
and state roots must match at every height.
"""
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings, strategies as st

from node.keys import KeyPair
from node.tx import CallPayload, DeployPayload
from tests.chainkit import ALICE, BOB, CAROL, TOKEN, LocalChain

COUNTER = (Path(__file__).parent / "contracts" / "counter.py").read_text()
KEYS = [ALICE, BOB, CAROL]  # admitted by the test genesis; ALICE deploys
VALIDATOR, ISSUER = KeyPair(b"\x21" * 32), KeyPair(b"\x22" * 32)

names = st.sampled_from(["a", "b", "c", "d"])
counter_calls = st.one_of(
    st.tuples(st.just("incr"), st.tuples(st.integers(-2, 50))),
    st.tuples(st.just("put"), st.tuples(names, st.integers(0, 1000))),
    st.tuples(st.just("drop"), st.tuples(names)),
    st.tuples(st.just("total"), st.just(())),
    st.tuples(st.just("spin"), st.tuples(st.integers(0, 20_000))),
    st.tuples(st.just("fail_after_write"), st.tuples(names)),
)
token_calls = st.tuples(st.sampled_from(["transfer", "approve"]), st.integers(0, 2), st.integers(-5, 3_000_000))
ops = st.tuples(st.integers(0, 2), st.one_of(counter_calls.map(lambda c: ("counter", c)),
                                             token_calls.map(lambda c: ("token", c))),
                st.sampled_from([60_000, 2_000_000]))
blocks = st.lists(st.lists(ops, min_size=1, max_size=6), min_size=1, max_size=5)


def _payload(counter: str, op) -> CallPayload:
    _, (kind, call), _ = op
    if kind == "counter":
        return CallPayload(counter, call[0], list(call[1]))
    function, to, amount = call
    return CallPayload(TOKEN, function, [KEYS[to].address, amount])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blocks=blocks)
def test_replay_on_a_fresh_node_gives_identical_receipts_and_roots(tmp_path_factory, blocks):
    a = LocalChain(tmp_path_factory.mktemp("a"), VALIDATOR, ISSUER)
    b = LocalChain(tmp_path_factory.mktemp("b"), VALIDATOR, ISSUER)
    try:
        counter = a.deploy(KEYS[0], COUNTER, 0).contract_address
        for key in KEYS:
            a.submit(a.tx(ISSUER, CallPayload(TOKEN, "transfer", [key.address, 1_000_000])))
        a.driver.produce_block()
        for block_ops in blocks:
            for op in block_ops:
                a.submit(a.tx(KEYS[op[0]], _payload(counter, op), gas=op[2]))
            a.driver.produce_block()
        for height in range(1, a.chain.height + 1):
            block = a.chain.store.block(height)
            executed = b.chain.execute_block(block)
            b.chain.commit(executed, a.chain.store.commit(height))
            assert b.chain.head.header == block.header
            for tx in block.txs:
                assert b.chain.store.receipt(tx.hash) == a.chain.store.receipt(tx.hash)
        assert b.chain.state.root() == a.chain.state.root()
        codes = {a.chain.store.receipt(tx.hash).error_code or "ok"
                 for h in range(1, a.chain.height + 1) for tx in a.chain.store.block(h).txs}
        for code in sorted(codes):
            event(f"outcome: {code}")
    finally:
        a.close()
        b.close()
