"""FlexLedger grid regimes (contract language): the traffic light per feeder, and DSO setpoints.

Every feeder is in one regime: GREEN (the default for a feeder never set), YELLOW (with the
affected MTUs), RED or BLACK; see docs/market.md, "Grid regimes and attestations".  Only a
**grid operator** changes a regime: the genesis-configured **oracle key** (the DSO grid
oracle's address, ``init(registry, oracle)``; None disables it) or a registered
participant with the ``dso`` role.  Every change carries a reason and the hash of the
attestation it rests on ("" for a manual change) and is kept in a history.

In RED, a grid operator records direct-control setpoints (W) per device of the feeder and
MTU; anyone may read them.  The market contract reads ``regime`` to gate orders and
``is_operator`` for the RED override; this contract never calls the market.

The grid on chain: a grid operator publishes its feeders' buses, each with an optional
connection limit (W), at most 64 buses per transaction (``publish_buses``).  Publishing a
bus again replaces its feeder and limit; a bus is never removed.  The registry reads
``published`` and ``bus`` to refuse devices on unknown buses, on the wrong feeder or above
the bus's limit.

Storage layout:
    "registry", "oracle"          addresses from genesis
    "g:<feeder>"                  current regime {feeder, state, mtus, reason, attestation,
                                  by, height, time, seq}
    "h:<feeder>:<seq>"            regime history (seq 1, 2, ...; 8 digits), the same records
    "sp:<device>:<mtu>"           setpoint {device, feeder, mtu, watts, by, height} (mtu 12 digits)
    "bus:<bus>"                   published bus {bus, feeder, limit_w} (limit_w: W, or None)
    "fb:<feeder>:<bus>"           the same record, listed under its feeder
    "f:<feeder>"                  published feeder {feeder, buses (how many)}

Events: RegimeChanged{feeder, state, mtus, reason, attestation, by, seq},
SetpointsIssued{feeder, count, by}, BusesPublished{feeder, count, by}.
"""

STATES = ("GREEN", "YELLOW", "RED", "BLACK")
HEX_DIGITS = "0123456789abcdef"
ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789._-"
MAX_MTUS = 192
MAX_REASON = 200
MAX_SETPOINTS = 500
MAX_PAGE = 200
MAX_PUBLISH = 64


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(value):
    return isinstance(value, str) and 1 <= len(value) <= 64 and all([ch in ID_CHARS for ch in value])


def _is_address(value):
    return is_address(value)


def _pad(number, width):
    text = str(number)
    return "0" * (width - len(text)) + text


def init(registry, oracle):
    require(_is_address(registry), "registry must be an address")
    require(oracle is None or _is_address(oracle), "oracle must be an address or None")
    storage.set("registry", registry)
    if oracle is not None:
        storage.set("oracle", oracle)


def oracle():
    """The genesis-configured oracle key's address (None when not configured)."""
    return storage.get("oracle")


def is_operator(address):
    """Whether ``address`` may change regimes: the oracle key or a participant with the dso role."""
    if not _is_address(address):
        return False
    if address == storage.get("oracle"):
        return True
    record = call(storage.get("registry"), "participant", address)
    return record is not None and "dso" in record["roles"]


def _green(feeder):
    return {"feeder": feeder, "state": "GREEN", "mtus": [], "reason": "", "attestation": "", "by": None,
            "height": 0, "time": 0, "seq": 0}


def regime(feeder):
    """The feeder's current regime record (GREEN with seq 0 if it was never set)."""
    require(_is_id(feeder), "feeder must be 1 to 64 characters from a-z 0-9 . _ -")
    return storage.get("g:" + feeder, _green(feeder))


