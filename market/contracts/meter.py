"""FlexLedger meter data (contract language): metered energy per device and MTU, signed.

The meter data manager (a registry participant with the ``meter_data_manager`` role)
signs a batch of readings with its ed25519 key; anyone may submit the signed batch.  A
reading is the device's net energy *imported* during the MTU in Wh (negative when it
exported).  MTUs are absolute: unix time // 900.  A reading is recorded once and never
changed, and only once its MTU has been delivered: the block time is at or after the MTU's
end, less the genesis ``lead`` (0 on a real chain; a testnet that plays a day in minutes,
like the demo, accepts readings up to ``lead`` seconds early).

The signed message (UTF-8) is, with no spaces::

    flexledger-meter-v1|<this contract's address>|<signer>|<device>,<mtu>,<wh>;<device>,<mtu>,<wh>...

Device ids use only ``a-z 0-9 . _ -`` and numbers are decimal, so the text is unambiguous.

init(registry, lead) runs at genesis.

Storage layout:
    "registry"                   the registry contract
    "lead"                       seconds before its MTU's end a reading is accepted
    "m:<device>:<mtu>"           Wh imported (int)

Events: MeterData{signer, readings}  (readings = how many were recorded)
"""

HEX_DIGITS = "0123456789abcdef"
ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789._-"
MAX_BATCH = 500
DOMAIN = "flexledger-meter-v1"


def init(registry, lead):
    require(_is_int(lead) and lead >= 0, "lead must be an int >= 0 (seconds)")
    storage.set("registry", registry)
    storage.set("lead", lead)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_reading(entry):
    require(isinstance(entry, list) and len(entry) == 3, "a reading is [device, mtu, wh]")
    device, mtu, wh = entry
    require(isinstance(device, str) and 1 <= len(device) <= 64 and all([ch in ID_CHARS for ch in device]),
            "invalid device id in meter data")
    require(_is_int(mtu) and mtu >= 0, "MTU must be an int >= 0")
    require(_is_int(wh), "metered energy must be an int (Wh)")


def message(signer, readings):
    """The exact bytes the meter data manager signs for this batch."""
    require(isinstance(readings, list) and 1 <= len(readings) <= MAX_BATCH, "meter data must be 1 to 500 readings")
    for entry in readings:
        _check_reading(entry)
    body = ";".join([e[0] + "," + str(e[1]) + "," + str(e[2]) for e in readings])
    return (DOMAIN + "|" + chain.self + "|" + str(signer) + "|" + body).encode()


def submit(signer, readings, signature):
    """Record a batch of readings signed by ``signer``; ``signature`` is 128 hex digits."""
    data = message(signer, readings)
    record = call(storage.get("registry"), "participant", signer)
    require(record is not None and "meter_data_manager" in record["roles"],
            "signer is not a meter data manager")
    require(isinstance(signature, str) and len(signature) == 128 and all([d in HEX_DIGITS for d in signature])
            and crypto.ed25519_verify(bytes(record["public_key"]), data, bytes(signature)),
            "meter data not signed by the meter data manager")
    delivered_by = chain.time + storage.get("lead")
    for device, mtu, wh in readings:
        require((mtu + 1) * 900 <= delivered_by,
                "meter reading for " + device + " MTU " + str(mtu) + " before the MTU is delivered")
        key = "m:" + device + ":" + str(mtu)
        require(not storage.has(key), "meter reading already recorded for " + device + " MTU " + str(mtu))
        storage.set(key, wh)
    emit("MeterData", {"signer": signer, "readings": len(readings)})
    return len(readings)


def reading(device, mtu):
    """Wh imported by ``device`` in ``mtu``, or None when there is no reading."""
    require(isinstance(device, str) and len(device) <= 64 and _is_int(mtu), "a reading is asked as (device, mtu)")
    return storage.get("m:" + device + ":" + str(mtu))


def readings(pairs):
    """Readings for a list of [device, mtu] pairs, in the same order (None when missing)."""
    require(isinstance(pairs, list), "pairs must be a list of [device, mtu]")
    return [reading(pair[0], pair[1]) for pair in pairs]
