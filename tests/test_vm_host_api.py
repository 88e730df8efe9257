"""The host API seen by contracts: chain, storage, crypto, events, cross-contract calls."""

import hashlib
import textwrap
from pathlib import Path

import nacl.signing
import pytest

from contracts import GasMeter, VMError, run_call
from contracts.limits import MAX_CALL_DEPTH, MAX_KEY_BYTES
from tests.vm_host import ALICE, BOB, FakeHost, contract_address


def deploy(host: FakeHost, source: str, name: str = "c", args=None) -> str:
    return host.deploy(textwrap.dedent(source), name, args)


def error_of(host, address, function, *args, **kwargs) -> VMError:
    with pytest.raises(VMError) as info:
        host.call(address, function, *args, **kwargs)
    return info.value


def test_chain_attributes():
    host = FakeHost(height=42, time=1_800_000_000, origin=BOB)
    address = deploy(host, "def main():\n    return [chain.caller, chain.origin, chain.self, "
                           "chain.height, chain.time]\n")
    assert host.call(address, "main", caller=ALICE) == [ALICE, BOB, address, 42, 1_800_000_000]


STORE = """
def put(key, value):
    storage.set(key, value)

def get(key):
    return storage.get(key)

def get_or(key, default):
    return storage.get(key, default)

def has(key):
    return storage.has(key)

def drop(key):
    storage.delete(key)

def append_read(key):
    items = storage.get(key)
    items.append(99)
    return [items, storage.get(key)]

def write_then_mutate(key):
    items = [1]
    storage.set(key, items)
    items.append(2)
    return storage.get(key)

def scan(prefix, start_after=None, limit=100):
    return storage.scan(prefix, start_after, limit)
"""


def test_storage_roundtrip_and_fresh_copies():
    host = FakeHost()
    address = deploy(host, STORE)
    value = {"a": [1, (2, b"x")], 3: None}
    host.call(address, "put", "k", value)
    assert host.call(address, "get", "k") == value
    assert host.call(address, "has", "k") is True
    assert host.call(address, "get_or", "missing", 5) == 5
    assert host.call(address, "get", "missing") is None
    host.call(address, "put", "list", [1])
    assert host.call(address, "append_read", "list") == [[1, 99], [1]]
    assert host.call(address, "write_then_mutate", "w") == [1]
    host.call(address, "drop", "k")
    assert host.call(address, "has", "k") is False
    host.call(address, "drop", "never-set")


def test_storage_argument_errors():
    host = FakeHost()
    address = deploy(host, STORE)
    assert error_of(host, address, "put", 5, 1).code == "type_error"
    assert error_of(host, address, "put", "k", None).code == "type_error"
    assert error_of(host, address, "put", "k" * (MAX_KEY_BYTES + 1), 1).code == "bad_argument"
    assert error_of(host, address, "get", b"k").code == "type_error"
    assert error_of(host, address, "scan", "", None, 0).code == "bad_argument"
    assert error_of(host, address, "scan", "", 5).code == "type_error"


def test_scan_returns_keys_in_byte_order_with_prefix_paging_and_limit():
    host = FakeHost()
    address = deploy(host, STORE)
    keys = ["o:b", "o:a", "o:é", "o:Z", "o:a0", "p:x", "o", "o:~", ""]
    for index, key in enumerate(keys):
        host.call(address, "put", key, index)
    everything = host.call(address, "scan", "o:")
    expected = sorted((k for k in keys if k.startswith("o:")), key=str.encode)
    assert [k for k, _ in everything] == expected == ["o:Z", "o:a", "o:a0", "o:b", "o:~", "o:é"]
    assert everything[0] == ("o:Z", 3)
    assert host.call(address, "scan", "o:", "o:a", 2) == [("o:a0", 4), ("o:b", 0)]
    assert host.call(address, "scan", "q") == []
    assert host.call(address, "scan", "")[:2] == [("", 8), ("o", 6)]


def test_sha256_and_ed25519_verify():
    key = nacl.signing.SigningKey(b"\x07" * 32)
    public, message = key.verify_key.encode(), b"bid:42"
    signature = key.sign(message).signature
    host = FakeHost()
    address = deploy(host, """
        def digest(data):
            return crypto.sha256(data)

        def verify(public_key, message, signature):
            return crypto.ed25519_verify(public_key, message, signature)
    """)
    assert host.call(address, "digest", b"abc") == hashlib.sha256(b"abc").digest()
    assert host.call(address, "verify", public, message, signature) is True
    assert host.call(address, "verify", public, b"bid:43", signature) is False
    assert host.call(address, "verify", public[:31], message, signature) is False
    assert host.call(address, "verify", b"\x00" * 32, message, signature) is False
    assert error_of(host, address, "digest", "abc").code == "type_error"