def set_regime(feeder, state, mtus, reason, attestation):
    """Change a feeder's regime (grid operators only).  ``mtus``: the affected absolute MTUs
    (unix time // 900), ascending and distinct, for YELLOW; empty for the other states.
    ``attestation``: 64 hex digits (the attestation's input hash) or "" for a manual change."""
    require(is_operator(chain.caller), "only the DSO or the grid oracle key may change a regime")
    require(_is_id(feeder), "feeder must be 1 to 64 characters from a-z 0-9 . _ -")
    require(state in STATES, "state must be GREEN, YELLOW, RED or BLACK")
    require(isinstance(mtus, list) and len(mtus) <= MAX_MTUS and all([_is_int(m) and m >= 0 for m in mtus])
            and all([mtus[k] < mtus[k + 1] for k in range(len(mtus) - 1)]),
            "mtus must be at most 192 distinct MTUs (ints >= 0) in ascending order")
    if state == "YELLOW":
        require(len(mtus) >= 1, "a YELLOW regime needs the affected MTUs")
    else:
        require(len(mtus) == 0, "only a YELLOW regime has affected MTUs")
    require(isinstance(reason, str) and 1 <= len(reason) <= MAX_REASON, "reason must be 1 to 200 characters")
    require(isinstance(attestation, str) and (attestation == "" or (
        len(attestation) == 64 and all([d in HEX_DIGITS for d in attestation]))),
            "attestation must be 64 hex digits or empty")
    seq = regime(feeder)["seq"] + 1
    record = {"feeder": feeder, "state": state, "mtus": mtus, "reason": reason, "attestation": attestation,
              "by": chain.caller, "height": chain.height, "time": chain.time, "seq": seq}
    storage.set("g:" + feeder, record)
    storage.set("h:" + feeder + ":" + _pad(seq, 8), record)
    emit("RegimeChanged", {"feeder": feeder, "state": state, "mtus": mtus, "reason": reason,
                           "attestation": attestation, "by": chain.caller, "seq": seq})
    return seq


def history(feeder, start_after=0, limit=100):
    """The feeder's regime changes with seq > start_after, oldest first, at most ``limit``."""
    require(_is_id(feeder), "feeder must be 1 to 64 characters from a-z 0-9 . _ -")
    require(_is_int(start_after) and start_after >= 0, "start_after must be a seq")
    return _page("h:" + feeder + ":", start_after, 8, limit)


def set_setpoints(feeder, setpoints):
    """Direct control in RED: ``setpoints`` [[device, mtu, watts], ...] for devices on the
    feeder (watts: power the device must draw, negative to inject).  A later setpoint for
    the same device and MTU replaces the earlier one."""
    require(is_operator(chain.caller), "only the DSO or the grid oracle key may issue setpoints")
    state = regime(feeder)["state"]
    require(state == "RED", "setpoints need a RED regime (feeder " + feeder + " is " + state + ")")
    require(isinstance(setpoints, list) and 1 <= len(setpoints) <= MAX_SETPOINTS,
            "setpoints must be a list of 1 to 500 [device, mtu, watts] rows")
    registry = storage.get("registry")
    for row in setpoints:
        require(isinstance(row, list) and len(row) == 3 and _is_id(row[0]) and _is_int(row[1]) and row[1] >= 0
                and _is_int(row[2]), "a setpoint is [device, mtu, watts] with int mtu >= 0 and int watts")
        device = call(registry, "device", row[0])
        require(device is not None and device["feeder"] == feeder, "device " + row[0] + " is not on feeder " + feeder)
        storage.set("sp:" + row[0] + ":" + _pad(row[1], 12),
                    {"device": row[0], "feeder": feeder, "mtu": row[1], "watts": row[2], "by": chain.caller,
                     "height": chain.height})
    emit("SetpointsIssued", {"feeder": feeder, "count": len(setpoints), "by": chain.caller})
    return len(setpoints)


def setpoint(device, mtu):
    """The setpoint record of ``device`` for absolute MTU ``mtu``, or None."""
    if not _is_id(device) or not _is_int(mtu) or mtu < 0:
        return None
    return storage.get("sp:" + device + ":" + _pad(mtu, 12))


