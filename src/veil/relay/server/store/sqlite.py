"""The embedded store: SQLite in WAL mode with group commit
(:mod:`veil.relay.server.sqlite_commit`: an answered write is durable, and a burst of
writes from many connections costs one fsync).

Schema (``PRAGMA user_version`` holds :data:`STORE_FORMAT_VERSION`)::

    queues(recipient_id PK, sender_id UNIQUE, recipient_auth_key, delivery_key,
           sender_auth_key NULL, suspended, created)
    messages(seq PK, recipient_id, message_id, stored, sealed)   -- seq = arrival order
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from veil.relay.server.sqlite_commit import GroupCommitFile, open_wal_file
from veil.relay.server.store.base import (
    STORE_FORMAT_VERSION,
    DeleteMessage,
    DeleteMessagesBefore,
    PutMessage,
    PutQueue,
    QueueRecord,
    RemoveQueue,
    SetSenderKey,
    SetSuspended,
    StoreChange,
    StoredMessage,
    StoredQueue,
    carried_body,
)

__all__ = ["SqliteStore"]

_SCHEMA_V1 = """
CREATE TABLE queues (
    recipient_id BLOB PRIMARY KEY,
    sender_id BLOB NOT NULL UNIQUE,
    recipient_auth_key BLOB NOT NULL,
    delivery_key BLOB NOT NULL,
    sender_auth_key BLOB,
    suspended INTEGER NOT NULL,
    created INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY,
    recipient_id BLOB NOT NULL,
    message_id BLOB NOT NULL,
    stored INTEGER NOT NULL,
    sealed BLOB NOT NULL
);
CREATE INDEX messages_by_queue ON messages (recipient_id, message_id);
"""

# Each change type becomes one statement; consecutive changes of a type run as one
# executemany, so a batch of sends is a single call into SQLite.
_STATEMENTS: dict[type[Any], str] = {
    PutQueue: "INSERT INTO queues VALUES (?, ?, ?, ?, ?, ?, ?)",
    SetSenderKey: "UPDATE queues SET sender_auth_key = ? WHERE recipient_id = ?",
    SetSuspended: "UPDATE queues SET suspended = 1 WHERE recipient_id = ?",
    RemoveQueue: "DELETE FROM queues WHERE recipient_id = ?",
    PutMessage: "INSERT INTO messages (recipient_id, message_id, stored, sealed) VALUES (?,?,?,?)",
    DeleteMessage: "DELETE FROM messages WHERE recipient_id = ? AND message_id = ?",
    DeleteMessagesBefore: "DELETE FROM messages WHERE stored < ?",
}
_DELETE_QUEUE_MESSAGES = "DELETE FROM messages WHERE recipient_id = ?"


def _parameters(change: StoreChange) -> tuple[Any, ...]:
    match change:
        case PutQueue(record):
            return (
                record.recipient_id,
                record.sender_id,
                record.recipient_auth_key,
                record.delivery_key,
                record.sender_auth_key,
                int(record.suspended),
                record.created,
            )
        case SetSenderKey(recipient_id, key):
            return (key, recipient_id)
        case SetSuspended(recipient_id) | RemoveQueue(recipient_id):
            return (recipient_id,)
        case PutMessage(recipient_id, message):
            return (recipient_id, message.message_id, message.stored, message.sealed)
        case DeleteMessage(recipient_id, message_id):
            return (recipient_id, message_id)
        case DeleteMessagesBefore(cutoff):
            return (cutoff,)


class SqliteStore(GroupCommitFile[StoreChange, list[StoredQueue]]):
    """A :class:`~veil.relay.server.store.base.QueueStore` in one SQLite file (plus its WAL)."""

    bodies_on_disk = False
    what = "relay store"

    def read_body(self, recipient_id: bytes, message: StoredMessage) -> bytes:
        """Bodies stay in memory with this store: the message carries its own."""
        return carried_body(message)

    def _open_file(self, path: Path) -> sqlite3.Connection:
        return open_wal_file(path, _SCHEMA_V1, STORE_FORMAT_VERSION, self.what)

    def _load(self, connection: sqlite3.Connection) -> list[StoredQueue]:
        return _load(connection)

    def _write(self, connection: sqlite3.Connection, changes: Iterable[StoreChange]) -> None:
        _write(connection, changes)


def _write(connection: sqlite3.Connection, changes: Iterable[StoreChange]) -> None:
    for change_type, run in itertools.groupby(changes, key=type):
        rows = [_parameters(change) for change in run]
        if change_type is RemoveQueue:
            connection.executemany(_DELETE_QUEUE_MESSAGES, rows)
        connection.executemany(_STATEMENTS[change_type], rows)


def _load(connection: sqlite3.Connection) -> list[StoredQueue]:
    queues: dict[bytes, StoredQueue] = {}
    for row in connection.execute("SELECT * FROM queues"):
        record = QueueRecord(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6])
        queues[record.recipient_id] = StoredQueue(record)
    query = "SELECT recipient_id, message_id, stored, sealed FROM messages ORDER BY seq"
    for recipient_id, message_id, stored, sealed in connection.execute(query):
        queue = queues.get(recipient_id)
        if queue is not None:
            queue.messages.append(StoredMessage(message_id, stored, sealed))
    return list(queues.values())
