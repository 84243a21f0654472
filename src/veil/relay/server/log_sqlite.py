"""The group-log store in its own SQLite file (WAL, ``synchronous=FULL``, group commit).

Separate from the queue store's file so the two evolve apart. Every
:meth:`SqliteLogStore.apply` call queues its changes; while no commit is under way,
everything queued so far is written in one transaction whose COMMIT (the fsync)
runs in the store's own thread, then every waiter of that batch wakes. So an
acknowledged post is durable (it survives ``kill -9`` and power loss), and a burst of
posts and acknowledgements from many connections costs one fsync.

Schema (``PRAGMA user_version`` = :data:`LOG_STORE_FORMAT_VERSION`)::

    logs(log_id PK, admin_auth_key, storage_key, created, next_seq)
    members(member_id PK, log_id, auth_key, delivery_key NULL, cursor NULL)
        -- a reader has a delivery key and a cursor, a writer neither
    entries(log_id, seq, stored, sealed, PK(log_id, seq))
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from veil.relay.protocol.errors import StoreFailed
from veil.relay.server.log_store import (
    DeleteEntriesBefore,
    ExpireEntries,
    LogChange,
    LogRecord,
    PutEntry,
    PutLog,
    PutReader,
    PutWriter,
    ReaderRecord,
    RemoveLog,
    RemoveMember,
    SetCursor,
    StoredEntry,
    StoredLog,
    WriterRecord,
)

__all__ = ["LOG_STORE_FILE", "LOG_STORE_FORMAT_VERSION", "SqliteLogStore"]

LOG_STORE_FILE = "logs.db"
"""The group-log store's file in the relay's data directory (beside ``relay.db``)."""
LOG_STORE_FORMAT_VERSION = 1
_T = TypeVar("_T")

_SCHEMA_V1 = """
CREATE TABLE logs (
    log_id BLOB PRIMARY KEY,
    admin_auth_key BLOB NOT NULL,
    storage_key BLOB NOT NULL,
    created INTEGER NOT NULL,
    next_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE members (
    member_id BLOB PRIMARY KEY,
    log_id BLOB NOT NULL,
    auth_key BLOB NOT NULL,
    delivery_key BLOB,
    cursor INTEGER
) WITHOUT ROWID;
CREATE INDEX members_by_log ON members (log_id);
CREATE TABLE entries (
    log_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    stored INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (log_id, seq)
) WITHOUT ROWID;
CREATE INDEX entries_by_time ON entries (stored);
"""
_RAISE_FLOOR = "UPDATE logs SET next_seq = max(next_seq, ?) WHERE log_id = ?"


def _write(connection: sqlite3.Connection, change: LogChange) -> None:
    match change:
        case PutLog(record):
            connection.execute(
                "INSERT INTO logs VALUES (?, ?, ?, ?, ?)",
                (
                    record.log_id,
                    record.admin_auth_key,
                    record.storage_key,
                    record.created,
                    record.next_seq,
                ),
            )
        case RemoveLog(log_id):
            for table in ("entries", "members", "logs"):
                connection.execute(f"DELETE FROM {table} WHERE log_id = ?", (log_id,))  # noqa: S608
        case PutReader(log_id, reader):
            connection.execute(
                "INSERT INTO members VALUES (?, ?, ?, ?, ?)",
                (reader.reader_id, log_id, reader.auth_key, reader.delivery_key, reader.cursor),
            )
        case PutWriter(log_id, writer):
            connection.execute(
                "INSERT INTO members VALUES (?, ?, ?, NULL, NULL)",
                (writer.writer_id, log_id, writer.auth_key),
            )
        case RemoveMember(member_id):
            connection.execute("DELETE FROM members WHERE member_id = ?", (member_id,))
        case PutEntry(log_id, entry):
            connection.execute(
                "INSERT INTO entries VALUES (?, ?, ?, ?)",
                (log_id, entry.seq, entry.stored, entry.sealed),
            )
        case SetCursor(reader_id, cursor):
            connection.execute(
                "UPDATE members SET cursor = ? WHERE member_id = ?", (cursor, reader_id)
            )
        case DeleteEntriesBefore(log_id, seq, next_seq):
            connection.execute("DELETE FROM entries WHERE log_id = ? AND seq < ?", (log_id, seq))
            connection.execute(_RAISE_FLOOR, (next_seq, log_id))
        case ExpireEntries(cutoff, floors):
            connection.execute("DELETE FROM entries WHERE stored < ?", (cutoff,))
            connection.executemany(_RAISE_FLOOR, [(seq, log_id) for log_id, seq in floors])


_Waiter = tuple[Sequence[LogChange], "asyncio.Future[None]"]


class SqliteLogStore:
    """A :class:`~veil.relay.server.log_store.LogStore` in one SQLite file (plus its WAL)."""

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._connection: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[_Waiter] = []
        self._committer: asyncio.Task[None] | None = None
        self.commits = 0
        """Transactions committed so far (each one fsync)."""

    async def open(self) -> list[StoredLog]:
        """Open or create the database and load every log, off the event loop."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veil-log-store")
        try:
            connection = await self._in_thread(_connect, self._path)
            logs = await self._in_thread(_load, connection)
        except sqlite3.Error as exc:
            raise StoreFailed(f"cannot open the group-log store: {exc}") from exc
        self._connection = connection
        return logs

    async def apply(self, changes: Sequence[LogChange]) -> None:
        """Queue ``changes`` for the next group commit and wait until it is durable."""
        if not changes:
            return
        if self._connection is None:
            raise StoreFailed("group-log store is not open")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((changes, done))
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_pending())
        await done

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
        connection = self._connection
        assert connection is not None
        try:
            connection.execute("BEGIN")
            for changes, _ in batch:
                for change in changes:
                    _write(connection, change)
            await self._in_thread(connection.execute, "COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            return StoreFailed(f"group-log commit failed: {exc}")
        self.commits += 1
        return None

    async def _in_thread(self, function: Callable[..., _T], *args: Any) -> _T:
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)


def _connect(path: Path) -> sqlite3.Connection:
    # Used by the event loop thread and the store thread, never by both at once.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > LOG_STORE_FORMAT_VERSION:
        raise StoreFailed(f"group-log store format {version} is newer than supported")
    if version == 0:
        connection.executescript(f"BEGIN; {_SCHEMA_V1} PRAGMA user_version = 1; COMMIT;")
    return connection


def _load(connection: sqlite3.Connection) -> list[StoredLog]:
    logs = {
        row[0]: StoredLog(LogRecord(*row))
        for row in connection.execute(
            "SELECT log_id, admin_auth_key, storage_key, created, next_seq FROM logs"
        )
    }
    members = "SELECT member_id, log_id, auth_key, delivery_key, cursor FROM members"
    for member_id, log_id, auth_key, delivery_key, cursor in connection.execute(members):
        log = logs.get(log_id)
        if log is None:
            continue
        if delivery_key is None:
            log.writers.append(WriterRecord(member_id, auth_key))
        else:
            log.readers.append(ReaderRecord(member_id, auth_key, delivery_key, cursor))
    query = "SELECT log_id, seq, stored, sealed FROM entries ORDER BY log_id, seq"
    for log_id, seq, stored, sealed in connection.execute(query):
        log = logs.get(log_id)
        if log is not None:
            log.entries.append(StoredEntry(seq, stored, sealed))
    return list(logs.values())
