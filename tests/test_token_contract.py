"""The settlement token contract (market/contracts/token.py) on the VM."""

import pytest
from hypothesis import given, settings, strategies as st

from contracts import VMError, compile_contract
from market.token import TOKEN_NAME, TOKEN_SOURCE
from tests.vm_host import ALICE, BOB, CAROL, FakeHost

ISSUER = "0x" + "15" * 20
MARKET = "0x" + "3a" * 20
ACCOUNTS = [ISSUER, ALICE, BOB, CAROL, MARKET]


@pytest.fixture
def token():
    host = FakeHost()
    address = host.deploy(TOKEN_SOURCE, TOKEN_NAME, [ISSUER], caller=ISSUER)
    return host, address


def ok(host, address, function, *args, caller):
    result, error = host.transact(address, function, *args, caller=caller)
    assert error is None, error
    return result


def failure(host, address, function, *args, caller):
    result, error = host.transact(address, function, *args, caller=caller)
    assert error is not None, f"{function}{args} succeeded"
    return error.code, error.message


def balances(host, address) -> dict:
    stored = host.storage.get(address, {})
    return {k[len("balance:"):]: v for k, v in stored.items() if k.startswith("balance:")}


def test_source_and_name():
    assert TOKEN_NAME == "token"
    program = compile_contract(TOKEN_SOURCE)
    assert program.has_init()
    assert program.public_functions() == ["allowance", "approve", "balance_of", "burn", "issuer",
                                          "mint", "set_issuer", "total_supply", "transfer",
                                          "transfer_from"]


def test_init_runs_once_at_deploy(token):
    host, address = token
    assert ok(host, address, "issuer", caller=ALICE) == ISSUER
    assert ok(host, address, "total_supply", caller=ALICE) == 0
    assert failure(host, address, "init", ALICE, caller=ALICE)[0] == "no_such_function"
    fresh = FakeHost()
    with pytest.raises(VMError) as info:
        fresh.deploy(TOKEN_SOURCE, TOKEN_NAME, ["not-an-address"])
    assert info.value.message == "invalid address"


def test_mint_and_burn_only_by_issuer(token):
    host, address = token
    assert failure(host, address, "mint", ALICE, 10, caller=ALICE) == \
        ("require_failed", "only the issuer may mint")
    assert ok(host, address, "mint", ALICE, 1_000_000, caller=ISSUER) is True
    assert ok(host, address, "balance_of", ALICE, caller=BOB) == 1_000_000
    assert failure(host, address, "burn", ALICE, 1, caller=ALICE) == \
        ("require_failed", "only the issuer may burn")
    assert failure(host, address, "burn", ALICE, 1_000_001, caller=ISSUER) == \
        ("require_failed", "insufficient balance")
    ok(host, address, "burn", ALICE, 400_000, caller=ISSUER)
    assert ok(host, address, "balance_of", ALICE, caller=BOB) == 600_000
    assert ok(host, address, "total_supply", caller=BOB) == 600_000
    assert [(name, data) for _, name, data in host.events] == [
        ("Mint", {"to": ALICE, "amount": 1_000_000}), ("Burn", {"from": ALICE, "amount": 400_000})]


@pytest.mark.parametrize("amount, message", [
    (0, "amount must be positive"), (-5, "amount must be positive"),
    ("5", "amount must be an int"), (True, "amount must be an int"),
])
def test_amounts_must_be_positive_ints(token, amount, message):
    host, address = token
    assert failure(host, address, "mint", ALICE, amount, caller=ISSUER) == ("require_failed", message)
    ok(host, address, "mint", ALICE, 10, caller=ISSUER)
    assert failure(host, address, "transfer", BOB, amount, caller=ALICE) == ("require_failed", message)


@pytest.mark.parametrize("bad", ["0x" + "AB" * 20, "0x" + "ab" * 19, "ab" * 21, 5, None,
                                 "0x" + "g" * 40])
def test_addresses_are_checked(token, bad):
    host, address = token
    assert failure(host, address, "mint", bad, 1, caller=ISSUER) == ("require_failed", "invalid address")
    assert failure(host, address, "balance_of", bad, caller=ALICE) == \
        ("require_failed", "invalid address")


def test_transfer(token):
    host, address = token
    ok(host, address, "mint", ALICE, 100, caller=ISSUER)
    assert ok(host, address, "transfer", BOB, 30, caller=ALICE) is True
    assert failure(host, address, "transfer", BOB, 71, caller=ALICE) == \
        ("require_failed", "insufficient balance")
    ok(host, address, "transfer", ALICE, 70, caller=ALICE)   # to self: no change
    assert balances(host, address) == {ALICE: 70, BOB: 30}
    ok(host, address, "transfer", BOB, 70, caller=ALICE)
    assert balances(host, address) == {BOB: 100}   # zero balances are not stored
    assert host.events[-1][1:] == ("Transfer", {"from": ALICE, "to": BOB, "amount": 70})


