"""The registry contract on a real chain: admission by the authority, roles, devices,
portfolios, and the council vote that replaces the authority."""
import pytest

from market.genesis import MarketConfig
from tests.chainkit import DAVE
from tests.market_chain import REGISTRY, MarketChain, key_of, ok, rejected


@pytest.fixture
def chain(tmp_path):
    local = MarketChain(tmp_path / "node")
    yield local
    local.close()


def spec(device_id="ev-1", **changes):
    base = {"id": device_id, "type": "ev_charger", "max_power": 11_000, "min_power": 1_400, "capacity": 60_000,
            "bus": "bus-7", "feeder": "f1"}
    return {**base, **changes}


def test_authority_admits_participants_with_roles(chain):
    alice = key_of("alice")
    rejected(chain.call(alice, REGISTRY, "admit", alice.address, "alice", ["prosumer"], alice.public_key.hex()),
             "only the registry authority may admit participants")
    ok(chain.call(chain.issuer, REGISTRY, "admit", alice.address, "alice", ["aggregator", "prosumer"],
                  alice.public_key.hex()))
    assert chain.query(REGISTRY, "participant", alice.address) == {
        "address": alice.address, "name": "alice", "roles": ["aggregator", "prosumer"],
        "public_key": alice.public_key.hex()}
    rejected(chain.call(chain.issuer, REGISTRY, "admit", alice.address, "again", ["prosumer"], alice.public_key.hex()),
             "already a participant")
    bob = key_of("bob")
    for roles, message in ((["miner"], "unknown role (roles: dso, tso, aggregator, prosumer, token_issuer, "
                                       "meter_data_manager)"),
                           (["prosumer", "dso"], "roles must be sorted and distinct"),
                           ([], "roles must be a non-empty list")):
        rejected(chain.call(chain.issuer, REGISTRY, "admit", bob.address, "bob", roles, bob.public_key.hex()), message)
    rejected(chain.call(chain.issuer, REGISTRY, "admit", bob.address, "bob", ["prosumer"], alice.public_key.hex()),
             "public key does not match the address")
    ok(chain.call(chain.issuer, REGISTRY, "set_roles", alice.address, ["tso"]))
    assert chain.query(REGISTRY, "participant", alice.address)["roles"] == ["tso"]
    assert [p["name"] for p in chain.query(REGISTRY, "participants", None, 10)] == ["alice"]


def test_devices_are_registered_by_their_owner_with_an_aggregator(chain):
    owner = chain.participant("owner", "prosumer", funds=0)
    agg = chain.participant("agg", "aggregator", funds=0)
    stranger = DAVE  # admitted to the chain by the allow list, not a market participant
    rejected(chain.call(stranger, REGISTRY, "register_device", spec()), "not a registered participant")
    rejected(chain.call(owner, REGISTRY, "register_device", spec(aggregator=owner.address)),
             "aggregator is not a registered aggregator")
    rejected(chain.call(owner, REGISTRY, "register_device", spec(owner=agg.address)),
             "only the authority may register a device for another owner")
    for changes, message in (({"type": "toaster"}, "device type must be one of load, generation, storage, "
                                                   "ev_charger, heat_pump"),
                             ({"max_power": 0}, "max_power must be an int >= 1"),
                             ({"min_power": 20_000}, "min_power must not exceed max_power"),
                             ({"capacity": 0}, "a storage device or EV charger needs a capacity"),
                             ({"bus": "Bus 7"}, "bus must be 1 to 64 characters from a-z 0-9 . _ -")):
        rejected(chain.call(owner, REGISTRY, "register_device", spec(**changes)), message)
    ok(chain.call(owner, REGISTRY, "register_device", spec(aggregator=agg.address)))
    device = chain.query(REGISTRY, "device", "ev-1")
    assert (device["owner"], device["aggregator"], device["bus"], device["feeder"]) == \
        (owner.address, agg.address, "bus-7", "f1")
    rejected(chain.call(owner, REGISTRY, "register_device", spec()), "device already registered")
    rejected(chain.call(agg, REGISTRY, "set_aggregator", "ev-1", None), "only the owner may change the device's aggregator")
    ok(chain.call(owner, REGISTRY, "set_aggregator", "ev-1", None))
    assert chain.query(REGISTRY, "device", "ev-1")["aggregator"] is None
    ok(chain.call(chain.issuer, REGISTRY, "register_device", spec("pv-1", type="generation", capacity=0,
                                                                   owner=owner.address)))
    assert [d["id"] for d in chain.query(REGISTRY, "devices", None, 10)] == ["ev-1", "pv-1"]
    assert [d["id"] for d in chain.query(REGISTRY, "devices", "ev-1", 10)] == ["pv-1"]


def test_council_vote_replaces_the_authority(tmp_path):
    members = sorted([key_of("m1"), key_of("m2"), key_of("m3")], key=lambda k: k.address)
    config = MarketConfig(council=tuple(m.address for m in members), threshold=2)
    new = key_of("new-authority")
    chain = MarketChain(tmp_path / "node", config=config, allowed=(*members, new))
    try:
        rejected(chain.call(new, REGISTRY, "vote_authority", new.address), "only council members may vote")
        assert ok(chain.call(members[0], REGISTRY, "vote_authority", new.address)) is False
        rejected(chain.call(members[0], REGISTRY, "vote_authority", new.address), "already voted for this candidate")
        assert chain.query(REGISTRY, "authority") == chain.issuer.address
        assert ok(chain.call(members[2], REGISTRY, "vote_authority", new.address)) is True
        assert chain.query(REGISTRY, "authority") == new.address
        rejected(chain.call(chain.issuer, REGISTRY, "admit", new.address, "x", ["dso"], new.public_key.hex()),
                 "only the registry authority may admit participants")
        ok(chain.call(new, REGISTRY, "admit", new.address, "x", ["dso"], new.public_key.hex()))
    finally:
        chain.close()
