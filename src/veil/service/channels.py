"""The two ways API frames travel, behind one small interface.

A :class:`StreamChannel` carries ``\\n``-terminated frames over a stream (the Unix
socket); a :class:`WebSocketChannel` carries one frame per WebSocket message
(``websockets`` does the WebSocket protocol). Both cap frames at
:data:`~veil.service.rpc.MAX_FRAME` and raise :class:`FrameTooLarge` past it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed

from veil.service.errors import FrameTooLarge
from veil.service.rpc import MAX_FRAME, LineFramer

__all__ = ["WEBSOCKET_MAX_MESSAGE", "Channel", "StreamChannel", "WebSocketChannel"]

_READ_SIZE = 64 * 1024
#: ``websockets`` drops a connection past this; frames between MAX_FRAME and it get
#: a JSON-RPC error instead, so a client learns what it did wrong.
WEBSOCKET_MAX_MESSAGE = 2 * MAX_FRAME


class Channel(Protocol):
    """Frames in, frames out."""

    async def receive(self) -> list[bytes] | None:
        """The next frames (``None``: the other end closed)."""
        ...

    async def send(self, frame: bytes) -> None:
        """Send one frame."""
        ...

    async def close(self) -> None:
        """Close the channel."""
        ...


class StreamChannel:
    """Line-delimited frames over an asyncio stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._framer = LineFramer()
        self._sending = asyncio.Lock()

    async def receive(self) -> list[bytes] | None:
        """Read until at least one frame is complete; ``None`` at the end of the stream."""
        while True:
            try:
                data = await self._reader.read(_READ_SIZE)
            except ConnectionError:
                return None
            if not data:
                return None
            frames = self._framer.feed(data)
            if frames:
                return frames

    async def send(self, frame: bytes) -> None:
        """Write one frame and wait until the stream accepts more."""
        async with self._sending:
            self._writer.write(frame + b"\n")
            await self._writer.drain()

    async def close(self) -> None:
        """Close the stream (quietly, if the other end is gone)."""
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


class WebSocketChannel:
    """One frame per WebSocket message (text or binary)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def receive(self) -> list[bytes] | None:
        """The next message as a frame; ``None`` once the connection closed."""
        try:
            message = await self._connection.recv()
        except ConnectionClosed:
            return None
        frame = message.encode("utf-8") if isinstance(message, str) else message
        if len(frame) > MAX_FRAME:
            raise FrameTooLarge(f"a frame is over {MAX_FRAME} bytes; send smaller requests")
        return [frame]

    async def send(self, frame: bytes) -> None:
        """Send one frame as a text message."""
        await self._connection.send(frame.decode("utf-8"))

    async def close(self) -> None:
        """Close the WebSocket."""
        await self._connection.close()
