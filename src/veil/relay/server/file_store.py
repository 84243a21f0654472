"""The relay's store of file chunks: bodies on disk, an index that links nothing.

Layout of the storage folder::

    index.sqlite3                    entries(lookup PK, role, size, expires, sealed)
    bodies/<expires>-<hex name>      a stored body: header (file_store_format) || data
    bodies/<...>.part                an upload in progress

Each chunk has one sender id (upload, delete) and one recipient id per recipient
(download, acknowledge), all random. The index keys every entry by a hash of its id
and seals the rest under a key derived from the id (``file_store_format``), so the
store cannot tie a sender id to a recipient id, nor either to a body, without the
ids themselves. Only the size class of a registration (for the quota) and coarse
expiry hours are in the clear.

Durability: a registration commits in one SQLite transaction (``synchronous=FULL``)
before it returns. A body is written to a ``.part`` file, fsynced, renamed into
place, and the folder fsynced, before :meth:`FileChunkStore.put` returns: an
acknowledged chunk survives ``kill -9``. At open, ``.part`` files (torn uploads) and
bodies whose length disagrees with their header are removed. The quota counts every
registered chunk, so a full store answers :class:`StoreQuotaExceeded` at
registration; a full disk answers :class:`DiskFull`; neither acknowledges anything.

The store is synchronous (the relay server calls it from a worker thread); the clock
and the randomness are injected.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from veil.crypto.primitives import constant_time_equal
from veil.crypto.random import RandomSource
from veil.files.errors import (
    ChunkCorrupted,
    ChunkNotFound,
    StoreQuotaExceeded,
)
from veil.files.layout import CHUNK_SIZES
from veil.files.upload import MAX_RECIPIENTS
from veil.relay.server.file_store_body import BodyUpload, fsync_dir
from veil.relay.server.file_store_format import (
    BODY_HEADER_SIZE,
    BODY_NAME_SIZE,
    BodyHeader,
    EntryFields,
    EntryRole,
    decode_body_header,
    lookup_key,
    open_entry,
    seal_entry,
)

__all__ = ["DEFAULT_RETENTION_SECONDS", "FILE_STORE_VERSION", "FileChunkStore", "RegisteredChunk"]

FILE_STORE_VERSION = 1
DEFAULT_RETENTION_SECONDS = 48 * 3600
CHUNK_ID_SIZE = 24
_HOUR = 3600
_PIECE = 64 * 1024
_SCHEMA = """
CREATE TABLE entries (
    lookup BLOB PRIMARY KEY,
    role INTEGER NOT NULL,
    size INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    sealed BLOB NOT NULL
) WITHOUT ROWID
"""


@dataclass(frozen=True, slots=True)
class RegisteredChunk:
    """The ids a registration drew: the sender's and one per recipient key, in order."""

    sender_id: bytes
    recipient_ids: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class _FoundEntry:
    fields: EntryFields
    size: int
    expires: int


