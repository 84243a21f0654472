"""The encrypted client store: opening, creating and transactions.

The database is an SQLCipher file keyed with a raw 256-bit key that Argon2id derives
from the user's passphrase (see :mod:`veil.chat.store.header`); handing SQLCipher the
raw key skips its own, weaker PBKDF2 step. Everything goes through
:meth:`ChatStore.transaction`, so the agent can commit a received message, the
ratchet state and the queue state together or not at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlcipher3 import dbapi2 as sqlcipher

from veil.chat.errors import StoreError, StoreExists, StoreNotFound, StoreTooNew, WrongPassphrase
from veil.chat.store import snapshot
from veil.chat.store.conversations import (
    ConnectionRepository,
    MessageRepository,
    OutboxRepository,
)
from veil.chat.store.events import EventRepository
from veil.chat.store.files import FileTransferRepository
from veil.chat.store.groups import GroupMessageRepository, GroupRepository
from veil.chat.store.header import KdfParams, StoreHeader
from veil.chat.store.people import (
    AddressRepository,
    ContactRepository,
    OwnProfileRepository,
    RelayRepository,
    RequestRepository,
)
from veil.chat.store.schema import MIGRATIONS, migrate
from veil.chat.store.snapshot import StoreSnapshot
from veil.crypto import RandomSource, SystemRandom

__all__ = ["HEADER_SUFFIX", "ChatStore", "Transaction", "header_path"]

HEADER_SUFFIX = ".header"
_PRIVATE_FILE = 0o600

# Applied to every connection after the key. WAL + FULL: a commit that returned is on
# disk, so a message is acknowledged to the relay only once it survives a power cut.
# Temporary tables and indices stay in memory so no plaintext spills into temp files.
_SESSION_PRAGMAS = (
    "PRAGMA foreign_keys = ON",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA temp_store = MEMORY",
)


def header_path(database_path: Path) -> Path:
    """Where the plaintext KDF header of the database at ``database_path`` lives."""
    return database_path.with_name(database_path.name + HEADER_SUFFIX)


@dataclass(frozen=True, slots=True)
class Transaction:
    """The repositories, bound to one open transaction. Valid only inside its ``with``."""

    profile: OwnProfileRepository
    relays: RelayRepository
    contacts: ContactRepository
    connections: ConnectionRepository
    messages: MessageRepository
    outbox: OutboxRepository
    requests: RequestRepository
    address: AddressRepository
    files: FileTransferRepository
    events: EventRepository
    groups: GroupRepository
    group_messages: GroupMessageRepository

    @classmethod
    def bind(cls, database: Any) -> Transaction:
        """Bind every repository to ``database``."""
        return cls(
            OwnProfileRepository(database),
            RelayRepository(database),
            ContactRepository(database),
            ConnectionRepository(database),
            MessageRepository(database),
            OutboxRepository(database),
            RequestRepository(database),
            AddressRepository(database),
            FileTransferRepository(database),
            EventRepository(database),
            GroupRepository(database),
            GroupMessageRepository(database),
        )


class ChatStore:
    """One user's encrypted database. Use :meth:`create` or :meth:`open`, then
    :meth:`transaction`; :meth:`close` (or ``with``) when done.

    Not thread-safe: one store object belongs to one thread (the agent's event loop).
    """

    __slots__ = ("_database", "_in_transaction", "path")

    def __init__(self, path: Path, database: Any) -> None:
        self.path = path
        self._database = database
        self._in_transaction = False

    @classmethod
    def create(
        cls,
        path: Path,
        passphrase: str,
        *,
        kdf: KdfParams | None = None,
        rng: RandomSource | None = None,
        schema_version: int | None = None,
    ) -> ChatStore:
        """Create a new store at ``path`` (and its header); :class:`StoreExists` if present.

        ``schema_version`` stops the migrations there (a restore loads older rows)."""
        if path.exists() or header_path(path).exists():
            raise StoreExists(f"a store already exists at {path}")
        header = StoreHeader.generate(rng or SystemRandom(), kdf or KdfParams())
        _write_atomically(header_path(path), header.to_bytes())
        try:
            # Owner-only from the first byte; SQLite gives its -wal and -shm files
            # the database file's mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE))
            return cls._connect(path, header.derive_key(passphrase), schema_version)
        except BaseException:
            # Leave nothing half-made behind, so the user can simply try again.
            header_path(path).unlink(missing_ok=True)
            path.unlink(missing_ok=True)
            raise

    @classmethod
    def open(cls, path: Path, passphrase: str) -> ChatStore:
        """Open an existing store; :class:`WrongPassphrase` if the passphrase is wrong."""
        if not path.exists() or not header_path(path).exists():
            raise StoreNotFound(f"no store at {path}")
        header = StoreHeader.from_bytes(header_path(path).read_bytes())
        return cls._connect(path, header.derive_key(passphrase))

    @classmethod
    def _connect(cls, path: Path, key: bytes, schema_version: int | None = None) -> ChatStore:
        database = open_keyed(path, key)
        try:
            if schema_version is None:
                migrate(database)
            elif schema_version > len(MIGRATIONS):
                raise StoreTooNew(f"the backup's schema v{schema_version} is newer than this Veil")
            else:
                migrate(database, MIGRATIONS[:schema_version])
        except BaseException:
            database.close()
            raise
        return cls(path, database)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Run a block atomically: it commits if the block returns, rolls back if it raises.

        The write lock is taken up front (``BEGIN IMMEDIATE``) so a transaction never
        fails half-way for lack of it. Transactions do not nest.
        """
        if self._in_transaction:
            raise RuntimeError("store transactions do not nest")
        self._in_transaction = True
        try:
            self._write("BEGIN IMMEDIATE")
            try:
                yield Transaction.bind(self._database)
            except BaseException:
                self._database.execute("ROLLBACK")
                raise
            try:
                self._write("COMMIT")
            except StoreError:
                if self._database.in_transaction:
                    self._database.execute("ROLLBACK")
                raise
        finally:
            self._in_transaction = False

    def _write(self, statement: str) -> None:
        """Run BEGIN or COMMIT; a failure of this machine (a full disk, a locked or
        read-only file) is a :class:`StoreError`, which says what to check."""
        try:
            self._database.execute(statement)
        except sqlcipher.OperationalError as exc:
            raise StoreError(
                f"the store could not be written ({exc}): check free disk space and that "
                "no other program holds the profile's database"
            ) from exc

    def snapshot(self) -> StoreSnapshot:
        """Every row of every table, read consistently (for a backup)."""
        if self._in_transaction:
            raise RuntimeError("take a snapshot outside a transaction")
        return snapshot.dump(self._database)

    @classmethod
    def restore(
        cls, path: Path, passphrase: str, saved: StoreSnapshot, *, kdf: KdfParams | None = None
    ) -> ChatStore:
        """Create a new store at ``path`` holding ``saved``'s rows, migrated to the
        current schema; :class:`StoreTooNew` if a newer Veil took the snapshot."""
        store = cls.create(path, passphrase, kdf=kdf, schema_version=saved.schema_version)
        try:
            snapshot.load(store._database, saved)
            migrate(store._database)
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        """Close the database; the store object is unusable afterwards."""
        self._database.close()

    def __enter__(self) -> ChatStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_keyed(path: Path, key: bytes) -> Any:
    """Open an SQLCipher connection at ``path`` with the raw ``key``, in autocommit mode.

    Raises :class:`WrongPassphrase` if the key does not decrypt the file. Exposed for
    the migration tests, which build old-format stores by hand.
    """
    database = sqlcipher.connect(str(path), isolation_level=None)
    try:
        # SQLCipher logs every failed page HMAC to stderr; a wrong passphrase is an
        # expected, typed error here, not noise on the user's terminal.
        database.execute("PRAGMA cipher_log_level = NONE")
        # PRAGMA takes no bound parameters; the key is hex we produced ourselves.
        database.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        database.execute("SELECT count(*) FROM sqlite_master").fetchone()
        for pragma in _SESSION_PRAGMAS:
            database.execute(pragma)
    except sqlcipher.DatabaseError as exc:
        database.close()
        raise WrongPassphrase("wrong passphrase, or the store is damaged") from exc
    except BaseException:
        database.close()
        raise
    return database


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a crash leaves either nothing or the whole file."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        temporary.rename(path)
    except FileExistsError as exc:
        raise StoreError(f"another process is creating a store at {path}") from exc
