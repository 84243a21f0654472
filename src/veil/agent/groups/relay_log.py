"""The :class:`GroupLog` port over the relay's group-log client (relay protocol
version 4, ``RelayClient.logs``).

Credentials (opaque to the engine), each ``opaque relay<V>`` first:

* ``access`` = relay || LogReader (88 bytes) || LogWriter (56 bytes, empty for a
  member that only reads);
* ``ref`` = reader id || writer id (what an admin names to revoke them);
* ``admin`` = relay || LogAdmin (56 bytes).

A relay post holds at most 16,000 bytes, so an entry is split into **parts**::

    uint8 version = 1; opaque entry_id[8]; uint16 index; uint16 count; opaque data[]

An entry counts as posted at its last part in log order (the same place for every
reader); the port's sequence number is the relay's plus one. The relay is acked only
up to the part before the oldest entry still incomplete, so a restart reads every
part again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from veil.agent.errors import RelayUnavailable
from veil.agent.groups.errors import AccessRevoked, MalformedGroupData
from veil.agent.groups.log_port import LogBatch, LogEntry, LogGrant
from veil.crypto import RandomSource
from veil.mls.codec import TlsReader, TlsWriter, decode
from veil.mls.errors import MLSProtocolError
from veil.relay.client.log_events import (
    LogAdmin,
    LogEntryReceived,
    LogEvent,
    LogReader,
    LogSubscriptionEnded,
    LogWriter,
)
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.errors import AuthFailed, ConnectionLost, NoSuchMember
from veil.relay.protocol.log_commands import MAX_ENTRY_BODY

__all__ = ["PART_DATA", "RelayGroupLog"]

PART_VERSION = 1
PART_HEADER = 1 + 8 + 2 + 2
PART_DATA = MAX_ENTRY_BODY - PART_HEADER
QUIET_SECONDS = 0.5
"""How long a read waits for more entries before it returns what it has."""
FIRST_WAIT_SECONDS = 2.0
"""How long a read waits for the first entry when it has none (a busy relay or machine
answers late; too short a wait makes a sync stop before the log's end)."""

Connect = Callable[[str], Awaitable[RelayClient]]


def _fields(data: bytes, count: int) -> list[bytes]:
    try:
        return decode(data, lambda r: [r.opaque(4096) for _ in range(count)])
    except MLSProtocolError as error:
        raise MalformedGroupData(f"group log credentials do not decode: {error}") from error


def _pack(*values: bytes) -> bytes:
    writer = TlsWriter()
    for value in values:
        writer.opaque(value)
    return writer.build()


@dataclass
class _Reader:
    """What one reader has received but not yet handed over."""

    reader: LogReader
    events: asyncio.Queue[LogEvent] = field(default_factory=asyncio.Queue)
    parts: dict[bytes, dict[int, tuple[int, bytes]]] = field(default_factory=dict)
    ready: list[LogEntry] = field(default_factory=list)
    missed: bool = False
    ended: bool = False

    def take(self, seq: int, body: bytes) -> None:
        """One part at relay sequence ``seq``; a finished entry goes to ``ready``."""
        try:
            entry_id, index, count, data = decode(body, _read_part)
        except (MLSProtocolError, ValueError):
            self.ready.append(LogEntry(seq + 1, body))  # the engine rejects it in order
            return
        parts = self.parts.setdefault(entry_id, {})
        parts[index] = (seq, data)
        if len(parts) == count:
            del self.parts[entry_id]
            self.ready.append(LogEntry(seq + 1, b"".join(parts[i][1] for i in range(count))))

    def safe_ack(self, seq: int) -> int:
        """The highest relay sequence number that may be acked after port ``seq``."""
        first_open = min((s for p in self.parts.values() for s, _ in p.values()), default=None)
        relay_seq = seq - 1
        return relay_seq if first_open is None else min(relay_seq, first_open - 1)


def _read_part(reader: TlsReader) -> tuple[bytes, int, int, bytes]:
    if reader.u8() != PART_VERSION:
        raise ValueError("unknown part version")
    entry_id, index, count = reader.raw(8), reader.u16(), reader.u16()
    if not index < count:
        raise ValueError("part index out of range")
    return entry_id, index, count, reader.raw(reader.remaining)


class RelayGroupLog:
    """Group logs on relays, through one relay client per relay address."""

    def __init__(self, connect: Connect, home_relay: str, rng: RandomSource) -> None:
        self._connect = connect
        self._home = home_relay
        self._rng = rng
        self._clients: dict[str, RelayClient] = {}
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._readers: dict[bytes, _Reader] = {}

    async def _client(self, relay: str) -> RelayClient:
        client = self._clients.get(relay)
        if client is None:
            try:
                client = self._clients[relay] = await self._connect(relay)
            except (OSError, ConnectionLost) as error:
                raise RelayUnavailable(f"relay {relay} cannot be reached: {error}") from error
            self._pumps[relay] = asyncio.create_task(self._pump(client))
        return client

    async def _pump(self, client: RelayClient) -> None:
        async for event in client.logs.events():
            reader = getattr(event, "reader", None)
            state = None if reader is None else self._readers.get(reader.reader_id)
            if state is not None:
                state.events.put_nowait(event)

    async def close(self) -> None:
        """Stop the pumps and close every relay client."""
        for task in self._pumps.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        self._pumps.clear()

    # -- the admin ------------------------------------------------------------------

    async def create(self) -> tuple[bytes, LogGrant]:
        """A new log on our home relay."""
        client = await self._client(self._home)
        admin = _pack(self._home.encode(), (await client.logs.create_log()).encode())
        return admin, await self.grant(admin)

    async def grant(self, admin: bytes) -> LogGrant:
        """A reader and a writer for one more member."""
        relay, credential = _fields(admin, 2)
        client = await self._client(relay.decode())
        log_admin = LogAdmin.decode(credential)
        reader = await client.logs.add_reader(log_admin)
        writer = await client.logs.add_writer(log_admin)
        access = _pack(relay, reader.encode(), writer.encode())
        return LogGrant(access, reader.reader_id + writer.writer_id)

    async def revoke(self, admin: bytes, ref: bytes) -> None:
        """Remove a member's reader and writer (already gone is fine)."""
        relay, credential = _fields(admin, 2)
        client = await self._client(relay.decode())
        log_admin = LogAdmin.decode(credential)
        half = len(ref) // 2
        with contextlib.suppress(NoSuchMember):
            await client.logs.remove_reader(log_admin, ref[:half])
        with contextlib.suppress(NoSuchMember):
            await client.logs.remove_writer(log_admin, ref[half:])

    # -- a member -------------------------------------------------------------------

    async def post(self, access: bytes, data: bytes) -> int:
        """Post ``data`` in parts; return the port sequence number of its last part."""
        relay, _, writer_bytes = _fields(access, 3)
        client = await self._client(relay.decode())
        writer = LogWriter.decode(writer_bytes)
        entry_id = self._rng.random_bytes(8)
        chunks = [data[i : i + PART_DATA] for i in range(0, len(data), PART_DATA)] or [b""]
        seq = 0
        for index, chunk in enumerate(chunks):
            header = TlsWriter().u8(PART_VERSION).raw(entry_id).u16(index).u16(len(chunks))
            try:
                seq = await client.logs.post(writer, header.build() + chunk)
            except AuthFailed as error:
                raise AccessRevoked("the relay no longer accepts our posts") from error
        return seq + 1

    async def read(self, access: bytes, cursor: int, limit: int) -> LogBatch:
        """Entries after ``cursor``: what has arrived, waiting until the log is quiet."""
        state = await self._subscribed(access)
        if state.missed:
            return LogBatch((), past_retention=True)
        while (waiting := sum(e.seq > cursor for e in state.ready)) < limit:
            wait = QUIET_SECONDS if waiting else FIRST_WAIT_SECONDS
            try:
                event = await asyncio.wait_for(state.events.get(), wait)
            except TimeoutError:
                break
            if isinstance(event, LogSubscriptionEnded):
                state.ended = True
            elif isinstance(event, LogEntryReceived):
                state.take(event.seq, event.body)
        if state.ended and not state.ready:
            raise AccessRevoked("the relay ended our subscription: we were removed")
        entries = [e for e in state.ready if e.seq > cursor][:limit]
        return LogBatch(tuple(entries))

    async def ack(self, access: bytes, seq: int) -> None:
        """Processed through ``seq``: drop it here, ack the relay as far as is safe."""
        state = await self._subscribed(access)
        state.ready = [e for e in state.ready if e.seq > seq]
        relay_seq = state.safe_ack(seq)
        if relay_seq >= 0:
            relay, _, _ = _fields(access, 3)
            client = await self._client(relay.decode())
            with contextlib.suppress(AuthFailed):  # a deleted reader has nothing to ack
                await client.logs.acknowledge(state.reader, relay_seq)

    async def _subscribed(self, access: bytes) -> _Reader:
        relay, reader_bytes, _ = _fields(access, 3)
        reader = LogReader.decode(reader_bytes)
        state = self._readers.get(reader.reader_id)
        if state is None:
            client = await self._client(relay.decode())
            state = self._readers[reader.reader_id] = _Reader(reader)
            try:
                position = await client.logs.subscribe(reader)
            except AuthFailed as error:
                del self._readers[reader.reader_id]
                raise AccessRevoked("the relay no longer knows our reader") from error
            state.missed = position.missed > 0
        return state
