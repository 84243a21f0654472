"""``veil backup`` / ``veil restore`` in one process: the encrypted file, the restore
into a new folder, and the automatic re-keying of every connection afterwards; and
the contact list's protection, stuck connections and contact removal."""

from __future__ import annotations

import contextlib
import stat
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.fake_relay import FakeRelay
from veil.agent.errors import FrameNotOpened
from veil.agent.frames import Frame, FrameKind
from veil.agent.queue_frames import open_queue_frame, queue_key
from veil.agent.queues import QueueState
from veil.chat.app import STORE_FILE, Messenger
from veil.chat.backup import read_backup, restore_into, resume_connections, write_backup
from veil.chat.backup_codec import decode_payload, encode_payload
from veil.chat.conversation import Incoming
from veil.chat.errors import BackupUnreadable, RestoreTargetInUse
from veil.chat.roster import STUCK_AFTER_SECONDS, contact_overview, remove_contact
from veil.chat.store import ContactStatus, KdfParams
from veil.chat.store.snapshot import StoreSnapshot, TableRows
from veil.crypto import SystemRandom
from veil.ratchet.versions import RATCHET_V2

RELAY = "veil://" + "A" * 43 + "@relay.example"
FAST = KdfParams(iterations=1, lanes=1, memory_kib=64)
RNG = SystemRandom()


class User:
    def __init__(self, messenger: Messenger) -> None:
        self.messenger = messenger

    @classmethod
    def create(cls, home: Path, name: str, relay: FakeRelay) -> User:
        store = Messenger.create(home, "pw", name, [RELAY], kdf=FAST)
        return cls(Messenger(store, relays=relay, pq=False))

    async def receive(self) -> list[Incoming]:
        arrived: list[Incoming] = []
        await self.messenger.receive(idle=0.05, on_incoming=arrived.append)
        return arrived

    async def send(self, alias: str, text: str) -> None:
        contact_id = self.messenger.contact(alias).contact_id
        await self.messenger.conversation.send_texts(contact_id, [text])

    def texts(self, alias: str) -> list[str]:
        contact_id = self.messenger.contact(alias).contact_id
        with self.messenger.store.transaction() as tx:
            return [m.text for m in tx.messages.history(contact_id) if m.text is not None]


async def _connected(tmp_path: Path, relay: FakeRelay) -> tuple[User, User]:
    alice = User.create(tmp_path / "alice", "Alice", relay)
    bob = User.create(tmp_path / "bob", "Bob", relay)
    await bob.messenger.connect(await alice.messenger.invite())
    await alice.receive()
    await bob.receive()
    return alice, bob


async def _talk(sender: User, receiver: User, sender_alias: str, text: str) -> None:
    await sender.send(sender_alias, text)
    assert [i.text for i in await receiver.receive() if i.kind == "message"] == [text]


def _queue_keys(bob: User) -> list[bytes]:
    """The keys of both queues of each of ``bob``'s connections (agent version 3)."""
    keys = []
    with bob.messenger.store.transaction() as tx:
        for record in tx.connections.list():
            queues = QueueState.from_bytes(record.queue_state)
            assert queues.send is not None
            for sender_id in (queues.receive.sender_id, queues.send.address.sender_id):
                keys.append(queue_key(queues.frame_secret, sender_id))
    return keys


def _open(body: bytes, keys: list[bytes]) -> Frame:
    for key in keys:
        with contextlib.suppress(FrameNotOpened):
            return open_queue_frame(key, body)
    raise AssertionError("a frame on the wire opened under no queue key")


def _assert_no_body_salt_repeats(relay: FakeRelay, bob: User) -> None:
    """Every ratchet message on the wire is v2, and no two share the sealed header's
    nonce, which salts the body's key and nonce (ratchet.md 3.11): so no (key, nonce)
    pair was used twice, even across the restore."""
    salts, keys = [], _queue_keys(bob)
    for body in {delivery.body for delivery in relay.history}:  # a redelivery is one body
        frame = _open(body, keys)
        if frame.kind is FrameKind.RATCHET_MESSAGE:
            assert frame.body[0] == RATCHET_V2
            salts.append(frame.body[3:15])  # u8 version, u16 header length, then the nonce
    assert len(salts) > 10 and len(set(salts)) == len(salts)


