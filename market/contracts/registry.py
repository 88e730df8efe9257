"""FlexLedger market registry (contract language): participants with roles, and devices.

Participants are admitted by the registry authority, set at genesis.  The council (also
set at genesis) can replace the authority by vote: when ``threshold`` members have voted
for the same candidate with ``vote_authority``, it becomes the authority.

A device is registered by its owner (a participant) or by the authority on the owner's
behalf, optionally naming the aggregator that manages it.  The device's *trader* is its
managing aggregator if it has one, otherwise its owner: only the trader may place orders
for it (an aggregator trades its portfolio, a prosumer its own devices).

Once the DSO has published its grid (the ``grid`` contract's ``publish_buses``), a device
must name a published bus, the feeder that bus is on, and a max_power within the bus's
connection limit.  A chain whose grid is not published yet accepts any bus and feeder.

Units: power in W, energy in Wh.  Ids (devices, buses, feeders) are 1 to 64 characters
from ``a-z 0-9 . _ -``.

Storage layout:
    "authority"              address allowed to admit participants
    "council"                addresses that may vote for a new authority
    "threshold"              votes needed to replace the authority
    "grid"                   the grid contract (published buses)
    "vote:<candidate>"       council members who voted for candidate (sorted)
    "p:<address>"            participant {address, name, roles, public_key}
    "d:<device id>"          device {id, type, max_power, min_power, capacity, bus, feeder,
                             owner, aggregator}

Events: ParticipantAdmitted{address, name, roles}, RolesChanged{address, roles},
DeviceRegistered{id, owner, aggregator, feeder, bus}, AggregatorChanged{id, aggregator},
AuthorityVote{voter, candidate, votes}, AuthorityChanged{from, to}.
"""

ROLES = ("dso", "tso", "aggregator", "prosumer", "token_issuer", "meter_data_manager")
DEVICE_TYPES = ("load", "generation", "storage", "ev_charger", "heat_pump")
HEX_DIGITS = "0123456789abcdef"
ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789._-"
MAX_ID = 64
MAX_NAME = 64
MAX_PAGE = 200


def _is_address(value):
    return is_address(value)


def _check_address(value, what):
    require(_is_address(value), what + " is not an address")


def _check_id(value, what):
    require(isinstance(value, str) and 1 <= len(value) <= MAX_ID
            and all([ch in ID_CHARS for ch in value]),
            what + " must be 1 to 64 characters from a-z 0-9 . _ -")


def _check_int(value, what, low):
    require(isinstance(value, int) and not isinstance(value, bool) and value >= low,
            what + " must be an int >= " + str(low))


def _check_roles(roles):
    require(isinstance(roles, list) and len(roles) > 0, "roles must be a non-empty list")
    for role in roles:
        require(role in ROLES, "unknown role (roles: dso, tso, aggregator, prosumer, token_issuer, "
                               "meter_data_manager)")
    require(all([roles[k] < roles[k + 1] for k in range(len(roles) - 1)]), "roles must be sorted and distinct")


def _only_authority(action):
    require(chain.caller == storage.get("authority"), "only the registry authority may " + action)


def init(authority, council, threshold, grid):
    _check_address(authority, "authority")
    require(isinstance(council, list), "council must be a list of addresses")
    for member in council:
        _check_address(member, "council member")
    require(all([council[k] < council[k + 1] for k in range(len(council) - 1)]), "council must be sorted and distinct")
    require(isinstance(threshold, int) and not isinstance(threshold, bool)
            and (threshold == 0 if not council else 1 <= threshold <= len(council)),
            "threshold must be between 1 and the council size")
    storage.set("authority", authority)
    storage.set("council", council)
    storage.set("threshold", threshold)
    _check_address(grid, "grid")
    storage.set("grid", grid)


# -- participants -----------------------------------------------------------------------

def admit(address, name, roles, public_key):
    """Admit a participant; ``public_key`` is the 32-byte ed25519 key as 64 hex digits."""
    _only_authority("admit participants")
    _check_address(address, "participant")
    require(not storage.has("p:" + address), "already a participant")
    require(isinstance(name, str) and 1 <= len(name) <= MAX_NAME, "name must be 1 to 64 characters")
    _check_roles(roles)
    require(isinstance(public_key, str) and len(public_key) == 64 and all([d in HEX_DIGITS for d in public_key]),
            "public key must be 64 lowercase hex digits")
    require("0x" + crypto.sha256(bytes(public_key))[:20].hex() == address,
            "public key does not match the address")
    storage.set("p:" + address, {"address": address, "name": name, "roles": roles, "public_key": public_key})
    emit("ParticipantAdmitted", {"address": address, "name": name, "roles": roles})
    return True


def set_roles(address, roles):
    _only_authority("change roles")
    record = storage.get("p:" + address)
    require(record is not None, "not a participant")
    _check_roles(roles)
    record["roles"] = roles
    storage.set("p:" + address, record)
    emit("RolesChanged", {"address": address, "roles": roles})
    return True


def participant(address):
    """The participant record, or None."""
    if not isinstance(address, str) or len(address) > 64:
        return None
    return storage.get("p:" + address)


def participants(start_after=None, limit=100):
    """Participants in address order, ``limit`` at most 200; page with the last address."""
    return _page("p:", start_after, limit)


# -- devices ----------------------------------------------------------------------------

