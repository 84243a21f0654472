"""One pinned connection to a relay, kept up: connecting, keepalive and reconnection.

:class:`RelayLink` is the connection half of :class:`veil.relay.client.relay_client.RelayClient`.
It tries the address's hosts in order, pings the relay so a silently dead
connection is noticed, and when the connection drops it reconnects with
exponential backoff and jitter, then calls ``on_restored`` (the client
resubscribes there). Commands issued while the relay is away wait for the
reconnection; with reconnection off they raise :class:`ConnectionLost` at once.

One task keeps the link, re-arming one timer: while connected, the next keepalive
ping (or the loss of the connection, whichever comes first); while not, the next
reconnection attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from veil.crypto import RandomSource
from veil.errors import ProtocolError
from veil.relay.client.connection import (
    ClientConnection,
    CommandBuilder,
    ReplyListener,
    StreamBuilder,
)
from veil.relay.client.session import ClientSession, Reply
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import ConnectionLost
from veil.relay.transport.tls import client_context

__all__ = ["DEFAULT_RECONNECT", "KEEPALIVE_INTERVAL", "Dialer", "ReconnectPolicy", "RelayLink"]

_log = logging.getLogger("veil.relay.client")


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Exponential backoff with jitter: delay ``n`` is ``first * factor**n`` capped at
    ``maximum``, then scaled by a random factor in ``[1 - jitter, 1]`` so that many
    clients cut off together do not all come back in the same instant."""

    first_delay: float = 0.25
    maximum_delay: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: RandomSource) -> float:
        """Seconds to wait before reconnection attempt ``attempt`` (0-based)."""
        # The exponent is capped so a days-long outage cannot overflow the float.
        base = min(self.maximum_delay, self.first_delay * self.factor ** min(attempt, 64))
        unit = int.from_bytes(rng.random_bytes(2), "big") / 0xFFFF
        return base * (1 - self.jitter * unit)


class Dialer(Protocol):
    """Opens the TCP connection to a relay host some other way (e.g. through SOCKS5)."""

    def hosts(self, address: RelayAddress) -> tuple[str, ...]:
        """The hosts of ``address`` to try through this dialer, in order."""
        ...

    async def connect(self, host: str, port: int) -> socket.socket:
        """Return a connected socket to ``host:port``; :class:`OSError` if unreachable."""
        ...


DEFAULT_RECONNECT = ReconnectPolicy()
KEEPALIVE_INTERVAL = 60.0
"""Seconds between keepalive pings; a ping unanswered for as long closes the connection."""


@dataclass(frozen=True, slots=True)
class LinkOptions:
    """How a :class:`RelayLink` connects and stays connected (see ``RelayClient.connect``)."""

    reconnect: ReconnectPolicy | None
    connect_timeout: float
    keepalive: float | None
    dialer: Dialer | None = None