def test_allowance_and_transfer_from_escrow(token):
    host, address = token
    ok(host, address, "mint", ALICE, 1_000, caller=ISSUER)
    assert ok(host, address, "allowance", ALICE, MARKET, caller=BOB) == 0
    assert failure(host, address, "transfer_from", ALICE, MARKET, 1, caller=MARKET) == \
        ("require_failed", "allowance exceeded")
    ok(host, address, "approve", MARKET, 600, caller=ALICE)
    assert host.events[-1][1:] == ("Approval", {"owner": ALICE, "spender": MARKET, "amount": 600})
    assert ok(host, address, "allowance", ALICE, MARKET, caller=BOB) == 600
    ok(host, address, "transfer_from", ALICE, MARKET, 250, caller=MARKET)
    assert ok(host, address, "allowance", ALICE, MARKET, caller=BOB) == 350
    assert failure(host, address, "transfer_from", ALICE, MARKET, 351, caller=MARKET) == \
        ("require_failed", "allowance exceeded")
    assert failure(host, address, "transfer_from", ALICE, MARKET, 100, caller=BOB) == \
        ("require_failed", "allowance exceeded")
    ok(host, address, "approve", MARKET, 5_000, caller=ALICE)
    before = host.snapshot()
    assert failure(host, address, "transfer_from", ALICE, MARKET, 900, caller=MARKET) == \
        ("require_failed", "insufficient balance")
    assert host.snapshot() == before   # the failed call changed nothing
    ok(host, address, "transfer_from", ALICE, CAROL, 750, caller=MARKET)
    assert balances(host, address) == {MARKET: 250, CAROL: 750}
    assert ok(host, address, "allowance", ALICE, MARKET, caller=BOB) == 4_250
    ok(host, address, "approve", MARKET, 0, caller=ALICE)
    assert ok(host, address, "allowance", ALICE, MARKET, caller=BOB) == 0
    assert failure(host, address, "approve", MARKET, -1, caller=ALICE)[0] == "require_failed"


def test_market_contract_pulls_deposits_with_transfer_from(token):
    host, address = token
    market = host.deploy(
        "def deposit(token, amount):\n"
        "    call(token, 'transfer_from', chain.caller, chain.self, amount)\n"
        "    storage.set('deposit:' + chain.caller, storage.get('deposit:' + chain.caller, 0)"
        " + amount)\n"
        "    return call(token, 'balance_of', chain.self)\n", "market")
    ok(host, address, "mint", ALICE, 500, caller=ISSUER)
    assert failure(host, market, "deposit", address, 100, caller=ALICE)[0] == "require_failed"
    ok(host, address, "approve", market, 300, caller=ALICE)
    assert ok(host, market, "deposit", address, 100, caller=ALICE) == 100
    assert ok(host, address, "balance_of", ALICE, caller=ALICE) == 400
    assert host.storage[market]["deposit:" + ALICE] == 100


def test_set_issuer(token):
    host, address = token
    assert failure(host, address, "set_issuer", ALICE, caller=ALICE) == \
        ("require_failed", "only the issuer may set the issuer")
    ok(host, address, "set_issuer", ALICE, caller=ISSUER)
    assert ok(host, address, "issuer", caller=BOB) == ALICE
    assert failure(host, address, "mint", BOB, 1, caller=ISSUER)[0] == "require_failed"
    ok(host, address, "mint", BOB, 1, caller=ALICE)


def test_out_of_gas_mid_transfer_applies_nothing(token):
    host, address = token
    ok(host, address, "mint", ALICE, 100, caller=ISSUER)
    before = host.snapshot()
    for gas in range(2_000, 12_000, 500):
        _, error = host.transact(address, "transfer", BOB, 10, caller=ALICE, gas=gas)
        if error is None:
            break
        assert error.code == "out_of_gas"
        assert host.snapshot() == before


# -- property: no sequence of user operations changes the total supply -------------------

who = st.sampled_from(ACCOUNTS)
amount = st.one_of(st.integers(-5, 3_000), st.just(2**255), st.just("7"), st.just(None))
operation = st.one_of(
    st.tuples(st.just("transfer"), who, st.tuples(who, amount)),
    st.tuples(st.just("approve"), who, st.tuples(who, amount)),
    st.tuples(st.just("transfer_from"), who, st.tuples(who, who, amount)),
    st.tuples(st.just("mint"), who.filter(lambda a: a != ISSUER), st.tuples(who, amount)),
    st.tuples(st.just("burn"), who.filter(lambda a: a != ISSUER), st.tuples(who, amount)),
    st.tuples(st.just("transfer"), who, st.tuples(st.just("0xbad"), amount)),
)


@settings(max_examples=60, deadline=None)
@given(operations=st.lists(st.tuples(operation, st.sampled_from([10_000_000, 9_000])),
                           max_size=25))
def test_user_operations_never_change_supply(operations):
    host = FakeHost()
    address = host.deploy(TOKEN_SOURCE, TOKEN_NAME, [ISSUER], caller=ISSUER)
    for holder in ACCOUNTS[1:]:
        ok(host, address, "mint", holder, 1_000, caller=ISSUER)
    supply = 1_000 * (len(ACCOUNTS) - 1)
    for (function, sender, args), gas in operations:
        before = host.snapshot()
        _, error = host.transact(address, function, *args, caller=sender, gas=gas)
        if error is not None:
            assert host.snapshot() == before
        assert ok(host, address, "total_supply", caller=sender) == supply
        assert sum(balances(host, address).values()) == supply
        assert all(type(v) is int and v > 0 for v in balances(host, address).values())
