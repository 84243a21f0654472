"""A TCP forwarder that records the TLS record headers passing through it.

Placed between a client and a relay, it lets a test check what an on-path observer
sees: the type and length of every TLS record, in each direction, without holding
any key.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from veil.wire.blocks import BLOCK_SIZE

TLS_HEADER_SIZE = 5
APPLICATION_DATA = 23
# TLS 1.3 record: 5-byte header, then the block, 1 byte of inner content type, 16-byte tag.
BLOCK_RECORD_LENGTH = BLOCK_SIZE + 1 + 16
# Encrypted handshake messages: the relay's EncryptedExtensions, Certificate,
# CertificateVerify and Finished (one record each, or fewer if coalesced); the client's Finished.
MAX_HANDSHAKE_RECORDS = 4


def records_after_handshake(stream: RecordStream) -> list[int]:
    """Lengths of the application-data records after the encrypted handshake flight.

    In TLS 1.3 the handshake's own encrypted messages also travel as application
    data records; they are the ones before the first block.
    """
    lengths = [r.length for r in stream.records if r.content_type == APPLICATION_DATA]
    first_block = lengths.index(BLOCK_RECORD_LENGTH)
    assert 1 <= first_block <= MAX_HANDSHAKE_RECORDS, "unexpected records before the first block"
    return lengths[first_block:]


@dataclass(frozen=True, slots=True)
class TlsRecord:
    """One TLS record header as seen on the wire."""

    content_type: int
    length: int


@dataclass(slots=True)
class RecordStream:
    """Splits one direction of a TCP stream into TLS record headers."""

    records: list[TlsRecord] = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)
    """Every byte that passed, for comparing what two observers saw."""
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> None:
        self.raw += data
        self._buffer += data
        while len(self._buffer) >= TLS_HEADER_SIZE:
            length = int.from_bytes(self._buffer[3:5], "big")
            if len(self._buffer) < TLS_HEADER_SIZE + length:
                return
            self.records.append(TlsRecord(self._buffer[0], length))
            del self._buffer[: TLS_HEADER_SIZE + length]


class RecordingForwarder:
    """Listens on a loopback port and forwards every connection to ``target``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._pumps: list[asyncio.Task[None]] = []
        self._frozen: set[asyncio.Task[None]] = set()
        self._silent_writers: list[asyncio.StreamWriter] = []
        self.client_to_relay: list[RecordStream] = []
        self.relay_to_client: list[RecordStream] = []
        self.peers: list[tuple[str, int]] = []
        """Source address of every connection accepted: who the relay behind would see."""

    async def start(self) -> int:
        """Start listening; return the port to connect to."""
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def freeze(self) -> None:
        """Stop forwarding on every current connection without closing it: silence.

        Connections made later are forwarded normally.
        """
        self._frozen.update(self._pumps)
        for pump in self._pumps:
            pump.cancel()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._silent_writers:
            writer.close()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        self.peers.append((str(host), int(port)))
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        upward, downward = RecordStream(), RecordStream()
        self.client_to_relay.append(upward)
        self.relay_to_client.append(downward)
        pumps = [
            asyncio.create_task(_pump(reader, upstream_writer, upward)),
            asyncio.create_task(_pump(upstream_reader, writer, downward)),
        ]
        self._tasks.update(pumps)
        self._pumps.extend(pumps)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        if pumps[0] in self._frozen:
            self._silent_writers.extend((writer, upstream_writer))  # open, but mute
            return
        for pump in pumps:
            pump.cancel()
        for stream_writer in (writer, upstream_writer):
            stream_writer.close()


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: RecordStream
) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            stream.feed(data)
            writer.write(data)
            await writer.drain()
