"""The relay's network server: TLS connections in, relay sessions out.

Each accepted connection runs TLS over memory BIOs (:mod:`veil.relay.transport.tls`). Once
the handshake completes it opens a session of the :class:`RelayService`, sends
the session's hello and feeds every received block to the session in order.
Any protocol error from a connection closes that connection only; nothing a
client sends can stop the server or touch another client's session.

Two limits bound what idle or numerous clients cost (both in ``RelaySettings``):
beyond ``max_connections`` a new connection is closed as soon as it is accepted,
and a connection with no subscription that sent no block for
``idle_timeout_seconds`` is closed by a sweep that runs every half timeout.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import Counter
from dataclasses import dataclass, field

from veil.errors import ProtocolError
from veil.relay.server.logging_setup import LOGGER_NAME, fields
from veil.relay.server.service import RelayService, RelaySession
from veil.relay.transport.tls import TlsBlockProtocol

__all__ = ["MAX_BACKLOG_BLOCKS", "RelayServer", "TransportMetrics"]

#: Received blocks a connection may queue before we stop reading from it.
MAX_BACKLOG_BLOCKS = 8
_LISTEN_BACKLOG = 1024

_log = logging.getLogger(LOGGER_NAME)


@dataclass(slots=True)
class TransportMetrics:
    """Connection-level counters; aggregate only, nothing names a client."""

    connections_accepted: int = 0
    connections_open: int = 0
    handshakes_completed: int = 0
    connections_refused: int = 0
    """Connections closed on accept because ``max_connections`` were open."""
    connections_idle_closed: int = 0
    """Connections closed after ``idle_timeout_seconds`` without traffic or subscription."""
    blocks_received: int = 0
    blocks_sent: int = 0
    connections_dropped: Counter[str] = field(default_factory=Counter)
    """Connections closed for a fault, by kind (an error class name)."""


class RelayServer:
    """Accepts TLS connections and serves each one as a session of ``service``."""

    def __init__(self, service: RelayService, context: ssl.SSLContext) -> None:
        self.service = service
        self.context = context
        self.metrics = TransportMetrics()
        self._servers: list[asyncio.Server] = []
        self._connections: set[RelayConnection] = set()
        self._idle_sweep: asyncio.TimerHandle | None = None
        """The server's one timer: the next sweep of idle connections."""

    @property
    def listening(self) -> list[tuple[str, int]]:
        """Every ``(host, port)`` the server is bound to."""
        return [
            (str(sock.getsockname()[0]), int(sock.getsockname()[1]))
            for server in self._servers
            for sock in server.sockets
        ]

    async def listen(self, host: str, port: int) -> None:
        """Start accepting on ``host:port`` (port 0 picks a free port)."""
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: RelayConnection(self), host, port, backlog=_LISTEN_BACKLOG
        )
        self._servers.append(server)
        if self._idle_sweep is None:
            self._arm_idle_sweep()

    def close_idle(self, now: float) -> int:
        """Close every connection idle since ``now - idle_timeout_seconds``; return how many.

        Idle means: no block received in that time, none being handled, and no
        subscription (a subscriber waits for pushes, so silence is normal for it).
        ``now`` is on the event loop's clock.
        """
        deadline = now - self.service.settings.idle_timeout_seconds
        idle = [c for c in self._connections if c.idle_since(deadline)]
        for connection in idle:
            connection.close()
        self.metrics.connections_idle_closed += len(idle)
        return len(idle)

    def _arm_idle_sweep(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.service.settings.idle_timeout_seconds / 2
        self._idle_sweep = loop.call_later(delay, self._sweep_idle)

    def _sweep_idle(self) -> None:
        self.close_idle(asyncio.get_running_loop().time())
        self._arm_idle_sweep()

    async def close(self) -> None:
        """Stop accepting and reading, answer what was accepted, then close connections."""
        if self._idle_sweep is not None:
            self._idle_sweep.cancel()
            self._idle_sweep = None
        for server in self._servers:
            server.close()
        for connection in self._connections:
            connection.stop_reading()
        # Commands already accepted commit and are answered before their connection
        # closes, so a graceful stop leaves no client wondering.
        await self.service.settle()
        for connection in list(self._connections):
            connection.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    def _opened(self, connection: RelayConnection) -> bool:
        """Count a new connection; False if it must be refused (the server is full)."""
        self.metrics.connections_accepted += 1
        if len(self._connections) >= self.service.settings.max_connections:
            self.metrics.connections_refused += 1
            return False
        self._connections.add(connection)
        self.metrics.connections_open += 1
        return True

    def _closed(self, connection: RelayConnection, exc: BaseException | None) -> None:
        if connection not in self._connections:
            return  # refused on accept: never counted as open
        self._connections.discard(connection)
        self.metrics.connections_open -= 1
        if exc is not None:
            kind = type(exc).__name__
            self.metrics.connections_dropped[kind] += 1
            _log.debug("connection.dropped", extra=fields(kind=kind))


class RelayConnection(TlsBlockProtocol):
    """One client connection: blocks in, through the session, blocks out."""

    server_side = True

    def __init__(self, server: RelayServer) -> None:
        super().__init__(server.context)
        self._server = server
        self._session: RelaySession | None = None
        # A list, not a deque: it holds at most MAX_BACKLOG_BLOCKS and an empty deque
        # costs more memory than every other per-connection field together.
        self._backlog: list[bytes] = []
        self._worker: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_block = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._last_block = asyncio.get_running_loop().time()
        if not self._server._opened(self):
            self.close()  # a plain TCP close before any TLS: the client retries later

    def idle_since(self, deadline: float) -> bool:
        """True if nothing arrived since ``deadline``, nothing is pending and nothing subscribed."""
        subscribed = self._session is not None and self._session.subscribed
        return self._last_block < deadline and self._worker is None and not subscribed

    def on_handshake_completed(self) -> None:
        self._server.metrics.handshakes_completed += 1
        self._session = self._server.service.open_session(self._push)
        self._push(self._session.hello)

    def on_block_received(self, block: bytes) -> None:
        self._server.metrics.blocks_received += 1
        self._last_block = asyncio.get_running_loop().time()
        self._backlog.append(block)
        if self._worker is None:
            # A worker lives only while blocks wait, so an idle connection holds no task.
            self._worker = asyncio.create_task(self._work())
        elif len(self._backlog) >= MAX_BACKLOG_BLOCKS:
            self.hold_reading(True)

    def on_connection_closed(self, exc: BaseException | None) -> None:
        if self._session is not None:
            self._session.close()
        if self._worker is not None:
            self._worker.cancel()
        self._backlog.clear()
        self._server._closed(self, exc)

    def stop_reading(self) -> None:
        """Take no more blocks from this peer (the server is shutting down)."""
        self._stopping = True
        self.hold_reading(True)

    def _push(self, block: bytes) -> None:
        self._server.metrics.blocks_sent += 1
        self.send_block(block)

    async def _work(self) -> None:
        assert self._session is not None
        try:
            while self._backlog and self.established:
                await self._session.handle_block(self._backlog.pop(0))
                if len(self._backlog) < MAX_BACKLOG_BLOCKS // 2 and not self._stopping:
                    self.hold_reading(False)
        except ProtocolError as exc:
            self.close(exc)
        except Exception as exc:
            _log.exception("connection.failed", extra=fields(kind=type(exc).__name__))
            self.close(exc)
        finally:
            self._worker = None
