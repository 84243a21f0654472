"""The async API client: what a TUI, a web app, a bot or the CLI uses to talk to
``veil serve``. It imports no chat code, only the API's shapes and the JSON-RPC core.

::

    async with await ServiceClient.connect(home) as client:     # the profile folder
        await client.call("send", {"contact": "Bob", "texts": ["hi"]})
        async for event in client.events(since=0):              # resumes after a seq
            print(event["seq"], event["kind"], event["contact"], event["text"])

``connect`` reads the token from the profile (or takes ``token=``), says ``hello``
and agrees on an API version. A call that fails raises :class:`RemoteError` with
the service's Veil code and error name (``remote_code``, ``kind``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncGenerator
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from websockets.asyncio.client import connect as websocket_connect

from veil.service import api_types as t
from veil.service.catalog import EVENT_NOTIFICATION
from veil.service.channels import WEBSOCKET_MAX_MESSAGE, Channel, StreamChannel, WebSocketChannel
from veil.service.errors import RemoteError, ServiceClosed, ServiceNotRunning
from veil.service.profile_files import SOCKET_FILE, read_token
from veil.service.rpc import Notification, encode, parse_message

__all__ = ["ServiceClient"]


class ServiceClient:
    """One authenticated connection to a running service."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._events: asyncio.Queue[t.EventShape | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())
        self.hello: t.HelloResult | None = None

    @classmethod
    async def connect(
        cls, home: Path | None = None, *, url: str | None = None, token: str | None = None
    ) -> Self:
        """Connect to the service of the profile in ``home`` (its Unix socket), or to
        the WebSocket ``url``; authenticate with ``token`` or the profile's token file.
        :class:`ServiceNotRunning` if nothing answers."""
        if home is None and (url is None or token is None):
            raise ValueError("give the profile folder, or a WebSocket url and a token")
        secret = token if token is not None else read_token(cast(Path, home))
        channel = await cls._open(home, url)
        client = cls(channel)
        try:
            client.hello = cast(
                t.HelloResult,
                await client.call(
                    "hello",
                    {
                        "token": secret,
                        "min_version": t.API_VERSIONS[0],
                        "max_version": t.API_VERSIONS[1],
                    },
                ),
            )
        except BaseException:
            await client.close()
            raise
        return client

    @staticmethod
    async def _open(home: Path | None, url: str | None) -> Channel:
        try:
            if url is not None:
                connection = await websocket_connect(url, max_size=WEBSOCKET_MAX_MESSAGE)
                return WebSocketChannel(connection)
            assert home is not None
            reader, writer = await asyncio.open_unix_connection(str(home / SOCKET_FILE))
        except OSError as exc:
            raise ServiceNotRunning(f"no `veil serve` answers ({exc})") from exc
        return StreamChannel(reader, writer)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call ``method`` with named ``params``; return its result (a shape of
        :mod:`veil.service.api_types`) or raise :class:`RemoteError`."""
        if self._reader.done():
            raise ServiceClosed("the connection to the service is closed")
        request_id = next(self._ids)
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        try:
            await self._channel.send(encode(message))
            return await answer
        finally:
            self._waiting.pop(request_id, None)

    async def events(self, since: int) -> AsyncGenerator[t.EventShape, None]:
        """Every event after ``since``, oldest first, then each new one as it comes.
        Remember the last ``seq`` seen; after a reconnect, pass it to resume."""
        await self.call("subscribe", {"since": since})
        while (event := await self._events.get()) is not None:
            yield event
        raise ServiceClosed("the service closed the connection")

    async def _read(self) -> None:
        try:
            while (frames := await self._channel.receive()) is not None:
                for frame in frames:
                    self._take(frame)
        finally:
            for answer in self._waiting.values():
                if not answer.done():
                    answer.set_exception(ServiceClosed("the service closed the connection"))
            self._events.put_nowait(None)

    def _take(self, frame: bytes) -> None:
        message = parse_message(frame)
        if isinstance(message, Notification):
            if message.method == EVENT_NOTIFICATION:
                self._events.put_nowait(cast(t.EventShape, message.params))
            return
        answer = self._waiting.get(message.id) if isinstance(message.id, int) else None
        if answer is None or answer.done():
            if message.error is not None:  # an error about no call of ours: say so
                for waiting in self._waiting.values():
                    if not waiting.done():
                        waiting.set_exception(_remote_error(message.error))
            return
        if message.error is not None:
            answer.set_exception(_remote_error(message.error))
        else:
            answer.set_result(message.result)

    async def close(self) -> None:
        """Close the connection."""
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        with contextlib.suppress(Exception):
            await self._channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def _remote_error(error: dict[str, Any]) -> RemoteError:
    data = error.get("data")
    data = data if isinstance(data, dict) else {}
    code, kind = data.get("code"), data.get("kind")
    return RemoteError(
        str(error.get("message", "")),
        code if isinstance(code, int) else int(error.get("code", 0)),
        kind if isinstance(kind, str) else "RemoteError",
    )
