"""The group-log store in its own SQLite file (WAL, ``synchronous=FULL``, group commit).

Separate from the queue store's file so the two evolve apart; the group commit is
:mod:`veil.relay.server.sqlite_commit`'s, so an acknowledged post is durable (it
survives ``kill -9`` and power loss), and a burst of posts and acknowledgements from
many connections costs one fsync.

Schema (``PRAGMA user_version`` = :data:`LOG_STORE_FORMAT_VERSION`)::

    logs(log_id PK, admin_auth_key, storage_key, created, next_seq)
    members(member_id PK, log_id, auth_key, delivery_key NULL, cursor NULL)
        -- a reader has a delivery key and a cursor, a writer neither
    entries(log_id, seq, stored, sealed, PK(log_id, seq))
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

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
from veil.relay.server.sqlite_commit import GroupCommitFile, open_wal_file

__all__ = ["LOG_STORE_FILE", "LOG_STORE_FORMAT_VERSION", "SqliteLogStore"]

LOG_STORE_FILE = "logs.db"
"""The group-log store's file in the relay's data directory (beside ``relay.db``)."""
LOG_STORE_FORMAT_VERSION = 1

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


class SqliteLogStore(GroupCommitFile[LogChange, list[StoredLog]]):
    """A :class:`~veil.relay.server.log_store.LogStore` in one SQLite file (plus its WAL)."""

    what = "group-log store"

    def _open_file(self, path: Path) -> sqlite3.Connection:
        return open_wal_file(path, _SCHEMA_V1, LOG_STORE_FORMAT_VERSION, self.what)

    def _load(self, connection: sqlite3.Connection) -> list[StoredLog]:
        return _load(connection)

    def _write(self, connection: sqlite3.Connection, changes: Iterable[LogChange]) -> None:
        for change in changes:
            _write(connection, change)


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
