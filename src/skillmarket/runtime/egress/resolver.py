"""Name resolution for the egress guard: one interface, a system and a static backend.

The guard resolves each name once per connection and connects only to an address it has just
checked, so a second lookup (and a DNS-rebinding answer) never reaches a socket. Resolvers
only map names to addresses; whatever they return is still judged by the address rules, so an
injected resolver cannot open private space.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping, Sequence
from ipaddress import ip_address
from typing import Protocol

import anyio

from skillmarket.runtime.egress.addresses import IPAddress
from skillmarket.runtime.egress.errors import EgressUnreachable

__all__ = ["Resolver", "StaticResolver", "SystemResolver"]


class Resolver(Protocol):
    """Maps a normalised ASCII host name to its addresses, in the order to try them."""

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        """All addresses of ``host``; raises :class:`EgressUnreachable` (``dns_failed``)."""
        ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo`` in a worker thread)."""

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        """All TCP addresses ``getaddrinfo`` returns for ``host``, duplicates removed."""
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise EgressUnreachable("dns_failed", host=host) from exc
        addresses = _unique(ip_address(info[4][0]) for info in infos)
        if not addresses:
            raise EgressUnreachable("dns_failed", host=host)
        return addresses


class StaticResolver:
    """A fixed table of names to addresses, for tests, benchmarks and pinned deployments.

    Names not in the table fail as DNS failures. The answers are judged like any others: a
    name mapped to ``127.0.0.1`` is refused unless the guard was built to allow that address.
    """

    def __init__(self, table: Mapping[str, Iterable[str | IPAddress]]):
        self._table = {
            name.lower().rstrip("."): _unique(ip_address(a) for a in addresses)
            for name, addresses in table.items()
        }

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        """The table's addresses for ``host``."""
        addresses = self._table.get(host.lower().rstrip("."))
        if not addresses:
            raise EgressUnreachable("dns_failed", host=host)
        return addresses


def _unique(addresses: Iterable[IPAddress]) -> tuple[IPAddress, ...]:
    return tuple(dict.fromkeys(addresses))
