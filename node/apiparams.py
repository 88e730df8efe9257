"""Validation of API parameters: one function per kind of parameter, each raising ApiError (400).

Path and query parameters are text from anyone who can reach the API; each is checked for
its exact form and range before it reaches the chain, so bad input is a 4xx with a message
and never an exception inside a handler. Integers are ASCII digits (``str.isdigit`` accepts
``"²"``), at most MAX_INT_DIGITS of them; numbers of seconds are finite; hex is exact.
"""
from __future__ import annotations

import math
import re
from typing import Mapping

from node.errors import ApiError
from node.keys import is_address

MAX_HEIGHT = (1 << 63) - 1  # far above any chain's height; the store keys heights by 8 bytes
MAX_INT_DIGITS = 19  # enough for MAX_HEIGHT; int() never sees more
MAX_NUMBER_CHARS = 32  # a number of seconds

_INT = re.compile(rf"-?[0-9]{{1,{MAX_INT_DIGITS}}}")
_HASH = re.compile(r"(?:0x)?[0-9a-fA-F]{64}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


def integer(text: str, what: str, minimum: int, maximum: int) -> int:
    """``text`` as an integer from ``minimum`` to ``maximum``."""
    value = int(text) if _INT.fullmatch(text) else None
    if value is None or not minimum <= value <= maximum:
        raise ApiError("bad_request", f"{what} must be an integer from {minimum} to {maximum}")
    return value


def int_query(query: Mapping[str, str], name: str, default: int | None, minimum: int, maximum: int) -> int:
    """Query parameter ``name`` as an integer in range; ``default`` if absent (None: required)."""
    if name not in query:
        if default is None:
            raise ApiError("bad_request", f"{name} is required: an integer from {minimum} to {maximum}")
        return default
    return integer(query[name], name, minimum, maximum)


def seconds_query(query: Mapping[str, str], name: str, default: float, maximum: float) -> float:
    """Query parameter ``name`` as a finite number of seconds from 0 to ``maximum``."""
    text = query.get(name)
    if text is None:
        return default
    try:
        value = float(text) if len(text) <= MAX_NUMBER_CHARS else math.nan
    except ValueError:
        value = math.nan
    if not 0 <= value <= maximum:  # also false for NaN
        raise ApiError("bad_request", f"{name} must be a number of seconds from 0 to {maximum:g}")
    return value


def choice_query(query: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    """Query parameter ``name`` as one of ``choices``."""
    value = query.get(name, default)
    if value not in choices:
        raise ApiError("bad_request", f"{name} must be one of {', '.join(choices)}")
    return value


def hash_param(text: str, what: str) -> bytes:
    """A 32-byte hash as 64 hex digits, with or without 0x."""
    if not _HASH.fullmatch(text):
        raise ApiError("bad_request", f"{what} must be 32 bytes of hex")
    return bytes.fromhex(text.removeprefix("0x"))


def hex_param(text: str, what: str, max_bytes: int) -> bytes:
    """1 to ``max_bytes`` bytes as hex digits (an even number of them)."""
    if len(text) > 2 * max_bytes or not _HEX.fullmatch(text):
        raise ApiError("bad_request", f"{what} must be 1 to {max_bytes} bytes of hex")
    return bytes.fromhex(text)


def address_param(text: object) -> str:
    """An account or contract address: 0x and 40 lowercase hex digits."""
    if not is_address(text):
        shown = repr(text)
        shown = shown if len(shown) <= 64 else shown[:61] + "..."
        raise ApiError("bad_address", f"not an address: {shown} (expected 0x and 40 lowercase hex digits)")
    return text


def block_id(text: str) -> int | bytes | None:
    """A block id: ``latest`` (None), a height, or a block hash."""
    if text == "latest":
        return None
    if _HASH.fullmatch(text):
        return bytes.fromhex(text.removeprefix("0x"))
    if _INT.fullmatch(text) and 0 <= int(text) <= MAX_HEIGHT:
        return int(text)
    raise ApiError("bad_request", f"block id must be latest, a height from 0 to {MAX_HEIGHT} or a 32-byte hex hash")
