"""The ``veil serve`` process: one unlocked profile, its receive loop and its API.

:class:`Service` keeps the relay subscriptions open and runs the messenger's
receive loop for as long as it lives; every arrival is logged in the same store
transaction that applied it, and wakes the subscribed clients; offers within the
automatic acceptance limit download as they arrive (:mod:`veil.service.auto_accept`).
Beside it, the service holds the profile's groups and catches up with them all the
time (:mod:`veil.service.group_loop`), logging what happens there the same way. It
listens on a Unix socket in the profile folder (mode 0600) and, if asked, on a
WebSocket. SIGTERM
(or SIGINT) stops it: no new connections, the loop is cancelled between commits
(a batch not yet committed is redelivered by the relay), receipts go out, the
store closes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve

from veil.chat.app import Messenger
from veil.chat.conversation import Incoming
from veil.crypto import RandomSource, SystemRandom
from veil.service.auto_accept import AutoAccept
from veil.service.channels import WEBSOCKET_MAX_MESSAGE, StreamChannel, WebSocketChannel
from veil.service.connection import ApiConnection
from veil.service.errors import UnsafeListenAddress
from veil.service.group_loop import follow_groups, hold_groups
from veil.service.profile_files import SOCKET_FILE, TOKEN_FILE, read_token, write_token

__all__ = ["Listen", "Service", "parse_listen"]

_log = logging.getLogger(__name__)
#: The receive loop checks for new queues at least this often (seconds).
_RECEIVE_ROUND = 30.0
_TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class Listen:
    """Where the WebSocket listens; ``remote`` if other machines can reach it."""

    host: str
    port: int
    remote: bool


def parse_listen(text: str, *, allow_remote: bool) -> Listen:
    """Parse ``HOST:PORT``; :class:`UnsafeListenAddress` for a non-loopback host
    unless ``allow_remote``."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen takes HOST:PORT, such as 127.0.0.1:7700; got {text!r}")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not allow_remote:
        raise UnsafeListenAddress(
            f"{host} can be reached from other machines: add --allow-remote if you mean it"
        )
    return Listen(host, int(port), not loopback)


class Service:
    """The running service for one profile in ``home``."""

    def __init__(self, home: Path, messenger: Messenger, rng: RandomSource | None = None) -> None:
        self.home = home
        self.messenger = messenger
        self.token = self._ensure_token(rng or SystemRandom())
        self._signals: set[asyncio.Event] = set()
        self._resubscribe = asyncio.Event()
        self._connections: set[asyncio.Task[None]] = set()
        self._auto_accept = AutoAccept(messenger, home)

    def _ensure_token(self, rng: RandomSource) -> str:
        """The profile's token; made once, kept across restarts so clients keep working."""
        if (self.home / TOKEN_FILE).exists():
            return read_token(self.home)
        token = base64.urlsafe_b64encode(rng.random_bytes(_TOKEN_BYTES)).decode().rstrip("=")
        write_token(self.home, token)
        return token

    # -- what connections use ------------------------------------------------------

    def new_events(self) -> asyncio.Event:
        """A fresh signal, set whenever events are logged."""
        signal_ = asyncio.Event()
        self._signals.add(signal_)
        return signal_

    def forget(self, signal_: asyncio.Event) -> None:
        """Stop setting ``signal_``."""
        self._signals.discard(signal_)

    async def queues_changed(self) -> None:
        """Subscribe every receive queue now, including one a method just made."""
        await self.messenger.agent.inbox.subscribe()
        self._resubscribe.set()

    def _arrived(self, incoming: Incoming | None = None) -> None:
        if incoming is not None:  # a pairwise arrival (group ones come without)
            self._auto_accept.arrived(incoming)
        for signal_ in self._signals:
            signal_.set()

    # -- the process -----------------------------------------------------------------

    async def run(
        self,
        listen: Listen | None,
        on_ready: Callable[[dict[str, object]], None],
        stop: asyncio.Event | None = None,
    ) -> None:
        """Serve until SIGTERM or SIGINT (or until ``stop`` is set, when given: then
        signals are left alone); ``on_ready`` gets where it listens."""
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for number in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(number, stop.set)
        groups = hold_groups(self.messenger)  # before any connection calls a group method
        socket_path = self.home / SOCKET_FILE
        socket_path.unlink(missing_ok=True)  # a stale socket from a killed service
        unix = await asyncio.start_unix_server(self._serve_stream, path=str(socket_path))
        os.chmod(socket_path, 0o600)
        websocket = None
        if listen is not None:
            websocket = await serve(
                self._serve_websocket, listen.host, listen.port, max_size=WEBSOCKET_MAX_MESSAGE
            )
        loops = [asyncio.create_task(self._receive_forever())]
        if groups is not None:
            loops.append(asyncio.create_task(follow_groups(groups, self._arrived)))
        self._auto_accept.start()
        on_ready(
            {
                "socket": str(socket_path),
                "websocket": None if listen is None else f"ws://{listen.host}:{listen.port}",
                "pid": os.getpid(),
            }
        )
        try:
            await stop.wait()
        finally:
            await self._shut_down(unix, websocket, loops, socket_path)

    async def _shut_down(
        self,
        unix: asyncio.Server,
        websocket: object,
        loops: list[asyncio.Task[None]],
        socket_path: Path,
    ) -> None:
        unix.close()
        await self._auto_accept.stop()
        if websocket is not None:
            websocket.close()  # type: ignore[attr-defined]
        for task in (*loops, *self._connections):
            task.cancel()
        for task in (*loops, *self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.messenger.conversation.flush_receipts(force=True)
        socket_path.unlink(missing_ok=True)

    async def _receive_forever(self) -> None:
        while True:
            self._resubscribe.clear()
            try:
                processed = await self.messenger.receive(
                    idle=_RECEIVE_ROUND, on_incoming=self._arrived
                )
            except Exception:
                _log.exception("the receive loop failed; it starts again")
                processed = 0
            if not processed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._resubscribe.wait(), 1.0)

    async def _serve_stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await self._serve(ApiConnection(self, StreamChannel(reader, writer)))

    async def _serve_websocket(self, connection: ServerConnection) -> None:
        await self._serve(ApiConnection(self, WebSocketChannel(connection)))

    async def _serve(self, connection: ApiConnection) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await connection.run()
        except Exception:
            _log.exception("an API connection failed")
        finally:
            self._connections.discard(task)
