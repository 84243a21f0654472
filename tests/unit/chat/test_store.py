"""The encrypted client store: keys, atomic transactions, repositories, nothing at rest."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from veil.chat.errors import (
    CorruptStoreHeader,
    DuplicateRecord,
    RecordNotFound,
    StoreError,
    StoreExists,
    StoreNotFound,
    StoreTooNew,
    WrongPassphrase,
)
from veil.chat.profile import Profile
from veil.chat.store import (
    ChatStore,
    ContactStatus,
    Deletion,
    Direction,
    KdfParams,
    Reaction,
    Receipt,
    RequestStatus,
    StoreHeader,
    header_path,
)
from veil.crypto import DeterministicRandom
from veil.errors import LocalError

FAST_KDF = KdfParams(iterations=1, lanes=1, memory_kib=8)
PASSPHRASE = "correct horse battery staple"
MARKER = "MARKER-7f3a9c-the-quick-brown-fox"
ALICE = Profile("AliceWonderful", full_name="Alice Liddell-Wonderful", bio="curiouser")
BOB = Profile("BobTheBuilder")


def new_store(tmp_path: Path) -> ChatStore:
    return ChatStore.create(tmp_path / "veil.db", PASSPHRASE, kdf=FAST_KDF)


def connect_bob(store: ChatStore, now: float = 1.0) -> tuple[int, int]:
    with store.transaction() as tx:
        contact = tx.contacts.add(BOB, ContactStatus.CONNECTED, now)
        connection = tx.connections.add(
            phase="connected",
            agent_version=1,
            receive_queue_id=b"q" * 24,
            queue_state=b"queues-v1",
            envelope_state=b"tracker-v1",
            ratchet_state=b"ratchet-v1",
            now=now,
        )
        assert tx.connections.contact_of(connection.connection_id) is None
        tx.connections.set_contact(connection.connection_id, contact.contact_id)
        assert tx.connections.contact_of(connection.connection_id) == contact.contact_id
        assert tx.connections.for_contact(contact.contact_id) == [connection.connection_id]
    return contact.contact_id, connection.connection_id


def test_create_open_and_passphrase_errors(tmp_path: Path) -> None:
    path = tmp_path / "veil.db"
    with ChatStore.create(path, PASSPHRASE, kdf=FAST_KDF) as store, store.transaction() as tx:
        tx.profile.create(ALICE, b"own-keys", now=5.0)
    with ChatStore.open(path, PASSPHRASE) as store, store.transaction() as tx:
        assert tx.profile.get().profile == ALICE
    with pytest.raises(WrongPassphrase):
        ChatStore.open(path, PASSPHRASE + "!")
    with pytest.raises(StoreExists):
        ChatStore.create(path, PASSPHRASE, kdf=FAST_KDF)
    with pytest.raises(StoreNotFound):
        ChatStore.open(tmp_path / "elsewhere.db", PASSPHRASE)


def test_passphrase_is_unicode_normalised(tmp_path: Path) -> None:
    path = tmp_path / "veil.db"
    ChatStore.create(path, "caf\u00e9", kdf=FAST_KDF).close()
    ChatStore.open(path, "cafe\u0301").close()  # the same text, decomposed


def test_header_round_trip_and_strict_parsing() -> None:
    header = StoreHeader.generate(DeterministicRandom(b"salt"), FAST_KDF)
    data = header.to_bytes()
    assert StoreHeader.from_bytes(data) == header
    assert b'"version": 1' in data and b"argon2id" in data
    for broken, error in [
        (b"{", CorruptStoreHeader),
        (data.replace(b'"version": 1', b'"version": 2'), StoreTooNew),
        (data.replace(b'"lanes": 1', b'"lanes": true'), CorruptStoreHeader),
        (data.replace(b'"lanes": 1', b'"lanes": 0'), CorruptStoreHeader),
        (data.replace(b"argon2id", b"pbkdf2"), CorruptStoreHeader),
        (data.replace(b'"salt"', b'"pepper"'), CorruptStoreHeader),
        (data[:-3] + b', "extra": 1}', CorruptStoreHeader),
        (b" " * 5000, CorruptStoreHeader),
    ]:
        with pytest.raises(error):
            StoreHeader.from_bytes(broken)


def test_damaged_header_on_disk_is_reported(tmp_path: Path) -> None:
    new_store(tmp_path).close()
    header_path(tmp_path / "veil.db").write_text("not json")
    with pytest.raises(CorruptStoreHeader):
        ChatStore.open(tmp_path / "veil.db", PASSPHRASE)


def test_message_ratchet_and_queue_state_commit_together(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    contact_id, connection_id = connect_bob(store)
    with store.transaction() as tx:
        connection = tx.connections.get(connection_id)
        tx.messages.add(
            contact_id=contact_id,
            message_id=b"m" * 16,
            direction=Direction.RECEIVED,
            sequence=1,
            text="first",
            sent_at=2.0,
            received_at=3.0,
            receipt=Receipt.DELIVERED,
        )
        tx.connections.save(replace(connection, ratchet_state=b"ratchet-v2", updated_at=3.0))
    with pytest.raises(RuntimeError, match="crash"), store.transaction() as tx:
        tx.messages.add(
            contact_id=contact_id,
            message_id=b"n" * 16,
            direction=Direction.RECEIVED,
            sequence=2,
            text="second",
            sent_at=4.0,
            receipt=Receipt.DELIVERED,
        )
        tx.connections.save(
            replace(connection, ratchet_state=b"ratchet-v3", queue_state=b"queues-v2")
        )
        tx.outbox.enqueue(connection_id, b"receipt ciphertext", now=4.0)
        raise RuntimeError("crash between the writes and the commit")
    with store.transaction() as tx:
        assert [m.text for m in tx.messages.history(contact_id)] == ["first"]
        after = tx.connections.get(connection_id)
        assert (after.ratchet_state, after.queue_state) == (b"ratchet-v2", b"queues-v1")
        assert tx.outbox.for_connection(connection_id) == []


def test_transactions_do_not_nest(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    with pytest.raises(RuntimeError, match="nest"), store.transaction(), store.transaction():
        pass
    with store.transaction() as tx:  # the store is usable again afterwards
        assert tx.contacts.list() == []


class _DiskFullOnCommit:
    """The store's database connection, except that COMMIT fails as on a full disk."""

    def __init__(self, database: Any) -> None:
        self._database = database
        self.in_transaction = False

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> Any:
        if sql == "COMMIT":
            self.in_transaction = True
            raise sqlcipher.OperationalError("database or disk is full")
        if sql == "ROLLBACK":
            self.in_transaction = False
        return self._database.execute(sql, params)