class RelayLink:
    """A connection to one relay, pinned to its identity, replaced when it drops."""

    def __init__(
        self,
        address: RelayAddress,
        rng: RandomSource,
        options: LinkOptions,
        on_push: Callable[[Reply], None],
        on_restored: Callable[[], Awaitable[None]],
    ) -> None:
        self.address = address
        self._rng = rng
        self._options = options
        self._on_push = on_push
        self._on_restored = on_restored
        self._context = client_context()
        self._connection: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._keeper: asyncio.Task[None] | None = None
        self.closed = False

    async def open(self) -> None:
        """Connect for the first time; raises what :meth:`_open` raises."""
        self._adopt(await self._open())

    @property
    def connected(self) -> bool:
        """True while a verified session with the relay is up."""
        return self._connection is not None and self._connection.established

    @property
    def session(self) -> ClientSession | None:
        """The current verified session (``None`` while disconnected)."""
        connection = self._connection
        return connection.session if connection is not None and connection.established else None

    @property
    def identity_key(self) -> bytes:
        """The relay's Ed25519 identity key, as its certificate proved it."""
        return b"" if self._connection is None else self._connection.identity_key

    async def close(self) -> None:
        """Disconnect and stop reconnecting; waiting commands raise :class:`ConnectionLost`."""
        self.closed = True
        self._connected.set()  # wake commands waiting for a reconnection, so they fail
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        if self._connection is not None:
            self._connection.close()

    async def request(self, build: CommandBuilder) -> rsp.Response:
        """Send a command now, or once reconnected; commands wait while the relay is away."""
        while True:
            connection = self._connection
            if connection is not None and connection.established:
                return await connection.submit(build)
            await self._wait_for_reconnection()

    async def exchange(self, build: Callable[[], tuple[bytes, bytes]]) -> bytes:
        """Send a transmission built elsewhere once connected; return the reply's body."""
        while True:
            connection = self._connection
            if connection is not None and connection.established:
                return await connection.submit_raw(*build())
            await self._wait_for_reconnection()

    async def stream(self, build: StreamBuilder, listener: ReplyListener) -> None:
        """Send transmissions once connected; feed their replies to ``listener`` until done."""
        while True:
            connection = self._connection
            if connection is not None and connection.established:
                return await connection.submit_stream(build, listener)
            await self._wait_for_reconnection()

    def submit_raw(self, correlation_id: bytes, transmission: bytes) -> asyncio.Future[bytes]:
        """Like :meth:`exchange` without waiting: :class:`ConnectionLost` unless connected."""
        connection = self._connection
        if connection is None or not connection.established:
            raise ConnectionLost("not connected to the relay")
        return connection.submit_raw(correlation_id, transmission)

    async def _wait_for_reconnection(self) -> None:
        if self.closed or self._options.reconnect is None:
            raise ConnectionLost("not connected to the relay")
        await self._connected.wait()

    async def _open(self) -> ClientConnection:
        """Connect to the first host of the address that answers and proves its identity.

        A host that cannot be reached is skipped; any other failure (an identity
        mismatch above all) is raised at once.
        """
        failure = ConnectionLost("relay address has only .onion hosts: configure SOCKS5 (Tor)")
        dialer = self._options.dialer
        if dialer is None:
            hosts = self.address.hosts_in_order(through_socks=False)
        else:
            hosts = dialer.hosts(self.address)
        for host in hosts:
            try:
                return await self._open_host(host)
            except (OSError, TimeoutError, ConnectionLost) as exc:
                failure = ConnectionLost(f"cannot reach {host}: {type(exc).__name__}")
        raise failure

    async def _open_host(self, host: str) -> ClientConnection:
        loop = asyncio.get_running_loop()
        connection: ClientConnection | None = None
        dialer = self._options.dialer
        try:
            async with asyncio.timeout(self._options.connect_timeout):
                if dialer is None:
                    _, connection = await loop.create_connection(
                        self._make_connection, host, self.address.port
                    )
                else:
                    sock = await dialer.connect(host, self.address.port)
                    _, connection = await loop.create_connection(self._make_connection, sock=sock)
                await connection.ready
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        return connection

    def _make_connection(self) -> ClientConnection:
        pinned = self.address.fingerprint_digest
        return ClientConnection(self._context, pinned, self._rng, self._on_push, self._on_lost)

    def _adopt(self, connection: ClientConnection) -> None:
        self._connection = connection
        self._lost.clear()
        self._connected.set()
        options = self._options
        if self._keeper is None and (options.keepalive, options.reconnect) != (None, None):
            self._keeper = asyncio.create_task(self._keep())

    def _on_lost(self, connection: ClientConnection) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        self._connected.clear()
        self._lost.set()

    async def _keep(self) -> None:
        """Keep the link up: keepalive pings while connected, reconnections while not."""
        policy = self._options.reconnect
        attempt = 0
        while not self.closed:
            connection = self._connection
            if connection is not None:
                attempt = 0
                await self._watch(connection)
            elif policy is None:
                return  # reconnection is off: commands raise ConnectionLost from now on
            else:
                await asyncio.sleep(policy.delay(attempt, self._rng))
                attempt += 1
                await self._try_reconnecting()

    async def _watch(self, connection: ClientConnection) -> None:
        """Wait for the loss of ``connection`` or, first, the keepalive interval; then ping.

        A relay that stays silent for another interval is taken for dead: the
        connection is closed, and the loss starts the reconnection.
        """
        interval = self._options.keepalive
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval):
                await self._lost.wait()
            return
        if connection is not self._connection or not connection.established:
            return
        try:
            async with asyncio.timeout(interval):
                await connection.submit(lambda session: session.ping())
        except TimeoutError:
            connection.close(TimeoutError("relay did not answer a keepalive ping"))
        except ProtocolError:
            return  # the connection ended meanwhile; reconnection takes over

    async def _try_reconnecting(self) -> None:
        try:
            self._adopt(await self._open())
            # Bounded: if this connection drops before the SUBs go out, they would
            # wait for a reconnection that only this task can make.
            async with asyncio.timeout(self._options.connect_timeout):
                await self._on_restored()
        except Exception as exc:
            # Unreachable, impostor, bad hello, or a bug: whatever it was, a
            # client that stops trying never comes back, so back off and retry.
            if isinstance(exc, ProtocolError):
                _log.info("relay reconnection failed: %s", type(exc).__name__)
            else:
                _log.exception("relay reconnection failed unexpectedly")
            self._drop_connection()

    def _drop_connection(self) -> None:
        """Forget and close the current connection without starting a reconnection."""
        connection, self._connection = self._connection, None
        self._connected.clear()
        if connection is not None:
            connection.close()
