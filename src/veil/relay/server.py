"""The relay's network server: TLS connections in, relay sessions out.

Each accepted connection runs TLS over memory BIOs (:mod:`veil.relay.tls`). Once
the handshake completes it opens a session of the :class:`RelayService`, sends
the session's hello and feeds every received block to the session in order.
Any protocol error from a connection closes that connection only; nothing a
client sends can stop the server or touch another client's session.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import Counter
from dataclasses import dataclass, field

from veil.errors import ProtocolError
from veil.relay.logging_setup import LOGGER_NAME, fields
from veil.relay.service import RelayService, RelaySession
from veil.relay.tls import TlsBlockProtocol

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

    async def close(self) -> None:
        """Stop accepting and reading, answer what was accepted, then close connections."""
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

    def _opened(self, connection: RelayConnection) -> None:
        self._connections.add(connection)
        self.metrics.connections_accepted += 1
        self.metrics.connections_open += 1

    def _closed(self, connection: RelayConnection, exc: BaseException | None) -> None:
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

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._server._opened(self)

    def on_handshake_completed(self) -> None:
        self._server.metrics.handshakes_completed += 1
        self._session = self._server.service.open_session(self._push)
        self._push(self._session.hello)

    def on_block_received(self, block: bytes) -> None:
        self._server.metrics.blocks_received += 1
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
