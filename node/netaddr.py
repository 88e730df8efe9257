"""Network addresses as operators write them: ``HOST:PORT`` and a peer's ``ADDRESS@HOST:PORT``.

``HOST`` is a DNS name, an IPv4 address, or an IPv6 address in brackets (``[::1]:26656``);
``ADDRESS`` is the peer's node address (0x and 40 hex digits, from its public key), so a
link to a peer is only accepted from the key that owns that address. Errors are ValueErrors
whose message says what is wrong; callers prefix the flag or field they parsed.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from node.keys import is_address

WILDCARD_HOSTS = ("0.0.0.0", "::")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


@dataclass(frozen=True)
class HostPort:
    host: str  # without brackets, also for IPv6
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_wildcard(self) -> bool:
        """True for a listen address on every interface: no address a peer can dial."""
        return self.host in WILDCARD_HOSTS

    @property
    def url(self) -> str:
        """http://HOST:PORT, for aiohttp clients."""
        return f"http://{self}"


@dataclass(frozen=True)
class PeerAddress:
    address: str  # the peer's node address
    endpoint: HostPort

    def __str__(self) -> str:
        return f"{self.address}@{self.endpoint}"


def parse_host_port(text: object) -> HostPort:
    """``HOST:PORT`` -> HostPort; ValueError naming what is wrong."""
    if not isinstance(text, str) or ":" not in text:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 203.0.113.7:26656 or node1.example.org:26656)")
    host, _, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        _check_ipv6(host, text)
    elif ":" in host:
        raise ValueError(f"{text!r}: write an IPv6 host in brackets, e.g. [2001:db8::1]:26656")
    elif not _HOSTNAME.match(host):
        raise ValueError(f"{text!r}: {host!r} is not a host name or IP address")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return HostPort(host, int(port_text))


def parse_peer(text: object) -> PeerAddress:
    """``ADDRESS@HOST:PORT`` -> PeerAddress; ValueError naming what is wrong."""
    if not isinstance(text, str) or "@" not in text:
        raise ValueError(f"{text!r} is not ADDRESS@HOST:PORT (the peer's node address as 'flexledger node "
                         f"show-id' prints it, e.g. 0x1f…9a@203.0.113.7:26656)")
    address, _, endpoint = text.partition("@")
    if not is_address(address):
        raise ValueError(f"{text!r}: {address!r} is not a node address (0x and 40 lowercase hex digits)")
    return PeerAddress(address, parse_host_port(endpoint))


def _check_ipv6(host: str, text: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise ValueError(f"{text!r}: {host!r} is not an IPv6 address") from None