def test_a_failed_commit_is_a_local_store_error_and_keeps_nothing(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    database = store._database
    store._database = _DiskFullOnCommit(database)
    with pytest.raises(StoreError, match="disk space") as raised, store.transaction() as tx:
        tx.contacts.add(BOB, ContactStatus.CONNECTED, 1.0)
    assert isinstance(raised.value, LocalError)
    store._database = database
    with store.transaction() as tx:
        assert tx.contacts.list() == []


def test_nothing_readable_at_rest_without_the_passphrase(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    with store.transaction() as tx:
        tx.profile.create(ALICE, b"own-keys", now=1.0)
    contact_id, _ = connect_bob(store)
    with store.transaction() as tx:
        for sequence in range(1, 50):
            tx.messages.add(
                contact_id=contact_id,
                message_id=sequence.to_bytes(16, "big"),
                direction=Direction.SENT,
                sequence=sequence,
                text=f"{MARKER} number {sequence}",
                sent_at=float(sequence),
                receipt=Receipt.SENT,
            )
    needles = [MARKER, ALICE.display_name, ALICE.full_name or "", BOB.display_name]

    def leaked() -> list[str]:
        blobs = [path.read_bytes() for path in tmp_path.iterdir() if path.is_file()]
        return [n for n in needles for blob in blobs if n.encode() in blob]

    assert leaked() == []  # while open, with the write-ahead log on disk
    store.close()
    assert leaked() == []


def test_contacts_aliases_profiles_and_cascading_delete(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    contact_id, connection_id = connect_bob(store)
    with store.transaction() as tx:
        second = tx.contacts.add(BOB, ContactStatus.CONNECTING, now=2.0)
        assert second.alias == "BobTheBuilder-2"
        tx.contacts.rename(second.contact_id, "Robert")
        tx.contacts.set_verified(contact_id, True)
        tx.contacts.set_status(contact_id, ContactStatus.DESYNCHRONISED)
        tx.contacts.set_profile(contact_id, Profile("Bobby", bio="builds"))
        with pytest.raises(DuplicateRecord):
            tx.contacts.rename(second.contact_id, "BobTheBuilder")
    with store.transaction() as tx:
        bob = tx.contacts.find("BobTheBuilder")
        assert (bob.verified, bob.status, bob.profile.bio) == (
            True,
            ContactStatus.DESYNCHRONISED,
            "builds",
        )
        assert [c.alias for c in tx.contacts.list()] == ["BobTheBuilder", "Robert"]
        tx.outbox.enqueue(connection_id, b"body", now=1.0)
        tx.contacts.delete(contact_id)
        assert tx.connections.for_contact(contact_id) == []
        assert tx.outbox.due(now=10.0) == []
        with pytest.raises(RecordNotFound):
            tx.contacts.find("BobTheBuilder")


def test_connections_are_found_by_receive_queue_and_saved_whole(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    _, connection_id = connect_bob(store)
    with store.transaction() as tx:
        connection = tx.connections.by_receive_queue(b"q" * 24)
        assert connection.connection_id == connection_id
        changed = replace(connection, phase="desynchronised", envelope_state=b"t2", updated_at=9)
        tx.connections.save(changed)
        assert tx.connections.get(connection_id) == changed
        assert tx.connections.list() == [changed]
        with pytest.raises(DuplicateRecord):
            tx.connections.add(
                phase="x",
                agent_version=1,
                receive_queue_id=b"q" * 24,
                queue_state=b"",
                envelope_state=b"",
                now=1.0,
            )
        assert tx.connections.find(connection_id) == changed
        tx.connections.delete(connection_id)
        assert tx.connections.find(connection_id) is None
        with pytest.raises(RecordNotFound):
            tx.connections.by_receive_queue(b"q" * 24)


def test_message_lifecycle_edit_react_receipt_delete(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    contact_id, _ = connect_bob(store)
    with store.transaction() as tx:
        first = tx.messages.add(
            contact_id=contact_id,
            message_id=b"a" * 16,
            direction=Direction.SENT,
            sequence=1,
            text="hello",
            sent_at=1.0,
            receipt=Receipt.PENDING,
        )
        reply = tx.messages.add(
            contact_id=contact_id,
            message_id=b"b" * 16,
            direction=Direction.RECEIVED,
            sequence=1,
            text="hi back",
            reply_to=b"a" * 16,
            sent_at=2.0,
            received_at=2.5,
            receipt=Receipt.DELIVERED,
            integrity="skipped",
        )
        with pytest.raises(DuplicateRecord):
            tx.messages.add(
                contact_id=contact_id,
                message_id=b"a" * 16,
                direction=Direction.SENT,
                sequence=2,
                text="again",
                sent_at=3.0,
                receipt=Receipt.PENDING,
            )
        tx.messages.edit(first.row_id, "hello, world")
        tx.messages.set_receipt(first.row_id, Receipt.READ)
        thumbs = Reaction(Direction.RECEIVED, "👍")
        tx.messages.react(first.row_id, thumbs, added=True)
        tx.messages.react(first.row_id, thumbs, added=True)
        tx.messages.react(first.row_id, Reaction(Direction.SENT, "🎉"), added=True)
        tx.messages.react(first.row_id, Reaction(Direction.SENT, "🎉"), added=False)
        tx.messages.delete(reply.row_id, Deletion.FOR_EVERYONE)
    with store.transaction() as tx:
        stored = tx.messages.find(contact_id, Direction.SENT, b"a" * 16)
        assert (stored.text, stored.edited, stored.receipt) == ("hello, world", True, Receipt.READ)
        assert stored.reactions == (thumbs,)
        gone = tx.messages.get(reply.row_id)
        assert (gone.text, gone.deletion, gone.reply_to) == (
            None,
            Deletion.FOR_EVERYONE,
            b"a" * 16,
        )
        assert gone.integrity == "skipped"
        assert [m.row_id for m in tx.messages.history(contact_id, limit=1)] == [reply.row_id]
        with pytest.raises(ValueError, match="FOR_ME"):
            tx.messages.delete(first.row_id, Deletion.NONE)


def test_outbox_retries_in_order_with_caller_backoff(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    _, connection_id = connect_bob(store)
    with store.transaction() as tx:
        first = tx.outbox.enqueue(connection_id, b"one", now=10.0)
        second = tx.outbox.enqueue(connection_id, b"two", now=10.0)
        assert [p.body for p in tx.outbox.due(now=10.0)] == [b"one", b"two"]
        tx.outbox.retry_later(first.send_id, next_attempt_at=12.0)
        assert tx.outbox.due(now=11.0) == [second]
        tx.outbox.remove(second.send_id)
        (retried,) = tx.outbox.due(now=12.0)
        assert (retried.body, retried.attempts) == (b"one", 1)
        with pytest.raises(RecordNotFound):
            tx.outbox.remove(second.send_id)


def test_requests_address_relays_and_own_profile(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    with store.transaction() as tx:
        tx.profile.create(ALICE, b"keys-v1", now=1.0)
        tx.profile.update_profile(Profile("Al"))
        tx.profile.update_keys(b"keys-v2")
        assert (tx.profile.get().profile, tx.profile.get().keys) == (Profile("Al"), b"keys-v2")
        tx.relays.add("veil://one", now=1.0)
        tx.relays.add("veil://two", now=2.0)
        tx.relays.remove("veil://one")
        assert tx.relays.list() == ["veil://two"]
        address = tx.address.create("veil://contact#AQ", b"r" * 24, b"state", now=3.0)
        with pytest.raises(DuplicateRecord):
            tx.address.create("veil://contact#Ag", b"s" * 24, b"state", now=4.0)
        tx.address.save_queue_state(b"state-2")
        assert tx.address.get() == replace(address, queue_state=b"state-2")
        carol = tx.requests.add(Profile("Carol"), b"invitation-1", now=5.0)
        dave = tx.requests.add(Profile("Dave"), b"invitation-2", now=6.0)
        tx.requests.set_status(dave.request_id, RequestStatus.REJECTED)
        tx.address.delete()
        assert tx.address.get() is None
    with store.transaction() as tx:
        assert tx.requests.list(RequestStatus.PENDING) == [carol]
        assert tx.requests.get(dave.request_id).status is RequestStatus.REJECTED
        assert len(tx.requests.list()) == 2


def test_a_failed_create_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_migrate(database: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr("veil.chat.store.database.migrate", failing_migrate)
    with pytest.raises(OSError, match="disk full"):
        new_store(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == []
    monkeypatch.undo()
    new_store(tmp_path).close()


def test_an_edit_never_brings_deleted_text_back(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    contact_id, _ = connect_bob(store)
    with store.transaction() as tx:
        rows = [
            tx.messages.add(
                contact_id=contact_id,
                message_id=bytes([n]) * 16,
                direction=Direction.RECEIVED,
                sequence=n,
                text=f"secret {n}",
                sent_at=1.0,
                receipt=Receipt.DELIVERED,
            ).row_id
            for n in (1, 2)
        ]
        tx.messages.delete(rows[0], Deletion.FOR_ME)
        tx.messages.delete(rows[1], Deletion.FOR_EVERYONE)
        for row_id in rows:
            with pytest.raises(RecordNotFound, match="deleted"):
                tx.messages.edit(row_id, "back from the dead")
    with store.transaction() as tx:
        assert [tx.messages.get(row_id).text for row_id in rows] == [None, None]


def test_receipts_only_move_forward(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    contact_id, _ = connect_bob(store)
    with store.transaction() as tx:
        row_id = tx.messages.add(
            contact_id=contact_id,
            message_id=b"r" * 16,
            direction=Direction.SENT,
            sequence=1,
            text="read me",
            sent_at=1.0,
            receipt=Receipt.PENDING,
        ).row_id
        seen = []
        for receipt in (Receipt.READ, Receipt.DELIVERED, Receipt.SENT, Receipt.READ):
            tx.messages.set_receipt(row_id, receipt)
            seen.append(tx.messages.get(row_id).receipt)
    assert seen == [Receipt.READ] * 4
