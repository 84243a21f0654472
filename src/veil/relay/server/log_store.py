"""Durable group logs: what is stored, the changes, the interface, and the memory store.

Like the queue store (:mod:`veil.relay.server.store.base`), a log store holds only
what the protocol needs: ids, auth public keys, each reader's delivery key and
cursor, the log's storage key, entries sealed at rest and dates rounded down to
the hour. The relay keeps live logs in memory; the store is what they are
rebuilt from after a restart. Writes are batches of :data:`LogChange` values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "DeleteEntriesBefore",
    "ExpireEntries",
    "LogChange",
    "LogRecord",
    "LogStore",
    "MemoryLogStore",
    "PutEntry",
    "PutLog",
    "PutReader",
    "PutWriter",
    "ReaderRecord",
    "RemoveLog",
    "RemoveMember",
    "SetCursor",
    "StoredEntry",
    "StoredLog",
    "WriterRecord",
]


@dataclass(frozen=True, slots=True)
class LogRecord:
    """A log as stored. ``next_seq`` is a floor for the next sequence number: entries
    may all be gone, and numbers are never given twice."""

    log_id: bytes
    admin_auth_key: bytes
    storage_key: bytes
    created: int
    next_seq: int = 0


@dataclass(frozen=True, slots=True)
class ReaderRecord:
    """A reader: its auth key, its delivery key and its cursor (next entry it wants)."""

    reader_id: bytes
    auth_key: bytes
    delivery_key: bytes
    cursor: int


@dataclass(frozen=True, slots=True)
class WriterRecord:
    """A writer: its auth key."""

    writer_id: bytes
    auth_key: bytes


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One entry: its sequence number, coarse arrival time and sealed-at-rest frame."""

    seq: int
    stored: int
    sealed: bytes


@dataclass(slots=True)
class StoredLog:
    """A log with its members and entries (oldest first), as loaded at start."""

    record: LogRecord
    readers: list[ReaderRecord] = field(default_factory=list)
    writers: list[WriterRecord] = field(default_factory=list)
    entries: list[StoredEntry] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PutLog:
    """Create a log."""

    record: LogRecord


@dataclass(frozen=True, slots=True)
class RemoveLog:
    """Delete a log with its members and entries."""

    log_id: bytes


@dataclass(frozen=True, slots=True)
class PutReader:
    """Add a reader to a log."""

    log_id: bytes
    reader: ReaderRecord


@dataclass(frozen=True, slots=True)
class PutWriter:
    """Add a writer to a log."""

    log_id: bytes
    writer: WriterRecord


@dataclass(frozen=True, slots=True)
class RemoveMember:
    """Remove a reader or a writer (ids are unique across both)."""

    member_id: bytes


@dataclass(frozen=True, slots=True)
class PutEntry:
    """Append an entry."""

    log_id: bytes
    entry: StoredEntry


@dataclass(frozen=True, slots=True)
class SetCursor:
    """Move a reader's cursor (it acknowledged every entry before ``cursor``)."""

    reader_id: bytes
    cursor: int


@dataclass(frozen=True, slots=True)
class DeleteEntriesBefore:
    """Every reader acknowledged the entries before ``seq``: delete them, and keep
    ``next_seq`` as the log's floor of sequence numbers."""

    log_id: bytes
    seq: int
    next_seq: int


@dataclass(frozen=True, slots=True)
class ExpireEntries:
    """Retention: delete every entry stored before the coarse time ``cutoff``; keep
    each ``(log_id, next_seq)`` of ``floors`` as that log's floor."""

    cutoff: int
    floors: tuple[tuple[bytes, int], ...]


LogChange = (
    PutLog
    | RemoveLog
    | PutReader
    | PutWriter
    | RemoveMember
    | PutEntry
    | SetCursor
    | DeleteEntriesBefore
    | ExpireEntries
)


class LogStore(Protocol):
    """Durable group logs. Every method may raise ``StoreFailed``."""

    async def open(self) -> list[StoredLog]:
        """Open (creating if needed) and return every log with its members and entries."""
        ...

    async def apply(self, changes: Sequence[LogChange]) -> None:
        """Apply ``changes`` atomically, in order; return only once they are durable."""
        ...

    async def close(self) -> None:
        """Finish pending commits and release the store."""
        ...


class MemoryLogStore:
    """A :class:`LogStore` in memory, for tests and throwaway relays (nothing survives)."""

    def __init__(self) -> None:
        self.logs: dict[bytes, StoredLog] = {}
        self._owner: dict[bytes, bytes] = {}
        """Member id -> log id."""

    async def open(self) -> list[StoredLog]:
        """Return what earlier :meth:`apply` calls left."""
        return list(self.logs.values())

    async def apply(self, changes: Sequence[LogChange]) -> None:
        """Apply ``changes`` at once."""
        for change in changes:
            self._apply(change)

    async def close(self) -> None:
        """Nothing to release."""

    def _apply(self, change: LogChange) -> None:
        match change:
            case PutLog(record):
                self.logs[record.log_id] = StoredLog(record)
            case RemoveLog(log_id):
                removed = self.logs.pop(log_id)
                for member_id in [r.reader_id for r in removed.readers] + [
                    w.writer_id for w in removed.writers
                ]:
                    self._owner.pop(member_id, None)
            case PutReader(log_id, reader):
                self.logs[log_id].readers.append(reader)
                self._owner[reader.reader_id] = log_id
            case PutWriter(log_id, writer):
                self.logs[log_id].writers.append(writer)
                self._owner[writer.writer_id] = log_id
            case RemoveMember(member_id):
                log = self.logs[self._owner.pop(member_id)]
                log.readers = [r for r in log.readers if r.reader_id != member_id]
                log.writers = [w for w in log.writers if w.writer_id != member_id]
            case PutEntry(log_id, entry):
                self.logs[log_id].entries.append(entry)
            case SetCursor(reader_id, cursor):
                log = self.logs[self._owner[reader_id]]
                log.readers = [
                    ReaderRecord(r.reader_id, r.auth_key, r.delivery_key, cursor)
                    if r.reader_id == reader_id
                    else r
                    for r in log.readers
                ]
            case DeleteEntriesBefore(log_id, seq, next_seq):
                log = self.logs[log_id]
                log.entries = [entry for entry in log.entries if entry.seq >= seq]
                self._raise_floor(log, next_seq)
            case ExpireEntries(cutoff, floors):
                for log in self.logs.values():
                    log.entries = [entry for entry in log.entries if entry.stored >= cutoff]
                for log_id, next_seq in floors:
                    self._raise_floor(self.logs[log_id], next_seq)

    @staticmethod
    def _raise_floor(log: StoredLog, next_seq: int) -> None:
        record = log.record
        if next_seq > record.next_seq:
            log.record = LogRecord(
                record.log_id, record.admin_auth_key, record.storage_key, record.created, next_seq
            )
