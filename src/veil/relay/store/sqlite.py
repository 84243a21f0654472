"""The embedded store: SQLite in WAL mode, written by one thread with group commit.

Every :meth:`SqliteStore.apply` call queues its changes and waits. A dedicated
thread takes everything queued so far, writes it in ONE transaction and commits
(``synchronous=FULL``: the WAL is fsynced before the commit returns), then wakes
every waiter of that batch. So an answered write is durable, and a burst of
writes from many connections costs one fsync, not one each.

Schema (``PRAGMA user_version`` holds :data:`STORE_FORMAT_VERSION`)::

    queues(recipient_id PK, sender_id UNIQUE, recipient_auth_key, delivery_key,
           sender_auth_key NULL, suspended, created)
    messages(seq PK, recipient_id, message_id, stored, sealed)   -- seq = arrival order
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from veil.relay.errors import StoreFailed
from veil.relay.store.base import (
    STORE_FORMAT_VERSION,
    DeleteMessage,
    DeleteMessagesBefore,
    DeleteQueue,
    PutMessage,
    PutQueue,
    QueueRecord,
    SetSenderKey,
    SetSuspended,
    StoreChange,
    StoredMessage,
    StoredQueue,
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
    DeleteQueue: "DELETE FROM queues WHERE recipient_id = ?",
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
        case SetSuspended(recipient_id) | DeleteQueue(recipient_id):
            return (recipient_id,)
        case PutMessage(recipient_id, message):
            return (recipient_id, message.message_id, message.stored, message.sealed)
        case DeleteMessage(recipient_id, message_id):
            return (recipient_id, message_id)
        case DeleteMessagesBefore(cutoff):
            return (cutoff,)


_Waiter = tuple[Sequence[StoreChange], "asyncio.Future[None]"]


class SqliteStore:
    """A :class:`~veil.relay.store.base.QueueStore` in one SQLite file (plus its WAL)."""

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._lock = threading.Condition()
        self._pending: list[_Waiter] = []
        self._closing = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.commits = 0
        """Transactions committed so far (each one fsync)."""

    async def open(self) -> list[StoredQueue]:
        """Open or create the database in the writer thread and load everything."""
        self._loop = asyncio.get_running_loop()
        loaded: asyncio.Future[list[StoredQueue]] = self._loop.create_future()
        self._thread = threading.Thread(
            target=self._run, args=(loaded,), name="veil-relay-store", daemon=True
        )
        self._thread.start()
        return await loaded

    async def apply(self, changes: Sequence[StoreChange]) -> None:
        """Queue ``changes`` for the next group commit and wait until it is durable."""
        if not changes:
            return
        if self._loop is None or self._closing:
            raise StoreFailed("store is not open")
        done: asyncio.Future[None] = self._loop.create_future()
        with self._lock:
            self._pending.append((changes, done))
            self._lock.notify()
        await done

    async def close(self) -> None:
        """Commit what is queued, then stop the writer thread and close the file."""
        thread = self._thread
        if thread is None:
            return
        with self._lock:
            self._closing = True
            self._lock.notify()
        await asyncio.to_thread(thread.join)
        self._thread = None

    # -- the writer thread -------------------------------------------------------

    def _run(self, loaded: asyncio.Future[list[StoredQueue]]) -> None:
        try:
            connection = self._connect()
            queues = _load(connection)
        except (sqlite3.Error, StoreFailed) as exc:
            self._call_soon(_fail_future, loaded, exc)
            return
        self._call_soon(_resolve_future, loaded, queues)
        try:
            while (batch := self._next_batch()) is not None:
                self._commit(connection, batch)
        finally:
            connection.close()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=True)
        connection.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so a committed batch survives power loss.
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=OFF")
        _migrate(connection)
        return connection

    def _next_batch(self) -> list[_Waiter] | None:
        with self._lock:
            while not self._pending and not self._closing:
                self._lock.wait()
            if not self._pending:
                return None
            batch, self._pending = self._pending, []
            return batch

    def _commit(self, connection: sqlite3.Connection, batch: list[_Waiter]) -> None:
        error: Exception | None = None
        try:
            connection.execute("BEGIN")
            _write(connection, (change for changes, _ in batch for change in changes))
            connection.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            error = StoreFailed(f"commit failed: {exc}")
        self._call_soon(_settle_batch, [done for _, done in batch], error)

    def _call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        # A closed event loop (process exit) has nobody left to wake.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)


def _migrate(connection: sqlite3.Connection) -> None:
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > STORE_FORMAT_VERSION:
        raise StoreFailed(f"store format {version} is newer than {STORE_FORMAT_VERSION}")
    if version == 0:
        connection.executescript(f"BEGIN; {_SCHEMA_V1} PRAGMA user_version = 1; COMMIT;")


def _write(connection: sqlite3.Connection, changes: Iterable[StoreChange]) -> None:
    for change_type, run in itertools.groupby(changes, key=type):
        rows = [_parameters(change) for change in run]
        if change_type is DeleteQueue:
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


def _resolve_future(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _fail_future(future: asyncio.Future[Any], error: Exception) -> None:
    if not future.done():
        future.set_exception(
            error if isinstance(error, StoreFailed) else StoreFailed(f"cannot open store: {error}")
        )


def _settle_batch(waiters: list[asyncio.Future[None]], error: Exception | None) -> None:
    for done in waiters:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
