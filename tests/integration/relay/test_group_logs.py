"""Group logs over a real TLS relay: admin, writers, readers at their own cursors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from pathlib import Path

import pytest

from helpers.relay import RunningTestRelay, start_test_relay
from veil.relay.client.log_events import (
    LogEntryReceived,
    LogEvent,
    LogReader,
    LogsRestored,
    LogSubscriptionEnded,
    LogWriter,
)
from veil.relay.client.relay_client import ReconnectPolicy, RelayClient
from veil.relay.protocol.errors import AuthFailed, EntryNotPosted, InternalError, StoreFailed
from veil.relay.protocol.log_commands import EndReason
from veil.relay.server.log_sqlite import SqliteLogStore
from veil.relay.server.log_store import LogChange, MemoryLogStore
from veil.relay.server.store.sqlite import SqliteStore

FAST_RECONNECT = ReconnectPolicy(first_delay=0.02, maximum_delay=0.2)


@pytest.fixture
async def member(relay: RunningTestRelay) -> AsyncIterator[RelayClient]:
    connected = await RelayClient.connect(relay.address, delivery_window=4)
    yield connected
    await connected.close()


async def next_event(client: RelayClient) -> LogEvent:
    async with asyncio.timeout(10):
        return await anext(aiter(client.logs.events()))


async def received(client: RelayClient, count: int) -> list[LogEntryReceived]:
    entries: list[LogEntryReceived] = []
    while len(entries) < count:
        event = await next_event(client)
        assert isinstance(event, LogEntryReceived), event
        entries.append(event)
    return entries


async def test_post_reaches_every_reader_in_order(client: RelayClient, member: RelayClient) -> None:
    admin = await client.logs.create_log()
    writer = await client.logs.add_writer(admin)
    first, second = await client.logs.add_reader(admin), await client.logs.add_reader(admin)
    assert first.reader_id != second.reader_id
    position = await member.logs.subscribe(first)
    assert (position.cursor, position.missed) == (0, 0)
    await client.logs.subscribe(second)
    seqs = [await client.logs.post(writer, b"entry %d" % n) for n in range(3)]
    assert seqs == [0, 1, 2]
    window_of_four = await received(member, 3)
    window_of_one = [(await received(client, 1))[0]]
    for _ in range(2):  # the client's window is 1: the next comes once this one is acknowledged
        await client.logs.acknowledge(second, window_of_one[-1].seq)
        window_of_one += await received(client, 1)
    for entries in (window_of_four, window_of_one):
        assert [(e.seq, e.body) for e in entries] == [(n, b"entry %d" % n) for n in range(3)]


async def test_each_reader_resumes_from_its_own_cursor(
    relay: RunningTestRelay, client: RelayClient, member: RelayClient
) -> None:
    admin = await client.logs.create_log()
    writer = await client.logs.add_writer(admin)
    reader = await client.logs.add_reader(admin)
    for n in range(5):
        await client.logs.post(writer, b"%d" % n)
    await member.logs.subscribe(reader)
    entries = await received(member, 4)  # the window is 4
    await member.logs.acknowledge(reader, entries[1].seq)  # handled 0 and 1
    await member.close()
    again = await RelayClient.connect(relay.address, delivery_window=4)
    try:
        position = await again.logs.subscribe(LogReader.decode(reader.encode()))
        assert position.cursor == 2
        assert [e.seq for e in await received(again, 3)] == [2, 3, 4]
        with pytest.raises(EntryNotPosted):
            await again.logs.acknowledge(reader, 5)
    finally:
        await again.close()


async def test_removed_members_can_neither_read_nor_post(
    client: RelayClient, member: RelayClient
) -> None:
    admin = await client.logs.create_log()
    writer = LogWriter.decode((await client.logs.add_writer(admin)).encode())
    reader = await client.logs.add_reader(admin)
    await member.logs.subscribe(reader)
    await client.logs.remove_reader(admin, reader.reader_id)
    ended = await next_event(member)
    assert ended == LogSubscriptionEnded(reader, EndReason.REMOVED)
    with pytest.raises(AuthFailed):
        await member.logs.subscribe(reader)
    await client.logs.remove_writer(admin, writer.writer_id)
    with pytest.raises(AuthFailed):
        await member.logs.post(writer, b"after removal")


async def test_restart_resubscribes_readers_without_repeating_reported_entries(
    tmp_path: Path,
) -> None:
    def start(port: int = 0) -> Awaitable[RunningTestRelay]:
        logs = SqliteLogStore(tmp_path / "logs.db")
        return start_test_relay(
            tmp_path, store=SqliteStore(tmp_path / "relay.db"), port=port, log_store=logs
        )

    relay = await start()
    client = await RelayClient.connect(relay.address, reconnect=FAST_RECONNECT, delivery_window=8)
    try:
        admin = await client.logs.create_log()
        writer = await client.logs.add_writer(admin)
        reader = await client.logs.add_reader(admin)
        await client.logs.subscribe(reader)
        await client.logs.post(writer, b"before")
        assert [e.body for e in await received(client, 1)] == [b"before"]  # not acknowledged
        await relay.stop()
        relay = await start(relay.port)
        assert await next_event(client) == LogsRestored(resubscribing=1)
        await client.logs.post(writer, b"after")
        # "before" comes again from the relay but was reported already: only "after" is new.
        assert [(e.seq, e.body) for e in await received(client, 1)] == [(1, b"after")]
        await client.logs.acknowledge(reader, 1)
        await client.logs.delete_log(admin)
        assert await next_event(client) == LogSubscriptionEnded(reader, EndReason.DELETED)
    finally:
        await client.close()
        await relay.stop()


class FailingLogStore(MemoryLogStore):
    """Fails its next ``failures`` commits."""

    failures = 0

    async def apply(self, changes: Sequence[LogChange]) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreFailed("disk on fire")
        await super().apply(changes)


async def test_a_failed_commit_answers_internal_error_and_changes_nothing(tmp_path: Path) -> None:
    store = FailingLogStore()
    relay = await start_test_relay(tmp_path, log_store=store)
    try:
        async with await RelayClient.connect(relay.address) as client:
            admin = await client.logs.create_log()
            writer = await client.logs.add_writer(admin)
            store.failures = 1
            with pytest.raises(InternalError):
                await client.logs.post(writer, b"lost")
            assert await client.logs.post(writer, b"kept") == 0  # the failed one left no gap
            reader = await client.logs.add_reader(admin)
            assert reader.reader_id in {r.reader_id for r in store.logs[admin.log_id].readers}
    finally:
        await relay.stop()