def test_events():
    host = FakeHost()
    address = deploy(host, """
        def main(n):
            data = {"n": n, "list": [n]}
            emit("Tick", data)
            data["n"] = -1
            return True

        def bad():
            emit("Tick", [1])
    """)
    host.call(address, "main", 3)
    assert host.events == [(address, "Tick", {"n": 3, "list": [3]})]
    assert error_of(host, address, "bad").code == "type_error"


def test_read_only_queries_refuse_writes():
    host = FakeHost()
    address = deploy(host, STORE + "\ndef shout():\n    emit('X', {})\n")
    for function, args in (("put", ("k", 1)), ("drop", ("k",)), ("shout", ())):
        assert error_of(host, address, function, *args, read_only=True).code == "write_in_query"
    assert host.call(address, "get", "k", read_only=True) is None


def test_host_failures_become_host_error():
    class BrokenHost(FakeHost):
        def storage_get(self, address, key):
            raise OSError("disk on fire")

    host = BrokenHost()
    address = deploy(host, STORE)
    error = error_of(host, address, "get", "k")
    assert error.code == "host_error" and "disk on fire" in error.message


# -- init and deploy ---------------------------------------------------------------------

def test_init_runs_at_deploy_only():
    host = FakeHost()
    source = "def init(start):\n    storage.set('n', start)\ndef get():\n    return storage.get('n')\n"
    address = deploy(host, source, args=[7])
    assert host.call(address, "get") == 7
    assert error_of(host, address, "init", 8).code == "no_such_function"
    with pytest.raises(VMError) as info:
        run_call(host, address, "get", [], ALICE, GasMeter(10_000), deploy=True)
    assert info.value.code == "no_such_function"


# -- cross-contract calls ----------------------------------------------------------------

CALLEE = """
def whoami(tag):
    return [tag, chain.caller, chain.origin, chain.self]

def mutate(items):
    items.append("callee")
    return items

def _private():
    return 1

def write():
    storage.set("k", 1)

def call_back(target):
    return call(target, "ping")
"""

CALLER = """
def relay(target, tag):
    return call(target, "whoami", tag)

def keep(target):
    mine = [1]
    theirs = call(target, "mutate", mine)
    return [mine, theirs]

def private(target):
    return call(target, "_private")

def ping():
    return "pong"

def loop_back(target):
    return call(target, "call_back", chain.self)

def self_call():
    return call(chain.self, "ping")

def write_via(target):
    return call(target, "write")
"""


@pytest.fixture
def pair():
    host = FakeHost(origin=ALICE)
    return host, deploy(host, CALLER, "caller"), deploy(host, CALLEE, "callee")


def test_callee_sees_calling_contract_as_caller(pair):
    host, caller, callee = pair
    assert host.call(caller, "relay", callee, "t", caller=BOB) == ["t", caller, ALICE, callee]


def test_arguments_are_copied_across_contracts(pair):
    host, caller, callee = pair
    assert host.call(caller, "keep", callee) == [[1], [1, "callee"]]


def test_cross_call_errors(pair):
    host, caller, callee = pair
    assert error_of(host, caller, "private", callee).code == "no_such_function"
    assert error_of(host, caller, "relay", "0x" + "ee" * 20, "t").code == "contract_not_found"
    assert error_of(host, caller, "write_via", callee, read_only=True).code == "write_in_query"


def test_reentrancy_is_refused(pair):
    host, caller, callee = pair
    assert error_of(host, caller, "loop_back", callee).code == "reentrancy"
    assert error_of(host, caller, "self_call").code == "reentrancy"


def test_call_depth_is_limited():
    host = FakeHost()
    chain_source = "def hop(targets):\n    if not targets:\n        return 0\n" \
                   "    return 1 + call(targets[0], 'hop', targets[1:])\n"
    addresses = [deploy(host, chain_source, f"hop{i}") for i in range(MAX_CALL_DEPTH + 1)]
    assert host.call(addresses[0], "hop", addresses[1:MAX_CALL_DEPTH]) == MAX_CALL_DEPTH - 1
    assert error_of(host, addresses[0], "hop", addresses[1:]).code == "call_depth"


def test_contract_address_helper_is_stable():
    assert contract_address("token") == contract_address("token") != contract_address("x")


def test_documented_counter_example_runs():
    text = (Path(__file__).resolve().parent.parent / "docs" / "contracts.md").read_text()
    source = text.split("```python\n", 1)[1].split("```", 1)[0]
    host = FakeHost()
    address = deploy(host, source, args=[5])
    assert host.call(address, "incr") == 6
    assert host.call(address, "incr", 4) == 10
    assert host.call(address, "get") == 10
    assert host.events[-1][1:] == ("Incremented", {"by": 4, "count": 10, "who": ALICE})


def test_scan_results_out_of_range_are_a_host_error():
    class SloppyHost(FakeHost):
        def storage_scan(self, address, prefix, start_after, limit):
            return [("other", 1)]

    host = SloppyHost()
    address = deploy(host, STORE)
    assert error_of(host, address, "scan", "o:").code == "host_error"
