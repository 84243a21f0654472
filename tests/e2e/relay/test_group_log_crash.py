"""Group logs on a ``veil-relay`` process: ``kill -9`` during a post burst loses nothing
acknowledged, readers resume at their own cursors, and nothing at rest is plaintext."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from helpers.relay_process import RelayProcess
from veil.relay.client.log_events import LogEntryReceived, LogReader, LogWriter
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.errors import ConnectionLost

pytestmark = pytest.mark.slow

WRITERS = 4
READERS = 3
ACKED_BEFORE_KILL = 200
MARKER = b"PLAINTEXT-MARKER"
"""In every posted body: it must never appear in the relay's files."""


async def post_burst(
    client: RelayClient, writers: list[LogWriter], posted: dict[int, bytes], enough: asyncio.Event
) -> None:
    """Keep one post in flight per writer until the connection dies."""

    async def one_writer(index: int, writer: LogWriter) -> None:
        for number in range(10_000):
            body = MARKER + f" writer {index} post {number}".encode()
            posted[await client.logs.post(writer, body)] = body
            if len(posted) >= ACKED_BEFORE_KILL:
                enough.set()

    with contextlib.suppress(ConnectionLost):
        await asyncio.gather(*(one_writer(i, w) for i, w in enumerate(writers)))


async def drain(client: RelayClient, reader: LogReader, stop_at: int | None = None) -> list[int]:
    """Subscribe and acknowledge entries (each one) until none come for a while, or
    until ``stop_at`` entries were acknowledged; return their sequence numbers."""
    await client.logs.subscribe(reader)
    events = client.logs.events()
    seqs: list[int] = []
    while stop_at is None or len(seqs) < stop_at:
        try:
            event = await asyncio.wait_for(anext(events), 2.0)
        except TimeoutError:
            break
        assert isinstance(event, LogEntryReceived)
        seqs.append(event.seq)
        await client.logs.acknowledge(reader, event.seq)
    return seqs


async def test_kill_during_post_burst_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    relay = RelayProcess.init(tmp_path / "relay")
    await relay.start()
    try:
        async with await RelayClient.connect(relay.address, reconnect=None) as admin_client:
            admin = await admin_client.logs.create_log()
            writers = [await admin_client.logs.add_writer(admin) for _ in range(WRITERS)]
            readers = [await admin_client.logs.add_reader(admin) for _ in range(READERS)]
        # One reader reads part of the log before the crash: it must resume after that part.
        posted: dict[int, bytes] = {}
        enough = asyncio.Event()
        poster = await RelayClient.connect(relay.address, reconnect=None)
        early = await RelayClient.connect(relay.address, reconnect=None, delivery_window=8)
        async with asyncio.TaskGroup() as group:
            group.create_task(post_burst(poster, writers, posted, enough))
            await asyncio.wait_for(enough.wait(), 60)
            read_early = await drain(early, readers[0], stop_at=50)
            await relay.kill()
        await poster.close()
        await early.close()
        acknowledged = dict(posted)

        await relay.start()
        for index, reader in enumerate(readers):
            async with await RelayClient.connect(
                relay.address, reconnect=None, delivery_window=16
            ) as client:
                seqs = await drain(client, reader)
            everything = (read_early if index == 0 else []) + seqs
            assert set(acknowledged) <= set(everything), "an acknowledged post was lost"
            assert everything == sorted(set(everything)), "out of order, or delivered twice"
        assert read_early == list(range(50))

        await relay.kill()  # acknowledgements are durable too
        await relay.start()
        async with await RelayClient.connect(relay.address, reconnect=None) as client:
            assert await drain(client, readers[1]) == []
    finally:
        await relay.stop()
    at_rest = [path for path in relay.data_dir.rglob("*") if path.is_file()]
    assert any(path.name.startswith("logs.db") for path in at_rest)
    for path in [*at_rest, relay.log_file]:
        assert MARKER not in path.read_bytes(), f"plaintext in {path.name}"
