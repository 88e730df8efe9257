"""Mapping between VM values and JSON, for the API and the CLI, and a bounded JSON parser.

JSON has no bytes or tuples: bytes travel as ``{"$bytes": "<hex>"}``, tuples as
``{"$tuple": [...]}`` and maps with keys other than text as ``{"$map": [[key, value], ...]}``;
everything else maps directly. Floats are refused on the way in, and so are values nested
deeper than the canonical decoder allows (MAX_DECODE_DEPTH) and maps of colliding keys.

``parse_json`` is ``json.loads`` for text from the network: it refuses text nested deeper than
MAX_JSON_DEPTH brackets before parsing, because the json module parses by recursion (with the
VM's raised recursion limit, a body of 100,000 ``[`` would exhaust the C stack).
"""
from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from node.encoding import MAX_DECODE_DEPTH, EncodingError, map_from_pairs

MAX_JSON_DEPTH = 3 * MAX_DECODE_DEPTH + 8  # a map level is 3 JSON levels ({"$map": [[k, v]]}), plus the envelope

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)  # unterminated: to the end (linear)
_BRACKETS = re.compile(r"[\[\]{}]")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonValueError(ValueError):
    """A JSON value that has no VM counterpart, or JSON text that is refused."""


def parse_json(text: str | bytes) -> Any:
    """``json.loads(text)``, refusing text nested deeper than MAX_JSON_DEPTH (checked without recursion)."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if len(text) > MAX_JSON_DEPTH:
            brackets = _BRACKETS.findall(_JSON_STRING.sub("", text))
            if max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0) > MAX_JSON_DEPTH:
                raise JsonValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return json.loads(text)
    except JsonValueError:
        raise
    except ValueError as exc:
        raise JsonValueError(f"not valid JSON: {exc}") from None


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


def from_json_value(value: Any, depth: int = 0) -> Any:
    """The VM value of a JSON value; at most MAX_DECODE_DEPTH lists, tuples and maps deep."""
    if isinstance(value, float):
        raise JsonValueError("floats are not allowed: use integer units (W, Wh, micro-tokens)")
    if isinstance(value, str):
        return _text(value)
    if not isinstance(value, (list, dict)):
        return value
    if depth >= MAX_DECODE_DEPTH:
        raise JsonValueError(f"value nested deeper than {MAX_DECODE_DEPTH} levels")
    depth += 1
    if isinstance(value, list):
        return [from_json_value(v, depth) for v in value]
    if set(value) == {"$bytes"}:
        try:
            return bytes.fromhex(value["$bytes"])
        except (TypeError, ValueError):
            raise JsonValueError("$bytes must be a hex string") from None
    if set(value) == {"$tuple"}:
        if not isinstance(value["$tuple"], list):
            raise JsonValueError("$tuple must be an array")
        return tuple(from_json_value(v, depth) for v in value["$tuple"])
    if set(value) == {"$map"}:
        return _map(value["$map"], depth)
    return {_text(k): from_json_value(v, depth) for k, v in value.items()}


def _text(text: str) -> str:
    """JSON escapes can spell lone surrogates ("\\ud800"), which no UTF-8 encoding can hold."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise JsonValueError("text holds a lone surrogate (\\ud800-\\udfff without its pair)") from None
    return text


def _map(pairs: Any, depth: int) -> dict:
    if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise JsonValueError("$map must be an array of [key, value] pairs")
    try:
        return map_from_pairs([(_key(from_json_value(k, depth)), from_json_value(v, depth)) for k, v in pairs])
    except EncodingError as exc:
        raise JsonValueError(str(exc)) from None
    except TypeError:  # a tuple key holding a list or a map
        raise JsonValueError("map keys must be text, numbers, bytes or tuples of those") from None


def _key(key: Any) -> Any:
    if isinstance(key, (list, dict)):
        raise JsonValueError("map keys must be text, numbers, bytes or tuples")
    return key
