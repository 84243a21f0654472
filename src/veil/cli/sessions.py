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
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from veil.chat.app import Messenger
from veil.chat.conversation import Incoming
from veil.chat.files import FileSharing
from veil.chat.receive_lock import ReceiveLock
from veil.service.api_types import EventShape, EventsResult, IncomingShape
from veil.service.client import ServiceClient
from veil.service.errors import ServiceClosed, ServiceNotRunning
from veil.service.methods import MAX_EVENTS_PAGE, LocalApi
from veil.service.profile_files import SOCKET_FILE, hold_lock
from veil.service.shapes import event_shape, incoming_shape

__all__ = ["CURSOR_FILE", "Session", "open_session", "without_service"]

#: The last event ``veil receive`` showed through a service, so the next shows the rest.
CURSOR_FILE = "receive.cursor"
OnArrival = Callable[[IncomingShape], None]
OnEvent = Callable[[EventShape], None]
#: Logged for API clients, not printed by ``veil receive`` (``veil history`` shows
#: receipts, ``veil contacts`` the state; ``connected`` and ``desync`` say it too).
_NOT_SHOWN = frozenset({"receipt", "file-progress", "connection"})
#: Logged by this side during an in-process receive (not arrivals, which are shown as
#: they come), and shown after it.
_LOGGED_HERE = frozenset(
    {"file-done", "file-failed", "delivery-failed", "relay-unreachable", "relay-reachable"}
)
#: How often an in-process call being watched looks for new events (seconds).
_WATCH_SECONDS = 0.1


class Session(Protocol):
    """What a command body uses: API calls, and listening for arrivals."""

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Run one API method; return its result shape."""
        ...

    async def listen(self, idle: float, on_arrival: OnArrival) -> None:
        """Report arrivals until ``idle`` quiet seconds pass (inside :meth:`receiving`)."""
        ...

    async def call_watching(self, method: str, params: dict[str, Any], on_event: OnEvent) -> Any:
        """Run one API method, passing each event logged meanwhile to ``on_event``
        (a transfer's progress, for a progress bar)."""
        ...

    def receiving(self) -> AbstractContextManager[object]:
        """Hold the profile's receive side while listening: in-process, a second
        receiver would take the relay's deliveries over (:class:`ReceiveLock` refuses
        it); through the service, the service is the one receiver."""
        ...


class DirectSession(LocalApi):
    """The command owns the store (no service runs)."""

    def __init__(self, messenger: Messenger, home: Path) -> None:
        super().__init__(messenger)
        self._home = home

    def receiving(self) -> AbstractContextManager[object]:
        """The profile's receive lock: :class:`ProfileBusy` if another process receives."""
        return ReceiveLock(self._home)

    async def call_watching(self, method: str, params: dict[str, Any], on_event: OnEvent) -> Any:
        """Run the method beside a look at the log every :data:`_WATCH_SECONDS`."""
        cursor = self._last_seq()
        running = asyncio.create_task(self.call(method, params))
        while True:
            done = running.done()  # read before the last look, so no event is missed
            cursor = self._pass_on(cursor, on_event)
            if done:
                return running.result()
            await asyncio.wait([running], timeout=_WATCH_SECONDS)

    def _last_seq(self) -> int:
        with self.messenger.store.transaction() as tx:
            return tx.events.last()

    def _pass_on(self, cursor: int, on_event: OnEvent) -> int:
        with self.messenger.store.transaction() as tx:
            logged = tx.events.since(cursor, MAX_EVENTS_PAGE)
        for event in logged:
            on_event(event_shape(event))
        return logged[-1].seq if logged else cursor

    async def listen(self, idle: float, on_arrival: OnArrival) -> None:
        """Show what a service logged since the last ``veil receive``, then receive
        from the relays as ``veil receive`` always did. What arrives is logged too,
        so nothing is shown twice whichever way the next ``veil receive`` runs.
        Offers within the automatic acceptance limit are downloaded after; what the
        outbox and the downloads logged meanwhile is shown last."""
        cursor = self._show_logged(
            _read_cursor(self._home), on_arrival, lambda kind: kind not in _NOT_SHOWN
        )
        offered = False

        def arrived(incoming: Incoming) -> None:
            nonlocal offered
            offered = offered or incoming.kind == "file"
            on_arrival(incoming_shape(incoming))

        await self.messenger.receive(idle=idle, on_incoming=arrived)
        if offered:
            sharing = FileSharing(self.messenger, self._home)
            try:
                await sharing.receive_auto_accepted()
            finally:
                await sharing.close()
        # Arrivals were shown as they came; the rest of what was logged, now.
        _write_cursor(self._home, self._show_logged(cursor, on_arrival, _LOGGED_HERE.__contains__))

    def _show_logged(self, cursor: int, on_arrival: OnArrival, shown: Callable[[str], bool]) -> int:
        """Show the logged events after ``cursor`` whose kind is ``shown``; return the
        last sequence number."""
        while True:
            with self.messenger.store.transaction() as tx:
                logged = tx.events.since(cursor, MAX_EVENTS_PAGE)
            if not logged:
                return max(cursor, self._last_seq())
            for event in logged:
                if shown(event.kind):
                    on_arrival(_as_incoming(event_shape(event)))
            cursor = logged[-1].seq


class ServiceSession:
    """The command talks to the profile's running service."""

    def __init__(self, client: ServiceClient, home: Path) -> None:
        self._client = client
        self._home = home

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One call to the service."""
        return await self._client.call(method, params)

    def receiving(self) -> AbstractContextManager[object]:
        """Nothing to hold: the service receives, and each listener reads its log."""
        return contextlib.nullcontext()

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

    async def call_watching(self, method: str, params: dict[str, Any], on_event: OnEvent) -> Any:
        """The call on this connection, the events on a second one (a connection
        answers in order, so its subscription would wait behind the call); once the
        call returns, the events it logged that the stream had not brought yet."""
        watcher = await ServiceClient.connect(self._home)
        assert watcher.hello is not None
        cursor = watcher.hello["last_event"]

        def passed_on(event: EventShape) -> None:
            nonlocal cursor
            cursor = event["seq"]
            on_event(event)

        pump = asyncio.create_task(_pump_events(watcher.events(cursor), passed_on))
        try:
            result = await self._client.call(method, params)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, ServiceClosed):
                await pump
            await watcher.close()
        rest: EventsResult = await self._client.call("events", {"since": cursor})
        for event in rest["events"]:
            on_event(event)
        return result


async def _pump_events(stream: AsyncGenerator[EventShape, None], on_event: OnEvent) -> None:
    try:
        async for event in stream:
            on_event(event)
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
    with without_service(home):
        messenger: Messenger = await open_messenger(home)
        try:
            yield DirectSession(messenger, home)
        finally:
            await messenger.close()


@contextlib.contextmanager
def without_service(home: Path) -> Iterator[None]:
    """Hold the profile's service lock while a command has the store open itself, so
    no ``veil serve`` starts beside it; :class:`ServiceAlreadyRunning` (stop it first)
    if one runs. For the commands with no API method (backup, groups), and the
    in-process session. A folder that does not exist yet has no service to exclude."""
    if not home.is_dir():
        yield
        return
    with hold_lock(home):
        yield
