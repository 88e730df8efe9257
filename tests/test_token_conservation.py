"""Token conservation on a real chain: only the issuer's mint and burn change total supply.

Hypothesis generates sequences of transfers, approvals, transfer_froms, mints and burns by
random senders (many of them failing: insufficient balance, allowance exceeded, not the
issuer, bad amounts, out of gas). After every block, total supply equals the genesis supply
plus successful mints minus successful burns, and equals the sum of all balances.
"""
from hypothesis import HealthCheck, event, example, given, settings, strategies as st

from node.keys import KeyPair
from node.tx import CallPayload
from tests.chainkit import GUESTS, SUPPLY, TOKEN, LocalChain

HOLDERS = list(GUESTS)  # admitted by the test genesis
VALIDATOR, ISSUER = KeyPair(b"\x31" * 32), KeyPair(b"\x32" * 32)
ACCOUNTS = [ISSUER, *HOLDERS]

who = st.integers(0, len(ACCOUNTS) - 1)
amount = st.integers(-3, 2 * SUPPLY)
small = st.integers(-3, 5_000_000)
op = st.one_of(
    st.tuples(st.just("transfer"), who, st.tuples(who, st.one_of(small, amount))),
    st.tuples(st.just("approve"), who, st.tuples(who, small)),
    st.tuples(st.just("transfer_from"), who, st.tuples(who, who, small)),
    st.tuples(st.just("mint"), who, st.tuples(who, small)),
    st.tuples(st.just("burn"), who, st.tuples(who, small)),
)
gas = st.sampled_from([2_000_000, 2_000_000, 5_000])


def _args(function, raw):
    return [ACCOUNTS[x].address if i < (2 if function == "transfer_from" else 1) else x for i, x in enumerate(raw)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(blocks=[[(("transfer", 0, (1, 1000)), 2_000_000), (("approve", 1, (2, 500)), 2_000_000),
                  (("transfer_from", 2, (1, 3, 400)), 2_000_000), (("transfer_from", 2, (1, 3, 101)), 2_000_000),
                  (("burn", 0, (3, 100)), 2_000_000), (("burn", 1, (1, 1)), 2_000_000),
                  (("mint", 0, (4, 50)), 2_000_000)]])
@given(blocks=st.lists(st.lists(st.tuples(op, gas), min_size=1, max_size=8), min_size=1, max_size=4))
def test_supply_changes_only_by_issuer_mint_and_burn(tmp_path_factory, blocks):
    chain = LocalChain(tmp_path_factory.mktemp("c"), VALIDATOR, ISSUER)
    try:
        expected = SUPPLY
        for block in blocks:
            sent = []
            for (function, sender, raw), gas_limit in block:
                tx = chain.tx(ACCOUNTS[sender], CallPayload(TOKEN, function, _args(function, raw)), gas=gas_limit)
                chain.submit(tx)
                sent.append((function, sender, raw, tx))
            chain.driver.produce_block()
            for function, sender, raw, tx in sent:
                receipt = chain.chain.store.receipt(tx.hash)
                event(f"{function}: {receipt.error_code or 'ok'}")
                if receipt.ok and function in ("mint", "burn"):
                    assert sender == 0, "only the issuer may mint or burn"
                    expected += raw[1] if function == "mint" else -raw[1]
            supply = chain.query(TOKEN, "total_supply")
            assert supply == expected
            assert sum(chain.balance(k.address) for k in ACCOUNTS) == supply
    finally:
        chain.close()
