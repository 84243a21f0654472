"""The store's migration runner, against a pinned v1 store built from ``store_v1.sql``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from veil.chat.errors import StoreTooNew
from veil.chat.store import (
    SCHEMA_VERSION,
    ChatStore,
    ContactStatus,
    Direction,
    KdfParams,
    Reaction,
    Receipt,
    StoreHeader,
    header_path,
)
from veil.chat.store.database import open_keyed
from veil.chat.store.schema import MIGRATIONS, Migration, migrate, schema_version
from veil.crypto import DeterministicRandom

PASSPHRASE = "pinned"
PINNED_V1 = Path(__file__).with_name("store_v1.sql")


def pinned_v1_store(tmp_path: Path) -> tuple[Path, bytes]:
    """Write the v1 fixture as an encrypted store, the way v1 code left it on disk."""
    path = tmp_path / "veil.db"
    header = StoreHeader.generate(DeterministicRandom(b"v1"), KdfParams(1, 1, 8))
    header_path(path).write_bytes(header.to_bytes())
    key = header.derive_key(PASSPHRASE)
    database = open_keyed(path, key)
    database.executescript(PINNED_V1.read_text())
    database.close()
    return path, key


def schema_of(database: Any) -> list[tuple[str, str, list[tuple[Any, ...]]]]:
    objects = database.execute(
        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    return [
        (kind, name, database.execute(f"PRAGMA index_xinfo({name})").fetchall())
        if kind == "index"
        else (kind, name, database.execute(f"PRAGMA table_xinfo({name})").fetchall())
        for kind, name in objects
    ]


def test_migration_one_creates_exactly_the_pinned_v1_schema(tmp_path: Path) -> None:
    path, key = pinned_v1_store(tmp_path)
    header = StoreHeader.generate(DeterministicRandom(b"fresh"), KdfParams(1, 1, 8))
    fresh_db = open_keyed(tmp_path / "fresh.db", header.derive_key(PASSPHRASE))
    migrate(fresh_db, MIGRATIONS[:1])
    pinned_db = open_keyed(path, key)
    assert schema_version(fresh_db) == schema_version(pinned_db) == 1
    assert schema_of(fresh_db) == schema_of(pinned_db)


def test_a_pinned_v1_store_opens_and_reads_back(tmp_path: Path) -> None:
    path, _ = pinned_v1_store(tmp_path)
    with ChatStore.open(path, PASSPHRASE) as store, store.transaction() as tx:
        assert tx.profile.get().profile.bio == "v1 bio"
        assert tx.relays.list() == ["veil://relay-one"]
        bob = tx.contacts.find("Bob")
        assert (bob.verified, bob.status) == (True, ContactStatus.CONNECTED)
        connection = tx.connections.by_receive_queue(b"qqq")
        assert (connection.ratchet_state, connection.envelope_state) == (b"ra", b"tr")
        (message,) = tx.messages.history(bob.contact_id)
        assert (message.text, message.direction, message.receipt, message.edited) == (
            "hello from v1",
            Direction.RECEIVED,
            Receipt.READ,
            True,
        )
        assert message.reactions == (Reaction(Direction.SENT, "❤"),)
        assert tx.outbox.due(now=110.0)[0].attempts == 2
        assert tx.requests.list()[0].invitation == b"inv"
        address = tx.address.get()
        assert address is not None and address.receive_queue_id == b"add"


def test_runner_applies_later_migrations_in_one_transaction_each(tmp_path: Path) -> None:
    path, key = pinned_v1_store(tmp_path)
    database = open_keyed(path, key)
    later = Migration(SCHEMA_VERSION + 1, ("ALTER TABLE contacts ADD COLUMN nickname TEXT",))
    assert migrate(database, (*MIGRATIONS, later)) == SCHEMA_VERSION + 1
    assert schema_version(database) == SCHEMA_VERSION + 1
    assert database.execute("SELECT nickname FROM contacts").fetchall() == [(None,)]
    database.close()
    with pytest.raises(StoreTooNew, match=f"v{SCHEMA_VERSION + 1}"):
        ChatStore.open(path, PASSPHRASE)


def test_a_failing_migration_leaves_the_previous_version_intact(tmp_path: Path) -> None:
    path, key = pinned_v1_store(tmp_path)
    database = open_keyed(path, key)
    broken = Migration(SCHEMA_VERSION + 1, ("CREATE TABLE half_done (x)", "THIS IS NOT SQL"))
    with pytest.raises(Exception, match="syntax"):
        migrate(database, (*MIGRATIONS, broken))
    assert schema_version(database) == SCHEMA_VERSION
    tables = database.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'")
    assert tables.fetchall() == []
    database.close()
    ChatStore.open(path, PASSPHRASE).close()


def test_migrations_must_be_numbered_in_order(tmp_path: Path) -> None:
    path, key = pinned_v1_store(tmp_path)
    database = open_keyed(path, key)
    with pytest.raises(ValueError, match="numbered"):
        migrate(database, (*MIGRATIONS, Migration(SCHEMA_VERSION + 2, ())))
    assert len(MIGRATIONS) == SCHEMA_VERSION
    database.close()
