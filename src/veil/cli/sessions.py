"""Where a CLI command runs: through the profile's ``veil serve``, or on the store.

When a service runs for the profile, a command is one API call to it (the store
stays with the service: never two processes on it). With none running, the command
opens the store itself and runs the very same method handlers in-process
(:class:`~veil.service.methods.LocalApi`). Either way the result is the API's
shape, which ``--json`` prints as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

from veil.chat.app import Messenger
from veil.service.api_types import EventShape, IncomingShape
from veil.service.client import ServiceClient
from veil.service.errors import ServiceNotRunning
from veil.service.methods import MAX_EVENTS_PAGE, LocalApi
from veil.service.profile_files import SOCKET_FILE
from veil.service.shapes import event_shape, incoming_shape

__all__ = ["CURSOR_FILE", "Session", "open_session"]

#: The last event ``veil receive`` showed through a service, so the next shows the rest.
CURSOR_FILE = "receive.cursor"
OnArrival = Callable[[IncomingShape], None]
#: Logged for API clients, not printed by ``veil receive`` (``veil history`` shows them).
_NOT_SHOWN = frozenset({"receipt"})


class Session(Protocol):
    """What a command body uses: API calls, and listening for arrivals."""

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Run one API method; return its result shape."""
        ...

    async def listen(self, idle: float, on_arrival: OnArrival) -> None:
        """Report arrivals until ``idle`` quiet seconds pass."""
        ...


class DirectSession(LocalApi):
    """The command owns the store (no service runs)."""

    def __init__(self, messenger: Messenger, home: Path) -> None:
        super().__init__(messenger)
        self._home = home

    async def listen(self, idle: float, on_arrival: OnArrival) -> None:
        """Show what a service logged since the last ``veil receive``, then receive
        from the relays as ``veil receive`` always did. What arrives is logged too,
        so nothing is shown twice whichever way the next ``veil receive`` runs."""
        cursor = _read_cursor(self._home)
        while True:
            with self.messenger.store.transaction() as tx:
                logged = tx.events.since(cursor, MAX_EVENTS_PAGE)
            if not logged:
                break
            for event in logged:
                if event.kind not in _NOT_SHOWN:
                    on_arrival(_as_incoming(event_shape(event)))
            cursor = logged[-1].seq
        await self.messenger.receive(idle=idle, on_incoming=lambda i: on_arrival(incoming_shape(i)))
        with self.messenger.store.transaction() as tx:
            _write_cursor(self._home, tx.events.last())


class ServiceSession:
    """The command talks to the profile's running service."""

    def __init__(self, client: ServiceClient, home: Path) -> None:
        self._client = client
        self._home = home

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One call to the service."""
        return await self._client.call(method, params)

    async def listen(self, idle: float, on_arrival: OnArrival) -> None:
        """Show the events logged since the last ``veil receive``, then new ones
        until ``idle`` quiet seconds pass."""
        since = _read_cursor(self._home)
        stream = self._client.events(since)
        try:
            while True:
                try:
                    event: EventShape = await _next_within(stream, idle)
                except TimeoutError:
                    return
                if event["kind"] not in _NOT_SHOWN:
                    on_arrival(_as_incoming(event))
                _write_cursor(self._home, event["seq"])
        finally:
            await stream.aclose()


async def _next_within(stream: AsyncGenerator[EventShape, None], seconds: float) -> EventShape:
    async with asyncio.timeout(seconds):
        return await anext(stream)


def _read_cursor(home: Path) -> int:
    try:
        return int((home / CURSOR_FILE).read_text())
    except (OSError, ValueError):
        return 0


def _write_cursor(home: Path, seq: int) -> None:
    (home / CURSOR_FILE).write_text(str(seq))


def _as_incoming(event: EventShape) -> IncomingShape:
    return {
        "kind": event["kind"],
        "contact": event["contact"],
        "text": event["text"],
        "id": event["id"],
        "integrity": event["integrity"],
        "request": event["request"],
    }


@contextlib.asynccontextmanager
async def open_session(home: Path, open_messenger: Callable[[Path], Any]) -> AsyncIterator[Session]:
    """The profile's service if one answers, else the store opened by ``open_messenger``."""
    if (home / SOCKET_FILE).exists():
        try:
            client = await ServiceClient.connect(home)
        except ServiceNotRunning:
            pass  # a socket left by a killed service: nobody holds the store
        else:
            try:
                yield ServiceSession(client, home)
            finally:
                await client.close()
            return
    messenger: Messenger = await open_messenger(home)
    try:
        yield DirectSession(messenger, home)
    finally:
        await messenger.close()
