"""The wallet side of the market: sealed orders kept on disk, and command-line units."""
import stat

import pytest

from cli.common import CliError
from cli.market_common import format_mtu, parse_mtus, parse_price, parse_start
from market.orders import Order, commitment, new_salt
from market.wallet import SealedOrder, SealedOrderStore

MARKET = "0x" + "aa" * 20
TRADER = "0x" + "bb" * 20


def sealed(session=1, seq=None, key_name="alice"):
    order = Order("buy", "alice-load", 200_000, 5_000, 1_000, (0, 3))
    salt = new_salt()
    return SealedOrder(MARKET, session, key_name, TRADER, order, salt,
                       commitment(MARKET, session, TRADER, order, salt), 1_000_000, seq)


def test_salts_are_kept_private_until_revealed(tmp_path):
    store = SealedOrderStore(tmp_path)
    first = store.save(sealed())
    path = store.directory / f"{first.commitment}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.all() == [first]
    assert store.pending(MARKET, "alice") == []            # not committed yet: no seq
    first = store.update(first, seq=4)
    other = store.save(sealed(session=2, seq=1))
    store.save(sealed(session=2, seq=2, key_name="bob"))
    assert store.pending(MARKET, "alice") == [first, other]
    assert store.pending(MARKET, "alice", session=2) == [other]
    store.update(first, revealed=True)
    assert store.pending(MARKET, "alice") == [other]
    store.discard(other)
    assert store.pending(MARKET, "alice") == [] and len(store.all()) == 2


def test_salts_are_random_and_commitments_bind_everything():
    order = Order("offer", "bob-battery", 1, 2, 1, (), baseline=None)
    salt = new_salt()
    assert len(salt) == 64 and salt != new_salt()
    base = commitment(MARKET, 1, TRADER, order, salt)
    assert base != commitment(MARKET, 2, TRADER, order, salt)
    assert base != commitment(MARKET, 1, "0x" + "cc" * 20, order, salt)
    assert base != commitment(MARKET, 1, TRADER, Order("offer", "bob-battery", 1, 2, 1, (), baseline=0), salt)
    assert order.canonical(MARKET, 1, TRADER) == f"flexledger-order-v1|{MARKET}|1|{TRADER}|offer|bob-battery|1|2|1||-"


def test_command_line_units():
    assert parse_price("0.25") == 250_000 and parse_price("0") == 0 and parse_price("0.000") == 0
    assert parse_price("12") == 12_000_000
    assert parse_mtus("0-3,6") == (0, 1, 2, 3, 6) and parse_mtus("5") == (5,)
    first = parse_start("2026-01-02T06:15")
    assert first == (1_767_312_000 + 6 * 3600 + 900) // 900 and format_mtu(first) == "2026-01-02T06:15Z"
    with pytest.raises(CliError, match="not on a quarter hour"):
        parse_start("2026-01-02T06:10")
    with pytest.raises(CliError, match="invalid MTU list"):
        parse_mtus("a-b")
    with pytest.raises(CliError, match="at most 6 decimal places"):
        parse_price("0.1234567")