def _check_aggregator(aggregator):
    if aggregator is not None:
        record = storage.get("p:" + aggregator) if _is_address(aggregator) else None
        require(record is not None and "aggregator" in record["roles"],
                "aggregator is not a registered aggregator")


def register_device(spec):
    """Register a device: spec {id, type, max_power, min_power, capacity, bus, feeder,
    owner (default: the caller), aggregator (default: None)}."""
    require(isinstance(spec, dict), "device spec must be a dict")
    for field in ("id", "type", "max_power", "min_power", "capacity", "bus", "feeder"):
        require(field in spec, "device spec is missing " + field)
    owner = spec.get("owner", chain.caller)
    aggregator = spec.get("aggregator")
    device_id = spec["id"]
    _check_id(device_id, "device id")
    require(spec["type"] in DEVICE_TYPES, "device type must be one of load, generation, storage, ev_charger, heat_pump")
    _check_int(spec["max_power"], "max_power", 1)
    _check_int(spec["min_power"], "min_power", 0)
    require(spec["min_power"] <= spec["max_power"], "min_power must not exceed max_power")
    _check_int(spec["capacity"], "capacity", 0)
    require(spec["capacity"] > 0 or spec["type"] not in ("storage", "ev_charger"),
            "a storage device or EV charger needs a capacity")
    _check_id(spec["bus"], "bus")
    _check_id(spec["feeder"], "feeder")
    is_authority = chain.caller == storage.get("authority")
    require(is_authority or storage.has("p:" + chain.caller), "not a registered participant")
    require(owner == chain.caller or is_authority, "only the authority may register a device for another owner")
    require(_is_address(owner) and storage.has("p:" + owner), "owner is not a registered participant")
    _check_aggregator(aggregator)
    _check_connection(device_id, spec["bus"], spec["feeder"], spec["max_power"])
    require(not storage.has("d:" + device_id), "device already registered")
    device = {"id": device_id, "type": spec["type"], "max_power": spec["max_power"],
              "min_power": spec["min_power"], "capacity": spec["capacity"], "bus": spec["bus"],
              "feeder": spec["feeder"], "owner": owner, "aggregator": aggregator}
    storage.set("d:" + device_id, device)
    emit("DeviceRegistered", {"id": device_id, "owner": owner, "aggregator": aggregator,
                              "feeder": spec["feeder"], "bus": spec["bus"]})
    return True


def _check_connection(device_id, bus_id, feeder, max_power):
    """Once the grid is published: the bus is published, on ``feeder``, and takes max_power."""
    grid = storage.get("grid")
    if not call(grid, "published"):
        return
    bus = call(grid, "bus", bus_id)
    where = "device " + device_id + ": "
    require(bus is not None, where + "bus " + bus_id + " is not on the published grid")
    require(bus["feeder"] == feeder, where + "bus " + bus_id + " is on feeder " + bus["feeder"] + ", not " + feeder)
    require(bus["limit_w"] is None or max_power <= bus["limit_w"],
            where + "max_power " + str(max_power) + " W is above the connection limit of bus " + bus_id + " ("
            + str(bus["limit_w"]) + " W)")


def set_aggregator(device_id, aggregator):
    """The owner (or the authority) hands the device to an aggregator, or takes it back (None)."""
    device = storage.get("d:" + device_id) if isinstance(device_id, str) and len(device_id) <= MAX_ID else None
    require(device is not None, "unknown device")
    require(chain.caller == device["owner"] or chain.caller == storage.get("authority"),
            "only the owner may change the device's aggregator")
    _check_aggregator(aggregator)
    device["aggregator"] = aggregator
    storage.set("d:" + device_id, device)
    emit("AggregatorChanged", {"id": device_id, "aggregator": aggregator})
    return True


def device(device_id):
    """The device record, or None."""
    if not isinstance(device_id, str) or len(device_id) > MAX_ID:
        return None
    return storage.get("d:" + device_id)


def devices(start_after=None, limit=100):
    """Devices in id order, ``limit`` at most 200; page with the last id."""
    return _page("d:", start_after, limit)


def _page(prefix, start_after, limit):
    """Records under ``prefix`` with keys after ``start_after``, ``limit`` at most MAX_PAGE."""
    require(isinstance(limit, int) and 1 <= limit <= MAX_PAGE, "limit must be 1 to 200")
    start = None if start_after is None else prefix + start_after
    return [record for key, record in storage.scan(prefix, start, limit)]


# -- authority --------------------------------------------------------------------------

def authority():
    return storage.get("authority")


def council():
    return {"members": storage.get("council"), "threshold": storage.get("threshold")}


def vote_authority(candidate):
    """A council member votes to make ``candidate`` the registry authority."""
    require(chain.caller in storage.get("council"), "only council members may vote")
    _check_address(candidate, "candidate")
    key = "vote:" + candidate
    votes = storage.get(key, [])
    require(chain.caller not in votes, "already voted for this candidate")
    votes = sorted(votes + [chain.caller])
    emit("AuthorityVote", {"voter": chain.caller, "candidate": candidate, "votes": len(votes)})
    if len(votes) < storage.get("threshold"):
        storage.set(key, votes)
        return False
    storage.delete(key)
    emit("AuthorityChanged", {"from": storage.get("authority"), "to": candidate})
    storage.set("authority", candidate)
    return True
