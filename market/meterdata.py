"""Signed meter data on the client side: the message the meter data manager signs.

It must match ``message`` in market/contracts/meter.py byte for byte::

    flexledger-meter-v1|<meter contract>|<signer>|<device>,<mtu>,<wh>;<device>,<mtu>,<wh>...

A reading is ``(device, mtu, wh)``: the Wh the device imported in the absolute MTU
(unix time // 900), negative when it exported.
"""
from __future__ import annotations

from node.keys import KeyPair

METER_DOMAIN = "flexledger-meter-v1"
MAX_BATCH = 500

Reading = tuple[str, int, int]


def message(meter: str, signer: str, readings: list[Reading]) -> bytes:
    body = ";".join(f"{device},{mtu},{wh}" for device, mtu, wh in readings)
    return f"{METER_DOMAIN}|{meter}|{signer}|{body}".encode()


def sign(key: KeyPair, meter: str, readings: list[Reading]) -> str:
    """The meter data manager's signature over a batch, as 128 hex digits."""
    return key.sign(message(meter, key.address, readings)).hex()


def batches(readings: list[Reading]) -> list[list[Reading]]:
    """Readings split into batches the contract accepts (at most MAX_BATCH each)."""
    return [readings[start:start + MAX_BATCH] for start in range(0, len(readings), MAX_BATCH)]
