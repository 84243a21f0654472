"""File transfers in the chat store: offers sent and received, their state and settings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from veil.chat.store.base import Repository, Row
from veil.chat.store.records import Direction

__all__ = [
    "FILES_MIGRATION_STATEMENTS",
    "FileTransferRecord",
    "FileTransferRepository",
    "TransferState",
]

FILES_MIGRATION_STATEMENTS = (
    """CREATE TABLE file_transfers (
        transfer_id INTEGER PRIMARY KEY,
        contact_id INTEGER NOT NULL REFERENCES contacts(contact_id),
        direction TEXT NOT NULL,
        message_id BLOB NOT NULL,
        name TEXT NOT NULL,
        mime_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        state TEXT NOT NULL,
        description BLOB NOT NULL,
        preview BLOB NOT NULL,
        path TEXT,
        created_at REAL NOT NULL,
        UNIQUE (contact_id, direction, message_id)
    )""",
    """CREATE TABLE file_settings (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    )""",
)

_INSERT = """INSERT INTO file_transfers (contact_id, direction, message_id, name, mime_type,
    size, state, description, preview, path, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_SELECT_ONE = """SELECT transfer_id, contact_id, direction, message_id, name, mime_type, size,
    state, description, preview, path, created_at FROM file_transfers WHERE transfer_id = ?"""
_SELECT_ALL = """SELECT transfer_id, contact_id, direction, message_id, name, mime_type, size,
    state, description, preview, path, created_at FROM file_transfers ORDER BY transfer_id"""


class TransferState(Enum):
    """Where a transfer stands (a send is stored once its offer went out; sends under
    way live in their transfer folder only)."""

    SENT = "sent"
    OFFERED = "offered"
    DOWNLOADING = "downloading"
    RECEIVED = "received"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class FileTransferRecord:
    """One file sent or offered to us; ``description`` is the encoded file description."""

    transfer_id: int
    contact_id: int
    direction: Direction
    message_id: bytes
    name: str
    mime_type: str
    size: int
    state: TransferState
    description: bytes
    preview: bytes
    path: str | None
    created_at: float


def _record(row: Row) -> FileTransferRecord:
    return FileTransferRecord(
        row[0],
        row[1],
        Direction(row[2]),
        bytes(row[3]),
        row[4],
        row[5],
        row[6],
        TransferState(row[7]),
        bytes(row[8]),
        bytes(row[9]),
        row[10],
        row[11],
    )


class FileTransferRepository(Repository):
    """The ``file_transfers`` and ``file_settings`` tables."""

    __slots__ = ()

    def add(self, record: FileTransferRecord) -> FileTransferRecord:
        """Store a new transfer (its ``transfer_id`` is ignored); return it with its id.

        :class:`DuplicateRecord` if this contact's offer with that message id is known.
        """
        cursor = self._execute(
            _INSERT,
            (
                record.contact_id,
                record.direction.value,
                record.message_id,
                record.name,
                record.mime_type,
                record.size,
                record.state.value,
                record.description,
                record.preview,
                record.path,
                record.created_at,
            ),
        )
        return self.get(int(cursor.lastrowid))

    def get(self, transfer_id: int) -> FileTransferRecord:
        """The transfer with this id; :class:`RecordNotFound` names it."""
        return _record(self._one(_SELECT_ONE, (transfer_id,), f"file transfer #{transfer_id}"))

    def list(self) -> list[FileTransferRecord]:
        """Every transfer, oldest first."""
        return [_record(row) for row in self._all(_SELECT_ALL)]

    def set_state(self, transfer_id: int, state: TransferState, path: str | None = None) -> None:
        """Move a transfer to ``state`` (and record where its file is, if given)."""
        self._changed(
            "UPDATE file_transfers SET state = ?, path = COALESCE(?, path) WHERE transfer_id = ?",
            (state.value, path, transfer_id),
            f"file transfer #{transfer_id}",
        )

    def setting(self, key: str, default: int) -> int:
        """A file setting (``auto_accept_bytes``), or ``default``."""
        row = self._execute("SELECT value FROM file_settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else int(row[0])

    def set_setting(self, key: str, value: int) -> None:
        """Set a file setting."""
        self._execute(
            "INSERT INTO file_settings VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
            (key, value, value),
        )
