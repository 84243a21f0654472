"""The embedded store: SQLite in WAL mode with group commit.

Every :meth:`SqliteStore.apply` call queues its changes and waits. While no commit
is under way, everything queued so far is written in ONE transaction and committed
(``synchronous=FULL``: the WAL is fsynced before the commit returns), then every
waiter of that batch wakes. Calls made during a commit wait for the next one. So an
answered write is durable, and a burst of writes from many connections costs one
fsync, not one each. The blocking work (open, load, COMMIT with its fsync) runs in
one dedicated thread, so the event loop never waits on the disk.

Schema (``PRAGMA user_version`` holds :data:`STORE_FORMAT_VERSION`)::

    queues(recipient_id PK, sender_id UNIQUE, recipient_auth_key, delivery_key,
           sender_auth_key NULL, suspended, created)
    messages(seq PK, recipient_id, message_id, stored, sealed)   -- seq = arrival order
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from veil.relay.protocol.errors import StoreFailed
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

_T = TypeVar("_T")

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


_Waiter = tuple[Sequence[StoreChange], "asyncio.Future[None]"]


class SqliteStore:
    """A :class:`~veil.relay.server.store.base.QueueStore` in one SQLite file (plus its WAL)."""

    bodies_on_disk = False

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._connection: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[_Waiter] = []
        self._committer: asyncio.Task[None] | None = None
        self.commits = 0
        """Transactions committed so far (each one fsync)."""

    async def open(self) -> list[StoredQueue]:
        """Open or create the database and load everything, off the event loop."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veil-relay-store")
        try:
            connection = await self._in_thread(_connect, self._path)
            queues = await self._in_thread(_load, connection)
        except sqlite3.Error as exc:
            raise StoreFailed(f"cannot open store: {exc}") from exc
        self._connection = connection
        return queues

    async def apply(self, changes: Sequence[StoreChange]) -> None:
        """Queue ``changes`` for the next group commit and wait until it is durable."""
        if not changes:
            return
        if self._connection is None:
            raise StoreFailed("store is not open")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((changes, done))
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_pending())
        await done

    def read_body(self, recipient_id: bytes, message: StoredMessage) -> bytes:
        """Bodies stay in memory with this store: the message carries its own."""
        return carried_body(message)

    async def close(self) -> None:
        """Commit what is queued, then close the file and stop the store thread."""
        if self._committer is not None:
            await self._committer
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._in_thread(connection.close)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def _commit_pending(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                error = await self._commit(batch)
                for _, done in batch:
                    if done.done():
                        continue
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)
        finally:
            self._committer = None

    async def _commit(self, batch: list[_Waiter]) -> StoreFailed | None:
        """Write a batch in one transaction; only the COMMIT (the fsync) leaves the loop.

        The statements themselves run here: they only touch SQLite's page cache,
        and running them in the store thread would cost a GIL hand-off per row.
        """
        connection = self._connection
        assert connection is not None
        try:
            connection.execute("BEGIN")
            _write(connection, (change for changes, _ in batch for change in changes))
            await self._in_thread(connection.execute, "COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            return StoreFailed(f"commit failed: {exc}")
        self.commits += 1
        return None

    async def _in_thread(self, function: Callable[..., _T], *args: Any) -> _T:
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)


def _connect(path: Path) -> sqlite3.Connection:
    # Used by the event loop thread and the store thread, never by both at once.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    # FULL: the WAL is fsynced at every commit, so a committed batch survives power loss.
    connection.execute("PRAGMA synchronous=FULL")
    _migrate(connection)
    return connection


def _migrate(connection: sqlite3.Connection) -> None:
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > STORE_FORMAT_VERSION:
        raise StoreFailed(f"store format {version} is newer than {STORE_FORMAT_VERSION}")
    if version == 0:
        connection.executescript(f"BEGIN; {_SCHEMA_V1} PRAGMA user_version = 1; COMMIT;")


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
