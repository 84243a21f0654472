"""Which destinations a proxy relay may connect to (review finding F7).

Clients name the destination of a ``PRXY``, so without a check any client could
make a relay open TCP and TLS connections to its own loopback interface, to
link-local addresses or to the operator's private network: a blind port-scan
primitive. :class:`GuardedDialer` resolves every host itself, refuses any address
that is not globally routable unless the operator's allow-list covers it, and
connects to the address it checked (so a DNS answer cannot change in between).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from veil.relay.protocol.address import RelayAddress

__all__ = ["DestinationDenied", "DestinationGuard", "GuardedDialer"]

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationDenied(OSError):
    """The destination resolves only to addresses the proxy may not connect to."""


@dataclass(frozen=True, slots=True)
class DestinationGuard:
    """Globally routable addresses, plus the operator's ``allowed`` networks."""

    allowed: tuple[IpNetwork, ...] = ()

    @classmethod
    def parse(cls, networks: Sequence[str]) -> DestinationGuard:
        """From the config's list (``"10.0.0.0/8"``, ``"::1"``...); ``ValueError`` if bad."""
        return cls(tuple(ipaddress.ip_network(network, strict=False) for network in networks))

    def permits(self, address: IpAddress) -> bool:
        """Whether the proxy may connect to ``address``."""
        if any(address in network for network in self.allowed):
            return True
        mapped = getattr(address, "ipv4_mapped", None)
        target = mapped if mapped is not None else address
        return target.is_global and not target.is_multicast


class GuardedDialer:
    """A :class:`~veil.relay.client.link.Dialer` that connects only where the guard
    permits, to the very address it checked."""

    def __init__(self, guard: DestinationGuard, *, timeout: float) -> None:
        self._guard = guard
        self._timeout = timeout

    def hosts(self, address: RelayAddress) -> tuple[str, ...]:
        """Every host of the address, in order."""
        return address.hosts

    async def connect(self, host: str, port: int) -> socket.socket:
        """Resolve ``host``, then connect to its first permitted address."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        permitted = [
            info for info in infos if self._guard.permits(ipaddress.ip_address(info[4][0]))
        ]
        if not permitted:
            raise DestinationDenied(
                f"{host} resolves only to private, loopback or reserved addresses; "
                "the relay operator can allow them with [routing] proxy_allow"
            )
        family, kind, proto, _, target = permitted[0]
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(self._timeout):
                await loop.sock_connect(sock, target)
        except BaseException:
            sock.close()
            raise
        return sock
