"""The SQLite store: durability across reopen, group commit, format version, nothing leaks."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from helpers.relay_harness import Relay
from veil.relay.client.session import open_delivery
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import StoreFailed
from veil.relay.server.store.base import (
    DeleteMessage,
    DeleteMessagesBefore,
    PutMessage,
    PutQueue,
    QueueRecord,
    RemoveQueue,
    SetSenderKey,
    SetSuspended,
    StoredMessage,
    StoredQueue,
)
from veil.relay.server.store.sqlite import SqliteStore


def record(index: int) -> QueueRecord:
    return QueueRecord(
        recipient_id=index.to_bytes(24, "big"),
        sender_id=(index + 1_000_000).to_bytes(24, "big"),
        recipient_auth_key=b"\x01" * 32,
        delivery_key=b"\x02" * 32,
        created=3600,
    )


def message(index: int, stored: int = 7200) -> StoredMessage:
    return StoredMessage(index.to_bytes(24, "big"), stored, b"sealed-%d" % index)


async def reopen(path: Path) -> list[StoredQueue]:
    store = SqliteStore(path)
    try:
        return await store.open()
    finally:
        await store.close()


async def test_changes_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "relay.db"
    store = SqliteStore(path)
    assert await store.open() == []
    first, second = record(1), record(2)
    await store.apply([PutQueue(first), PutQueue(second)])
    await store.apply([PutMessage(first.recipient_id, message(i)) for i in range(3)])
    await store.apply(
        [
            SetSenderKey(first.recipient_id, b"\x03" * 32),
            DeleteMessage(first.recipient_id, message(0).message_id),
            SetSuspended(second.recipient_id),
        ]
    )
    await store.close()
    loaded = {queue.record.recipient_id: queue for queue in await reopen(path)}
    secured = loaded[first.recipient_id]
    assert secured.record.sender_auth_key == b"\x03" * 32
    assert secured.messages == [message(1), message(2)]
    assert loaded[second.recipient_id].record.suspended


async def test_delete_queue_and_expiry(tmp_path: Path) -> None:
    path = tmp_path / "relay.db"
    store = SqliteStore(path)
    await store.open()
    first, second = record(1), record(2)
    await store.apply([PutQueue(first), PutQueue(second)])
    await store.apply(
        [
            PutMessage(first.recipient_id, message(1, stored=3600)),
            PutMessage(second.recipient_id, message(2, stored=3600)),
            PutMessage(second.recipient_id, message(3, stored=10_800)),
        ]
    )
    await store.apply([RemoveQueue(first.recipient_id), DeleteMessagesBefore(7200)])
    await store.close()
    [survivor] = await reopen(path)
    assert survivor.record == second
    assert survivor.messages == [message(3, stored=10_800)]
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM messages").fetchone() == (1,)


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
    [queue] = await reopen(tmp_path / "relay.db")
    assert len(queue.messages) == 400


async def test_many_queues_load_back(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "relay.db")
    await store.open()
    await store.apply([PutQueue(record(i)) for i in range(5_000)])
    await store.close()
    assert len(await reopen(tmp_path / "relay.db")) == 5_000


async def test_a_failed_commit_is_reported_not_acknowledged(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "relay.db")
    await store.open()
    await store.apply([PutQueue(record(1))])
    with pytest.raises(StoreFailed):
        await store.apply([PutQueue(record(1))])  # duplicate primary key
    await store.apply([PutMessage(record(1).recipient_id, message(1))])
    await store.close()
    [queue] = await reopen(tmp_path / "relay.db")
    assert queue.messages == [message(1)]


async def test_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "relay.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreFailed):
        await SqliteStore(path).open()


async def test_relay_restart_on_sqlite_restores_everything(tmp_path: Path) -> None:
    path = tmp_path / "relay.db"
    first = await Relay(SqliteStore(path)).start()
    alice, bob = await first.client(), await first.client()
    queue = await alice.secured_queue()
    secret = b"plaintext that must never be at rest " * 4
    for index in range(3):
        await bob.ok(bob.send(queue, secret + b"%d" % index))
    message_one = await alice.ok(alice.recipient(cmd.GetMessage(), queue))
    assert isinstance(message_one, rsp.Message)
    await alice.ok(alice.recipient(cmd.Acknowledge(message_one.message_id), queue))
    at_rest = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # database and WAL
    assert secret[:16] not in at_rest
    assert queue.keys.auth.public in at_rest  # the check would see bytes if they were there
    await first.service.close()

    second = await Relay(SqliteStore(path), seed=b"second").start()
    alice_again = await second.client()
    await alice_again.ok(alice_again.recipient(cmd.Subscribe(), queue))
    [delivery] = alice_again.pushes
    assert isinstance(delivery.response, rsp.Message)
    assert open_delivery(queue.delivery_key, delivery.response).body == secret + b"1"
    new_bob = await second.client()
    assert await new_bob.call(new_bob.send(queue, b"after restart")) == rsp.Ok()
    await second.service.close()