async def test_a_restored_profile_re_keys_every_connection_by_itself(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob = await _connected(tmp_path, relay)
    await _talk(alice, bob, "Bob", "before the backup")
    backup_file = tmp_path / "alice.veilbackup"
    write_backup(alice.messenger.store, "backup pw", backup_file, rng=RNG, now=1.0, kdf=FAST)
    assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600
    for turn in range(2):  # DH turns after the backup, within the repair window
        await _talk(alice, bob, "Bob", f"alice {turn}")
        await _talk(bob, alice, "Alice", f"bob {turn}")
    await alice.messenger.close()  # Alice's machine is wiped
    relay.drop_subscribers()

    saved = read_backup(backup_file, "backup pw")
    home = tmp_path / "new machine" / "alice"
    restore_into(saved, home, "new pw", STORE_FILE, kdf=FAST).close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    store = Messenger.open_store(home, "new pw")
    restored = User(Messenger(store, relays=relay, pq=False))
    assert await resume_connections(restored.messenger) == 1
    assert restored.texts("Bob") == ["before the backup"]

    assert [i.kind for i in await bob.receive()] == ["repaired"]
    arrived = await restored.receive()
    assert arrived[0].kind == "repaired"
    # Bob's messages after the backup reached the wiped machine only: he sends them
    # again (the restore offer said how far the backup had received).
    assert [i.text for i in arrived[1:]] == ["bob 0", "bob 1"]
    assert restored.texts("Bob") == ["before the backup", "bob 0", "bob 1"]
    await _talk(restored, bob, "Bob", "back from the backup")
    await _talk(bob, restored, "Alice", "welcome back")
    assert restored.messenger.contact("Bob").status is ContactStatus.CONNECTED
    assert restored.messenger.verify("Bob", None).ours == bob.messenger.verify("Alice", None).ours
    _assert_no_body_salt_repeats(relay, bob)
    await restored.messenger.close()
    await bob.messenger.close()


async def test_a_wrong_passphrase_a_damaged_file_or_a_used_folder_are_refused(
    tmp_path: Path,
) -> None:
    relay = FakeRelay()
    alice, _ = await _connected(tmp_path, relay)
    backup_file = tmp_path / "backup"
    write_backup(alice.messenger.store, "right", backup_file, rng=RNG, now=2.5, kdf=FAST)
    with pytest.raises(BackupUnreadable, match="wrong backup passphrase"):
        read_backup(backup_file, "wrong")
    data = bytearray(backup_file.read_bytes())
    data[-1] ^= 1
    damaged = tmp_path / "damaged"
    damaged.write_bytes(bytes(data))
    with pytest.raises(BackupUnreadable):
        read_backup(damaged, "right")
    damaged.write_bytes(b"not a backup at all")
    with pytest.raises(BackupUnreadable, match="not a Veil backup"):
        read_backup(damaged, "right")
    saved = read_backup(backup_file, "right")
    assert saved.created_at == 2.5
    with pytest.raises(RestoreTargetInUse):
        restore_into(saved, tmp_path / "alice", "pw", STORE_FILE, kdf=FAST)
    with pytest.raises(FileExistsError):  # a backup never overwrites a file
        write_backup(alice.messenger.store, "right", backup_file, rng=RNG, now=3.0, kdf=FAST)


def test_the_payload_round_trips_every_sql_type() -> None:
    table = TableRows("t", ("a", "b"), ((None, -(2**63)), (1.5, "é"), (b"\x00", 2**63 - 1)))
    snapshot = StoreSnapshot(7, (table,))
    assert decode_payload(encode_payload(snapshot, {"f": b"x"})) == (snapshot, {"f": b"x"})


@given(st.binary(max_size=300))
def test_random_payloads_only_raise_backup_unreadable(data: bytes) -> None:
    with contextlib.suppress(BackupUnreadable):
        decode_payload(data)


async def test_contacts_show_their_protection_and_a_removed_contact_is_gone(
    tmp_path: Path,
) -> None:
    relay = FakeRelay()
    alice, _ = await _connected(tmp_path, relay)
    (entry,) = contact_overview(alice.messenger.store, alice.messenger.agent, now=0.0)
    assert (entry.contact.alias, entry.pq, entry.ratchet_version, entry.stuck) == (
        "Bob",
        False,
        2,
        False,
    )
    queues_before = len(relay.queues)
    contact = alice.messenger.contact("Bob")
    assert (
        await remove_contact(
            alice.messenger.store, alice.messenger.agent, contact, alice.messenger.now()
        )
        == 1
    )
    assert alice.messenger.contacts() == []
    assert len(relay.queues) == queues_before - 1
    with alice.messenger.store.transaction() as tx:
        assert tx.connections.list() == []


async def test_a_connection_waiting_for_a_day_is_reported_stuck(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice = User.create(tmp_path / "alice", "Alice", relay)
    bob = User.create(tmp_path / "bob", "Bob", relay)
    await bob.messenger.connect(await alice.messenger.invite())  # Alice never answers
    (entry,) = contact_overview(bob.messenger.store, bob.messenger.agent, now=time.time())
    assert (entry.contact.status, entry.stuck, entry.pq) == (ContactStatus.CONNECTING, False, False)
    later = time.time() + STUCK_AFTER_SECONDS + 1
    (entry,) = contact_overview(bob.messenger.store, bob.messenger.agent, now=later)
    assert entry.stuck
