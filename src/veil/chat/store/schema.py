"""The store's schema as an ordered list of migrations, and the runner that applies them.

The database's ``PRAGMA user_version`` is the number of the last migration applied.
Opening a store runs every later migration, each in its own transaction together with
the version bump, so a crash mid-upgrade leaves the previous version intact. A store
whose version is newer than this code knows is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from veil.chat.errors import StoreTooNew
from veil.chat.store.files import FILES_MIGRATION_STATEMENTS

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "migrate", "schema_version"]


@dataclass(frozen=True, slots=True)
class Migration:
    """The statements that take the schema from ``version - 1`` to ``version``."""

    version: int
    statements: tuple[str, ...]


_V1 = Migration(
    1,
    (
        """CREATE TABLE own_profile (
            singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
            display_name TEXT NOT NULL,
            full_name TEXT,
            bio TEXT,
            keys BLOB NOT NULL,
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE relays (
            address TEXT PRIMARY KEY,
            added_at REAL NOT NULL
        )""",
        """CREATE TABLE contacts (
            contact_id INTEGER PRIMARY KEY,
            alias TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            full_name TEXT,
            bio TEXT,
            verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
            status TEXT NOT NULL,
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE connections (
            connection_id INTEGER PRIMARY KEY,
            contact_id INTEGER REFERENCES contacts (contact_id) ON DELETE CASCADE,
            phase TEXT NOT NULL,
            agent_version INTEGER NOT NULL,
            receive_queue_id BLOB NOT NULL UNIQUE,
            ratchet_state BLOB,
            queue_state BLOB NOT NULL,
            envelope_state BLOB NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE messages (
            row_id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL REFERENCES contacts (contact_id) ON DELETE CASCADE,
            message_id BLOB NOT NULL,
            direction TEXT NOT NULL CHECK (direction IN ('sent', 'received')),
            sequence INTEGER NOT NULL,
            text TEXT,
            reply_to BLOB,
            edited INTEGER NOT NULL DEFAULT 0 CHECK (edited IN (0, 1)),
            deletion TEXT NOT NULL DEFAULT 'none',
            receipt TEXT NOT NULL,
            integrity TEXT NOT NULL DEFAULT 'ok',
            sent_at REAL NOT NULL,
            received_at REAL,
            UNIQUE (contact_id, direction, message_id)
        )""",
        "CREATE INDEX messages_by_contact ON messages (contact_id, row_id)",
        """CREATE TABLE reactions (
            message_row INTEGER NOT NULL REFERENCES messages (row_id) ON DELETE CASCADE,
            direction TEXT NOT NULL CHECK (direction IN ('sent', 'received')),
            emoji TEXT NOT NULL,
            PRIMARY KEY (message_row, direction, emoji)
        )""",
        """CREATE TABLE pending_sends (
            send_id INTEGER PRIMARY KEY,
            connection_id INTEGER NOT NULL
                REFERENCES connections (connection_id) ON DELETE CASCADE,
            body BLOB NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX pending_sends_due ON pending_sends (next_attempt_at)",
        """CREATE TABLE contact_requests (
            request_id INTEGER PRIMARY KEY,
            display_name TEXT NOT NULL,
            full_name TEXT,
            bio TEXT,
            invitation BLOB NOT NULL,
            status TEXT NOT NULL,
            received_at REAL NOT NULL
        )""",
        """CREATE TABLE contact_address (
            singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
            link TEXT NOT NULL,
            receive_queue_id BLOB NOT NULL UNIQUE,
            queue_state BLOB NOT NULL,
            created_at REAL NOT NULL
        )""",
    ),
)

_FILES = Migration(2, FILES_MIGRATION_STATEMENTS)
"""File transfers and their settings (``veil send-file``, ``veil files``)."""

#: The event log an API client resumes from (``veil serve``; see chat/store/events.py).
_EVENTS = Migration(
    3,
    (
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            contact TEXT,
            text TEXT NOT NULL,
            row_id INTEGER,
            integrity TEXT NOT NULL,
            request_id INTEGER,
            at REAL NOT NULL
        )""",
    ),
)

#: Groups: MLS state, messages in log order, invitations and joins (veil.chat.groups).
_GROUPS = Migration(
    4,
    (
        """CREATE TABLE groups (
            group_id BLOB PRIMARY KEY,
            alias TEXT UNIQUE,
            state BLOB NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE group_messages (
            group_id BLOB NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            message_id BLOB NOT NULL,
            sender BLOB NOT NULL,
            own INTEGER NOT NULL CHECK (own IN (0, 1)),
            text TEXT NOT NULL,
            sent_at_ms INTEGER NOT NULL,
            reply_to BLOB,
            edited INTEGER NOT NULL DEFAULT 0 CHECK (edited IN (0, 1)),
            deleted_by BLOB,
            PRIMARY KEY (group_id, message_id)
        )""",
        "CREATE INDEX group_messages_by_seq ON group_messages (group_id, seq)",
        """CREATE TABLE group_reactions (
            group_id BLOB NOT NULL,
            message_id BLOB NOT NULL,
            sender BLOB NOT NULL,
            emoji TEXT NOT NULL,
            PRIMARY KEY (group_id, message_id, sender),
            FOREIGN KEY (group_id, message_id)
                REFERENCES group_messages (group_id, message_id) ON DELETE CASCADE
        )""",
        """CREATE TABLE group_invites (
            ticket BLOB PRIMARY KEY,
            group_id BLOB NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
            role INTEGER NOT NULL,
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE group_joins (
            contact_id INTEGER PRIMARY KEY REFERENCES contacts (contact_id) ON DELETE CASCADE,
            ticket BLOB NOT NULL,
            alias TEXT NOT NULL,
            request BLOB NOT NULL,
            secret BLOB NOT NULL,
            sent INTEGER NOT NULL DEFAULT 0 CHECK (sent IN (0, 1)),
            bundle BLOB,
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE group_member_contacts (
            group_id BLOB NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
            handle BLOB NOT NULL,
            contact_id INTEGER NOT NULL REFERENCES contacts (contact_id) ON DELETE CASCADE,
            PRIMARY KEY (group_id, handle)
        )""",
        """CREATE TABLE group_admissions (
            contact_id INTEGER NOT NULL REFERENCES contacts (contact_id) ON DELETE CASCADE,
            ticket BLOB NOT NULL,
            request BLOB NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (contact_id, ticket)
        )""",
    ),
)

#: Group happenings in the event log: the group's alias and the member it is about.
_GROUP_EVENTS = Migration(
    5,
    (
        "ALTER TABLE events ADD COLUMN group_alias TEXT",
        "ALTER TABLE events ADD COLUMN sender TEXT",
    ),
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _FILES, _EVENTS, _GROUPS, _GROUP_EVENTS)
SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(database: Any) -> int:
    """Return the schema version recorded in ``database`` (0 for a fresh file)."""
    return int(database.execute("PRAGMA user_version").fetchone()[0])


def migrate(database: Any, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring ``database`` (an autocommit SQLCipher connection) up to the last migration.

    Returns the resulting version. Raises :class:`StoreTooNew` if the database is
    ahead of ``migrations``; a failing migration rolls back and re-raises.
    """
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ValueError(f"migrations must be numbered 1, 2, ...; got {migration.version}")
    current = schema_version(database)
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise StoreTooNew(f"store schema v{current} is newer than this Veil (v{latest})")
    for migration in migrations[current:]:
        _apply(database, migration)
    return latest


def _apply(database: Any, migration: Migration) -> None:
    database.execute("BEGIN IMMEDIATE")
    try:
        for statement in migration.statements:
            database.execute(statement)
        # PRAGMA does not take bound parameters; the version is an int we control.
        database.execute(f"PRAGMA user_version = {int(migration.version)}")
    except BaseException:
        database.execute("ROLLBACK")
        raise
    database.execute("COMMIT")
