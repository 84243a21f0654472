"""Open relay connections through a SOCKS5 proxy (Tor, I2P, or the user's own).

Host names, ``.onion`` names included, are passed to the proxy unresolved
(``rdns``), so no DNS query for a relay ever leaves the machine. With isolation
on, every connection presents its own random user name and password: Tor's
``IsolateSOCKSAuth`` (on by default) then builds it a separate circuit, so two
relay connections cannot be tied together by their exit.
"""

from __future__ import annotations

import asyncio
import socket

from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError, ProxyType
from python_socks.async_.asyncio import Proxy

from veil.crypto import RandomSource
from veil.relay.protocol.address import RelayAddress
from veil.routing.errors import SocksConnectFailed
from veil.routing.policy import SocksSettings, hosts_to_try

__all__ = ["ISOLATION_CREDENTIAL_BYTES", "SocksConnector", "isolation_credentials"]

ISOLATION_CREDENTIAL_BYTES = 16
"""Random bytes in each isolation user name and password (hex-encoded on the wire)."""
DEFAULT_CONNECT_TIMEOUT = 30.0


def isolation_credentials(rng: RandomSource) -> tuple[str, str]:
    """A fresh random ``(username, password)`` pair for one connection."""
    username = rng.random_bytes(ISOLATION_CREDENTIAL_BYTES).hex()
    password = rng.random_bytes(ISOLATION_CREDENTIAL_BYTES).hex()
    return username, password


class SocksConnector:
    """Makes TCP connections through one SOCKS5 proxy."""

    __slots__ = ("_rng", "_timeout", "settings")

    def __init__(
        self,
        settings: SocksSettings,
        rng: RandomSource,
        *,
        timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        self.settings = settings
        self._rng = rng
        self._timeout = timeout

    def hosts(self, address: RelayAddress) -> tuple[str, ...]:
        """The hosts of ``address`` in the order to try: ``.onion`` first (see
        :func:`~veil.routing.policy.hosts_to_try`)."""
        return hosts_to_try(address, self.settings)

    async def connect(self, host: str, port: int) -> socket.socket:
        """Return a connected, non-blocking socket to ``host:port`` via the proxy.

        Raises :class:`SocksConnectFailed` if the proxy is unreachable, refuses the
        connection, or does not answer within the timeout.
        """
        username: str | None = None
        password: str | None = None
        if self.settings.isolate:
            username, password = isolation_credentials(self._rng)
        proxy = Proxy(
            ProxyType.SOCKS5,
            self.settings.host,
            self.settings.port,
            username=username,
            password=password,
            rdns=True,
        )
        try:
            connected: socket.socket = await proxy.connect(host, port, timeout=self._timeout)
        except (ProxyConnectionError, ProxyTimeoutError, ProxyError) as exc:
            raise SocksConnectFailed(
                f"SOCKS5 proxy {self.settings} could not connect to {host}:{port}: {exc}"
            ) from exc
        return connected

    async def open_connection(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Like :func:`asyncio.open_connection`, through the proxy."""
        return await asyncio.open_connection(sock=await self.connect(host, port))
