"""Mapping between VM values and JSON, for the API and the CLI.

JSON has no bytes or tuples: bytes travel as ``{"$bytes": "<hex>"}`` and tuples as
``{"$tuple": [...]}``; everything else maps directly. Floats are refused on the way in.
"""
from __future__ import annotations

from typing import Any


class JsonValueError(ValueError):
    """A JSON value that has no VM counterpart."""


def to_json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, tuple):
        return {"$tuple": [to_json_value(v) for v in value]}
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: to_json_value(v) for k, v in value.items()}
        return {"$map": [[to_json_value(k), to_json_value(v)] for k, v in value.items()]}
    return value


def from_json_value(value: Any) -> Any:
    if isinstance(value, float):
        raise JsonValueError("floats are not allowed: use integer units (W, Wh, micro-tokens)")
    if isinstance(value, list):
        return [from_json_value(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            try:
                return bytes.fromhex(value["$bytes"])
            except (TypeError, ValueError):
                raise JsonValueError("$bytes must be a hex string") from None
        if set(value) == {"$tuple"}:
            return tuple(from_json_value(v) for v in value["$tuple"])
        if set(value) == {"$map"}:
            return {_key(from_json_value(k)): from_json_value(v) for k, v in value["$map"]}
        return {k: from_json_value(v) for k, v in value.items()}
    return value


def _key(key: Any) -> Any:
    if isinstance(key, (list, dict)):
        raise JsonValueError("map keys must be text, numbers, bytes or tuples")
    return key