class FileChunkStore:
    """Chunks on disk with quota, retention and crash-safe acknowledgements."""

    def __init__(
        self,
        root: Path,
        *,
        quota_bytes: int,
        clock: Callable[[], float],
        rng: RandomSource,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        self._root = root
        self._bodies = root / "bodies"
        self._bodies.mkdir(parents=True, exist_ok=True)
        self._quota = quota_bytes
        self._clock = clock
        self._rng = rng
        self._retention = retention_seconds
        self._db = sqlite3.connect(root / "index.sqlite3", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._migrate()
        self._remove_torn_bodies()
        self.used_bytes = self._db.execute(
            "SELECT COALESCE(SUM(size), 0) FROM entries WHERE role = ?", (EntryRole.SENDER,)
        ).fetchone()[0]

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            with self._transaction():
                self._db.execute(_SCHEMA)
                self._db.execute(f"PRAGMA user_version = {FILE_STORE_VERSION}")
        elif version != FILE_STORE_VERSION:
            raise ValueError(f"file store format {version} is newer than this relay; upgrade it")

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _remove_torn_bodies(self) -> None:
        for path in self._bodies.iterdir():
            if path.suffix == ".part" or not _body_is_whole(path):
                path.unlink(missing_ok=True)
        fsync_dir(self._bodies)

    def close(self) -> None:
        """Close the index (bodies need no closing)."""
        self._db.close()

    # -- registration and authorisation ------------------------------------------------

    def register(
        self, size: int, digest: bytes, sender_auth_key: bytes, recipient_auth_keys: Sequence[bytes]
    ) -> RegisteredChunk:
        """Register a chunk to be uploaded; durable before it returns.

        Raises :class:`StoreQuotaExceeded` if its size would pass the quota, and
        ``ValueError`` for a size that is not a chunk size or a bad key count.
        """
        if size not in CHUNK_SIZES or len(digest) != 32:
            raise ValueError("a chunk has one of the chunk sizes and a 32-byte digest")
        if not 1 <= len(recipient_auth_keys) <= MAX_RECIPIENTS:
            raise ValueError(f"a chunk has 1..{MAX_RECIPIENTS} recipients")
        if self.used_bytes + size > self._quota:
            raise StoreQuotaExceeded("the relay's file storage is full; retry later")
        expires = _round_up_to_hour(self._clock() + self._retention)
        name = f"{expires:010d}-{self._rng.random_bytes(BODY_NAME_SIZE).hex()}"
        sender_id = self._rng.random_bytes(CHUNK_ID_SIZE)
        recipient_ids = tuple(self._rng.random_bytes(CHUNK_ID_SIZE) for _ in recipient_auth_keys)
        sender = EntryFields(name, sender_auth_key, digest, len(recipient_ids))
        rows = [self._row(sender_id, EntryRole.SENDER, sender, size, expires)]
        rows += self._recipient_rows(name, recipient_ids, recipient_auth_keys, expires)
        rows.sort()  # insertion order must not pair a sender with its recipients
        with self._transaction():
            self._db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?)", rows)
        self.used_bytes += size
        return RegisteredChunk(sender_id, recipient_ids)

    def add_recipients(
        self, sender_id: bytes, recipient_auth_keys: Sequence[bytes]
    ) -> tuple[bytes, ...]:
        """Give a registered chunk more recipient ids (one per key); durable on return.

        A chunk has at most ``MAX_RECIPIENTS`` in all (:class:`StoreQuotaExceeded`).
        """
        found = self._entry(sender_id, EntryRole.SENDER)
        total = found.fields.recipients + len(recipient_auth_keys)
        if not recipient_auth_keys or total > MAX_RECIPIENTS:
            raise StoreQuotaExceeded(f"a chunk has at most {MAX_RECIPIENTS} recipients")
        name = found.fields.body_name
        recipient_ids = tuple(self._rng.random_bytes(CHUNK_ID_SIZE) for _ in recipient_auth_keys)
        sender = replace(found.fields, recipients=total)
        rows = self._recipient_rows(name, recipient_ids, recipient_auth_keys, found.expires)
        rows.sort()
        with self._transaction():
            self._db.execute(
                "UPDATE entries SET sealed = ? WHERE lookup = ?",
                (seal_entry(sender_id, EntryRole.SENDER, sender, self._rng), lookup_key(sender_id)),
            )
            self._db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?)", rows)
        return recipient_ids

    def _recipient_rows(
        self, name: str, ids: Sequence[bytes], keys: Sequence[bytes], expires: int
    ) -> list[tuple[bytes, int, int, int, bytes]]:
        return [
            self._row(rid, EntryRole.RECIPIENT, EntryFields(name, key), 0, expires)
            for rid, key in zip(ids, keys, strict=True)
        ]

    def _row(
        self, entity_id: bytes, role: EntryRole, fields: EntryFields, size: int, expires: int
    ) -> tuple[bytes, int, int, int, bytes]:
        sealed = seal_entry(entity_id, role, fields, self._rng)
        return (lookup_key(entity_id), role, size, expires, sealed)

    def _entry(self, entity_id: bytes, role: EntryRole) -> _FoundEntry:
        row = self._db.execute(
            "SELECT sealed, size, expires FROM entries WHERE lookup = ? AND role = ?",
            (lookup_key(entity_id), role),
        ).fetchone()
        if row is None or row[2] <= self._clock():
            raise ChunkNotFound("no such chunk (it may have expired or been deleted)")
        return _FoundEntry(open_entry(entity_id, role, row[0]), row[1], row[2])

    def sender_auth_key(self, sender_id: bytes) -> bytes:
        """The key that authorises commands on this sender id."""
        return self._entry(sender_id, EntryRole.SENDER).fields.auth_key

    def recipient_auth_key(self, recipient_id: bytes) -> bytes:
        """The key that authorises commands on this recipient id."""
        return self._entry(recipient_id, EntryRole.RECIPIENT).fields.auth_key

    # -- bodies ---------------------------------------------------------------------------

    def begin_put(self, sender_id: bytes) -> BodyUpload | None:
        """Start receiving a chunk's body; ``None`` if it is stored already (a retry
        after a lost answer, to be answered ``OK`` at once)."""
        found = self._entry(sender_id, EntryRole.SENDER)
        fields, size = found.fields, found.size
        final = self._bodies / fields.body_name
        if final.exists():
            return None
        temp = self._bodies / f"{fields.body_name}.{self._rng.random_bytes(8).hex()}.part"
        return BodyUpload(temp, final, BodyHeader(_expiry_of(final), size, fields.digest))

    def put(self, sender_id: bytes, pieces: Iterable[bytes]) -> None:
        """Store a chunk's body streamed in ``pieces``; durable before it returns.

        The body must have the registered size and digest (:class:`UploadMismatch`
        otherwise). A body stored already is left as it is and ``pieces`` is not
        read. A full disk raises :class:`DiskFull`; nothing is kept, and the upload
        may be retried once space is freed.
        """
        upload = self.begin_put(sender_id)
        if upload is None:
            return
        for piece in pieces:
            upload.write(piece)
        upload.finish()

    def read(self, recipient_id: bytes) -> Iterator[bytes]:
        """Stream a stored body in pieces; :class:`ChunkNotFound` if it is not there.

        The digest is checked as the body streams; a body damaged on disk raises
        :class:`ChunkCorrupted` at the end (and is removed), so it is never served
        as good. Recipients check the digest too.
        """
        path = self._bodies / self._entry(recipient_id, EntryRole.RECIPIENT).fields.body_name
        try:
            handle = path.open("rb")
        except FileNotFoundError as exc:
            raise ChunkNotFound("the chunk was not uploaded yet, or was deleted") from exc
        return self._stream(path, handle)

    def _stream(self, path: Path, handle: BinaryIO) -> Iterator[bytes]:
        with closing(handle):
            header = decode_body_header(handle.read(BODY_HEADER_SIZE))
            hasher = hashlib.sha256()
            remaining = header.size
            while remaining:
                piece = handle.read(min(_PIECE, remaining))
                if not piece:
                    break
                hasher.update(piece)
                remaining -= len(piece)
                yield piece
        if remaining or not constant_time_equal(hasher.digest(), header.digest):
            path.unlink(missing_ok=True)
            raise ChunkCorrupted("a stored chunk was damaged on disk and has been removed")

    # -- deletion and expiry --------------------------------------------------------------

    def acknowledge(self, recipient_id: bytes) -> None:
        """The recipient has the chunk: forget its id (the body stays for the others)."""
        self._entry(recipient_id, EntryRole.RECIPIENT)
        with self._transaction():
            self._db.execute("DELETE FROM entries WHERE lookup = ?", (lookup_key(recipient_id),))

    def delete(self, sender_id: bytes) -> None:
        """The sender withdraws the chunk: remove its body and its sender entry.

        Recipient entries cannot be found from the sender's (nothing links them);
        they answer :class:`ChunkNotFound` from now on and expire with the chunk.
        """
        found = self._entry(sender_id, EntryRole.SENDER)
        (self._bodies / found.fields.body_name).unlink(missing_ok=True)
        fsync_dir(self._bodies)
        with self._transaction():
            self._db.execute("DELETE FROM entries WHERE lookup = ?", (lookup_key(sender_id),))
        self.used_bytes -= found.size

    def expire(self) -> int:
        """Remove every entry and body past its expiry; returns how many bodies went."""
        now = int(self._clock())
        with self._transaction():
            self._db.execute("DELETE FROM entries WHERE expires <= ?", (now,))
        self.used_bytes = self._db.execute(
            "SELECT COALESCE(SUM(size), 0) FROM entries WHERE role = ?", (EntryRole.SENDER,)
        ).fetchone()[0]
        removed = 0
        for path in self._bodies.iterdir():
            if _expiry_of(path) <= now:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` if the block raised)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def _body_is_whole(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            header = decode_body_header(handle.read(BODY_HEADER_SIZE))
    except (ChunkCorrupted, OSError):
        return False
    return (
        header.expires == _expiry_of(path) and path.stat().st_size == BODY_HEADER_SIZE + header.size
    )


def _expiry_of(path: Path) -> int:
    """A body's expiry, from its name; a name the store never makes counts as expired."""
    prefix = path.name.split("-", 1)[0]
    return int(prefix) if prefix.isdigit() else 0


def _round_up_to_hour(seconds: float) -> int:
    return -(-int(seconds) // _HOUR) * _HOUR
