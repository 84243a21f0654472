"""The SQLite store beyond the shared contract (test_queue_stores): group commit,
a failed commit, its format version."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from helpers.queue_stores import message, record, reopen
from veil.relay.protocol.errors import StoreFailed
from veil.relay.server.store.base import (
    PutMessage,
    PutQueue,
    StoredQueue,
)
from veil.relay.server.store.sqlite import SqliteStore


async def reopen_file(path: Path) -> list[StoredQueue]:
    return await reopen(SqliteStore(path))


async def test_concurrent_writes_share_one_commit(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "relay.db")
    await store.open()
    await store.apply([PutQueue(record(1))])
    commits = store.commits
    # All 300 writes are queued before the committer first runs: they commit together.
    writes = [
        asyncio.create_task(store.apply([PutMessage(record(1).recipient_id, message(i))]))
        for i in range(300)
    ]
    await asyncio.gather(*writes)
    assert store.commits == commits + 1
    # Writes made while a commit is under way go together into the next one.
    first = asyncio.create_task(store.apply([PutMessage(record(1).recipient_id, message(300))]))
    await asyncio.sleep(0)
    later = [store.apply([PutMessage(record(1).recipient_id, message(i))]) for i in range(301, 400)]
    await asyncio.gather(first, *later)
    assert store.commits == commits + 3
    await store.close()
    [queue] = await reopen_file(tmp_path / "relay.db")
    assert len(queue.messages) == 400


async def test_a_failed_commit_is_reported_not_acknowledged(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "relay.db")
    await store.open()
    await store.apply([PutQueue(record(1))])
    with pytest.raises(StoreFailed):
        await store.apply([PutQueue(record(1))])  # duplicate primary key
    await store.apply([PutMessage(record(1).recipient_id, message(1))])
    await store.close()
    [queue] = await reopen_file(tmp_path / "relay.db")
    assert queue.messages == [message(1)]


async def test_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "relay.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreFailed):
        await SqliteStore(path).open()
