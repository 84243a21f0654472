"""One API connection: authenticate, answer requests in order, stream events.

Requests wait in a bounded queue (:data:`MAX_QUEUED`); past it each extra request
is answered at once with :class:`TooManyRequests`, so a flooding client slows only
itself. Until ``hello`` succeeds every other method is refused with
:class:`NotAuthenticated`; a wrong token closes the connection after the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

from veil.chat.app import Messenger
from veil.errors import VeilError
from veil.service import api_types as t
from veil.service.catalog import EVENT_NOTIFICATION
from veil.service.channels import Channel
from veil.service.errors import (
    ApiVersionMismatch,
    NotAuthenticated,
    ServiceProtocolError,
    TooManyRequests,
)
from veil.service.methods import HANDLERS, MAX_EVENTS_PAGE, NEW_QUEUE_METHODS, events_after
from veil.service.rpc import (
    Request,
    error_frame,
    internal_error_frame,
    notification_frame,
    parse_request,
    request_id_of,
    result_frame,
)
from veil.service.schema import check_call

__all__ = ["MAX_QUEUED", "ApiConnection", "ServiceCore"]

_log = logging.getLogger(__name__)
#: Requests one connection may have waiting before more are refused.
MAX_QUEUED = 64
#: A subscription looks for events logged without a signal (receipts) this often.
_POLL_SECONDS = 1.0


class ServiceCore(Protocol):
    """What a connection needs from the running service."""

    messenger: Messenger
    token: str

    def new_events(self) -> asyncio.Event:
        """An event set whenever something is logged (a fresh one per subscriber)."""
        ...

    def forget(self, signal: asyncio.Event) -> None:
        """Stop setting ``signal``."""
        ...

    async def queues_changed(self) -> None:
        """A method made a receive queue: subscribe it."""
        ...


class ApiConnection:
    """Serves one client over ``channel`` until it closes."""

    def __init__(self, service: ServiceCore, channel: Channel) -> None:
        self._service = service
        self._channel = channel
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(MAX_QUEUED)
        self._authenticated = False
        self._closing = False
        self._subscription: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Read frames and answer them until the client leaves (or is sent away)."""
        worker = asyncio.create_task(self._work())
        try:
            await self._read()
        except ServiceProtocolError as error:  # an oversized frame: the stream is lost
            with contextlib.suppress(ConnectionError):
                await self._channel.send(error_frame(None, error))
        finally:
            for task in (worker, self._subscription):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await self._channel.close()

    async def _read(self) -> None:
        while (frames := await self._channel.receive()) is not None:
            for frame in frames:
                try:
                    self._queue.put_nowait(frame)
                except asyncio.QueueFull:
                    refusal = TooManyRequests(f"more than {MAX_QUEUED} requests are waiting")
                    await self._channel.send(error_frame(request_id_of(frame), refusal))

    async def _work(self) -> None:
        while True:
            frame = await self._queue.get()
            request, reply, after = await self._answer(frame)
            if reply is not None and (request is None or request.id is not None):
                await self._channel.send(reply)
            if self._closing:  # a wrong token: answered, now hang up
                await self._channel.close()
                return
            if after is not None:
                await after()

    async def _answer(
        self, frame: bytes
    ) -> tuple[Request | None, bytes | None, Callable[[], Awaitable[None]] | None]:
        """Parse and run one request; return it, the reply and what to do after replying."""
        request = None
        try:
            request = parse_request(frame)
            check_call(request)
            result, after = await self._dispatch(request)
            return request, result_frame(request.id, result), after
        except (VeilError, ValueError) as error:
            if isinstance(error, NotAuthenticated) and request is not None:
                self._closing = request.method == "hello"
            request_id = request.id if request is not None else request_id_of(frame)
            return request, error_frame(request_id, error), None
        except Exception:
            _log.exception("an API method failed")
            return request, internal_error_frame(request.id if request else None), None

    async def _dispatch(self, request: Request) -> tuple[Any, Callable[[], Awaitable[None]] | None]:
        if request.method == "hello":
            return self._hello(cast(t.HelloParams, request.params)), None
        if not self._authenticated:
            raise NotAuthenticated("start with `hello` and the token from the profile folder")
        messenger = self._service.messenger
        if request.method == "subscribe":
            since = request.params["since"]
            _, last = events_after(messenger, since, 1)  # EventsPruned before we promise
            return {"since": since, "last": last}, lambda: self._subscribe(since)
        result = await HANDLERS[request.method](messenger, request.params)
        if request.method in NEW_QUEUE_METHODS:
            await self._service.queues_changed()
        return result, None

    def _hello(self, params: t.HelloParams) -> t.HelloResult:
        given, expected = params["token"].encode(), self._service.token.encode()
        if not hmac.compare_digest(given, expected):
            raise NotAuthenticated("wrong token: read it from service.token in the profile")
        low = max(params["min_version"], t.API_VERSIONS[0])
        high = min(params["max_version"], t.API_VERSIONS[1])
        if low > high:
            raise ApiVersionMismatch(
                f"this service speaks API versions {t.API_VERSIONS[0]}..{t.API_VERSIONS[1]}"
            )
        self._authenticated = True
        _, last = events_after(self._service.messenger, 0, 1)
        return {
            "version": high,
            "min_version": t.API_VERSIONS[0],
            "max_version": t.API_VERSIONS[1],
            "last_event": last,
        }

    async def _subscribe(self, since: int) -> None:
        if self._subscription is not None:
            self._subscription.cancel()
        self._subscription = asyncio.create_task(self._stream(since))

    async def _stream(self, cursor: int) -> None:
        """Send every event after ``cursor``, in order, then each new one as it is logged."""
        signal = self._service.new_events()
        try:
            while True:
                signal.clear()
                events, _ = events_after(self._service.messenger, cursor, MAX_EVENTS_PAGE)
                for event in events:
                    await self._channel.send(notification_frame(EVENT_NOTIFICATION, dict(event)))
                    cursor = event["seq"]
                if not events:
                    # Arrivals set the signal; receipts are logged without one, so
                    # look again every so often.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(signal.wait(), _POLL_SECONDS)
        finally:
            self._service.forget(signal)