def setpoints(device, start_after=0, limit=100):
    """The device's setpoints for MTUs > start_after, in MTU order, at most ``limit``."""
    require(_is_id(device), "device must be a device id")
    require(_is_int(start_after) and start_after >= 0, "start_after must be an MTU")
    return _page("sp:" + device + ":", start_after, 12, limit)


def _page(prefix, start_after, width, limit):
    """Records under ``prefix`` whose zero-padded number (``width`` digits) is > start_after."""
    return _scan(prefix, None if start_after == 0 else _pad(start_after, width), limit)


# -- the grid on chain ------------------------------------------------------------------

def publish_buses(feeder, buses):
    """Publish buses of ``feeder`` (grid operators only): ``buses`` [[bus, limit_w], ...], 1 to
    64 rows in ascending bus order, ``limit_w`` the bus's connection limit in W (an int >= 1)
    or None for no limit.  A bus published before takes the new feeder and limit; no bus is
    ever removed.  Returns how many buses the feeder has."""
    require(is_operator(chain.caller), "only the DSO or the grid oracle key may publish the grid")
    require(_is_id(feeder), "feeder must be 1 to 64 characters from a-z 0-9 . _ -")
    require(isinstance(buses, list) and 1 <= len(buses) <= MAX_PUBLISH,
            "buses must be a list of 1 to 64 [bus, limit_w] rows")
    for row in buses:
        require(isinstance(row, list) and len(row) == 2 and _is_id(row[0])
                and (row[1] is None or (_is_int(row[1]) and row[1] >= 1)),
                "a bus row is [bus, limit_w] with a bus id and limit_w an int >= 1 (W) or None")
    require(all([buses[k][0] < buses[k + 1][0] for k in range(len(buses) - 1)]),
            "buses must be in ascending order of bus id, each once")
    for bus, limit_w in buses:
        before = storage.get("bus:" + bus)
        if before is None or before["feeder"] != feeder:
            _count(feeder, 1)
        if before is not None and before["feeder"] != feeder:
            _count(before["feeder"], -1)
            storage.delete("fb:" + before["feeder"] + ":" + bus)
        record = {"bus": bus, "feeder": feeder, "limit_w": limit_w}
        storage.set("bus:" + bus, record)
        storage.set("fb:" + feeder + ":" + bus, record)
    emit("BusesPublished", {"feeder": feeder, "count": len(buses), "by": chain.caller})
    return storage.get("f:" + feeder)["buses"]


def _count(feeder, change):
    """Add ``change`` to the feeder's bus count; a feeder left without buses is unlisted."""
    record = storage.get("f:" + feeder, {"feeder": feeder, "buses": 0})
    record["buses"] += change
    if record["buses"] == 0:
        storage.delete("f:" + feeder)
    else:
        storage.set("f:" + feeder, record)


def published():
    """Whether a grid operator has published any bus."""
    return len(storage.scan("f:", None, 1)) == 1


def bus(bus_id):
    """The published bus record {bus, feeder, limit_w}, or None."""
    if not _is_id(bus_id):
        return None
    return storage.get("bus:" + bus_id)


def feeders(start_after=None, limit=100):
    """Published feeders {feeder, buses} in id order, at most ``limit``; page with the last id."""
    require(start_after is None or _is_id(start_after), "start_after must be a feeder id or None")
    return _scan("f:", start_after, limit)


def buses(feeder, start_after=None, limit=100):
    """The feeder's published buses {bus, feeder, limit_w} in id order; page with the last id."""
    require(_is_id(feeder), "feeder must be 1 to 64 characters from a-z 0-9 . _ -")
    require(start_after is None or _is_id(start_after), "start_after must be a bus id or None")
    return _scan("fb:" + feeder + ":", start_after, limit)


def _scan(prefix, start_after, limit):
    """Records under ``prefix`` whose key continues after ``start_after`` (None: from the first)."""
    require(_is_int(limit) and 1 <= limit <= MAX_PAGE, "limit must be 1 to 200")
    start = None if start_after is None else prefix + start_after
    return [record for key, record in storage.scan(prefix, start, limit)]
