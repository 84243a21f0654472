"""Group logs over a real TLS relay: admin, writers, readers at their own cursors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from helpers.relay import RunningTestRelay
from veil.relay.client.log_events import (
    LogEntryReceived,
    LogEvent,
    LogReader,
    LogSubscriptionEnded,
    LogWriter,
)
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.errors import AuthFailed, EntryNotPosted
from veil.relay.protocol.log_commands import EndReason


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
