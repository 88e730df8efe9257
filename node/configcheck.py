"""Checking a node's ``config.json`` as loaded: known fields only, each of the right type and
range, with errors that name the file and the field; and reading the layouts older versions
wrote.

Older layouts still read: ``api_host``/``api_port`` and ``p2p_host``/``p2p_port`` become
``api_listen`` and ``p2p_listen``; a peer written as ``{"address", "p2p_url", "api_url"}``
becomes ``{"address", "p2p"}`` (blocks now come over the peer link, not the peer's API). A field without a rule of its own is
checked against the type of its default, so a field added to ``NodeConfig`` is checked too.
"""
from __future__ import annotations

from dataclasses import MISSING, Field, fields
from typing import Callable

from consensus.timeouts import TimeoutConfig
from node.keys import is_address
from node.netaddr import parse_host_port

LEGACY_LISTEN = {"api": ("api_host", "api_port", "api_listen"), "p2p": ("p2p_host", "p2p_port", "p2p_listen")}


class ConfigFieldError(ValueError):
    """One field of config.json is wrong; the message names the field."""


def upgrade_layout(doc: dict) -> dict:
    """``doc`` in today's layout (a copy; the older fields above translated)."""
    doc = dict(doc)
    for host_key, port_key, listen_key in LEGACY_LISTEN.values():
        if host_key in doc or port_key in doc:
            host, port = doc.pop(host_key, "127.0.0.1"), doc.pop(port_key, None)
            doc.setdefault(listen_key, f"{host}:{port}")
    if isinstance(doc.get("peers"), list):
        doc["peers"] = [_upgrade_peer(peer) for peer in doc["peers"]]
    return doc


def _upgrade_peer(peer: object) -> object:
    if not isinstance(peer, dict) or "p2p_url" not in peer:
        return peer
    url = peer["p2p_url"]
    return {"address": peer.get("address"), "p2p": url.split("://", 1)[-1] if isinstance(url, str) else url}


def check_fields(doc: dict, config_fields: tuple[Field, ...]) -> None:
    """ConfigFieldError for the first unknown or invalid field of ``doc``."""
    known = {f.name: f for f in config_fields}
    unknown = sorted(set(doc) - set(known))
    if unknown:
        raise ConfigFieldError(f"unknown field {unknown[0]!r} (known fields: {', '.join(known)}; "
                               f"see docs/config.md)")
    for name, value in doc.items():
        _RULES.get(name, _same_type_as_default(known[name]))(name, value)


def _host_port(name: str, value: object) -> None:
    try:
        parse_host_port(value)
    except ValueError as exc:
        raise ConfigFieldError(f"{name}: {exc}") from None


def _optional_host_port(name: str, value: object) -> None:
    if value != "":
        _host_port(name, value)


def _peers(name: str, value: object) -> None:
    if not isinstance(value, list):
        raise ConfigFieldError(f"{name} must be a list of {{\"address\": \"0x…\", \"p2p\": \"HOST:PORT\"}}")
    seen = set()
    for i, peer in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(peer, dict) or not {"address", "p2p"} <= set(peer) or set(peer) - {"address", "p2p"}:
            raise ConfigFieldError(f"{where} must be {{\"address\": \"0x…\", \"p2p\": \"HOST:PORT\"}}, not {peer!r}")
        if not is_address(peer["address"]):
            raise ConfigFieldError(f"{where}.address is not a node address: {peer['address']!r}")
        if peer["address"] in seen:
            raise ConfigFieldError(f"{where}.address {peer['address']} is listed twice")
        seen.add(peer["address"])
        _host_port(f"{where}.p2p", peer["p2p"])


def _timeouts(name: str, value: object) -> None:
    known = [f.name for f in fields(TimeoutConfig)]
    if not isinstance(value, dict):
        raise ConfigFieldError(f"{name} must be an object of seconds by step ({', '.join(known)})")
    for key, seconds in value.items():
        if key not in known:
            raise ConfigFieldError(f"{name}: unknown timeout {key!r} (known: {', '.join(known)})")
        if not _is_number(seconds) or seconds < 0:
            raise ConfigFieldError(f"{name}.{key} must be a number of seconds, zero or more, not {seconds!r}")


def _whole(least: int) -> Callable[[str, object], None]:
    def check(name: str, value: object) -> None:
        if type(value) is not int or value < least:
            raise ConfigFieldError(f"{name} must be a whole number of at least {least}, not {value!r}")
    return check


def _positive_seconds(name: str, value: object) -> None:
    if not _is_number(value) or not value > 0:
        raise ConfigFieldError(f"{name} must be a number of seconds above zero, not {value!r}")


def _same_type_as_default(config_field: Field) -> Callable[[str, object], None]:
    default = config_field.default if config_field.default is not MISSING else config_field.default_factory()
    expected = type(default)

    def check(name: str, value: object) -> None:
        fits = _is_number(value) if expected is float else type(value) is expected or default is None
        if not fits:
            raise ConfigFieldError(f"{name} must be of type {expected.__name__}, not {value!r}")
    return check


def _is_number(value: object) -> bool:
    return type(value) in (int, float)


_RULES: dict[str, Callable[[str, object], None]] = {
    "api_listen": _host_port,
    "p2p_listen": _host_port,
    "external_address": _optional_host_port,
    "peers": _peers,
    "timeouts": _timeouts,
    "block_interval": _positive_seconds,
    "mempool_capacity": _whole(1),
    "query_gas_limit": _whole(1),
    "query_timeout": _positive_seconds,
    "query_workers": _whole(1),
    "query_queue": _whole(0),
}
