"""A hand-driven TLS connection to a relay, for sending exactly the bytes a test wants."""

from __future__ import annotations

import asyncio
import contextlib

from veil.crypto import SystemRandom
from veil.relay.client.session import ClientSession, Reply
from veil.relay.transport.tls import client_context
from veil.wire.blocks import BLOCK_SIZE

CLOSE_TIMEOUT = 10.0


class RawRelayConnection:
    """TLS to a relay with no protocol logic: tests write blocks (or garbage) by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, *, tls: bool = True) -> RawRelayConnection:
        context = client_context() if tls else None
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        return cls(reader, writer)

    async def read_block(self) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(BLOCK_SIZE), CLOSE_TIMEOUT)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def handshake(self, identity_public: bytes) -> ClientSession:
        """Read and verify the relay hello, answer with the client hello."""
        session = ClientSession.accept_hello(
            await self.read_block(), identity_public, SystemRandom()
        )
        await self.write(session.client_hello)
        return session

    async def replies(self, session: ClientSession) -> list[Reply]:
        return session.parse_block(await self.read_block())

    async def closed_by_relay(self) -> bool:
        """True once the relay closed the connection (EOF or reset) without more blocks."""
        try:
            data = await asyncio.wait_for(self.reader.read(), CLOSE_TIMEOUT)
        except (ConnectionError, OSError):
            return True
        return data == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
