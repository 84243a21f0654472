"""The relay's file chunk store: round trips, quota, disk full, expiry, privacy, damage."""

from __future__ import annotations

import errno
import hashlib
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto.random import DeterministicRandom
from veil.files.errors import (
    ChunkCorrupted,
    ChunkNotFound,
    DiskFull,
    StoreQuotaExceeded,
    UploadMismatch,
)
from veil.relay.server.file_store import DEFAULT_RETENTION_SECONDS, FileChunkStore, RegisteredChunk
from veil.relay.server.file_store_format import (
    BODY_HEADER_SIZE,
    decode_body_header,
    encode_body_header,
)

SIZE = 64 * 1024
START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def body(seed: int) -> bytes:
    return hashlib.sha256(bytes([seed])).digest() * (SIZE // 32)


def open_store(root: Path, clock: Clock, quota: int = 10 * SIZE) -> FileChunkStore:
    return FileChunkStore(root, quota_bytes=quota, clock=clock, rng=DeterministicRandom(b"fs"))


def pieces(data: bytes, size: int = 5000) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def register(store: FileChunkStore, data: bytes, recipients: int = 2) -> RegisteredChunk:
    keys = [bytes([k]) * 32 for k in range(recipients)]
    return store.register(SIZE, hashlib.sha256(data).digest(), b"S" * 32, keys)


def test_upload_download_acknowledge_and_delete(tmp_path: Path) -> None:
    store = open_store(tmp_path, Clock())
    data = body(1)
    ids = register(store, data)
    assert store.sender_auth_key(ids.sender_id) == b"S" * 32
    assert store.recipient_auth_key(ids.recipient_ids[1]) == b"\x01" * 32
    store.put(ids.sender_id, pieces(data))
    store.put(ids.sender_id, iter(()))  # a retry of an acknowledged upload is a no-op
    first, second = ids.recipient_ids
    assert b"".join(store.read(first)) == data
    store.acknowledge(first)
    with pytest.raises(ChunkNotFound):
        store.read(first)
    assert b"".join(store.read(second)) == data
    assert store.used_bytes == SIZE
    store.delete(ids.sender_id)
    assert store.used_bytes == 0
    with pytest.raises(ChunkNotFound):
        store.read(second)


def test_reading_before_upload_and_unknown_ids_say_not_found(tmp_path: Path) -> None:
    store = open_store(tmp_path, Clock())
    ids = register(store, body(1))
    with pytest.raises(ChunkNotFound):
        store.read(ids.recipient_ids[0])
    with pytest.raises(ChunkNotFound):
        store.sender_auth_key(ids.recipient_ids[0])  # a recipient id is no sender id
    with pytest.raises(ChunkNotFound):
        store.recipient_auth_key(bytes(24))


def test_quota_is_an_explicit_error_and_frees_up(tmp_path: Path) -> None:
    store = open_store(tmp_path, Clock(), quota=2 * SIZE)
    first = register(store, body(1))
    register(store, body(2))
    with pytest.raises(StoreQuotaExceeded):
        register(store, body(3))
    store.delete(first.sender_id)
    register(store, body(3))


def test_wrong_bodies_are_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    store = open_store(tmp_path, Clock())
    data = body(1)
    ids = register(store, data)
    for wrong in (data[:-1], data + b"x", body(2)):
        with pytest.raises(UploadMismatch):
            store.put(ids.sender_id, pieces(wrong))
    assert list((tmp_path / "bodies").iterdir()) == []
    store.put(ids.sender_id, pieces(data))
    assert b"".join(store.read(ids.recipient_ids[0])) == data


def test_a_full_disk_is_reported_and_the_upload_can_be_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tmp_path, Clock())
    data = body(1)
    ids = register(store, data)

    def no_space(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr("veil.relay.server.file_store_body.os.fsync", no_space)
        with pytest.raises(DiskFull, match="retry"):
            store.put(ids.sender_id, pieces(data))
    assert list((tmp_path / "bodies").iterdir()) == []
    store.put(ids.sender_id, pieces(data))
    assert b"".join(store.read(ids.recipient_ids[0])) == data


def test_chunks_expire_after_48_hours(tmp_path: Path) -> None:
    clock = Clock()
    store = open_store(tmp_path, clock)
    ids = register(store, body(1))
    store.put(ids.sender_id, pieces(body(1)))
    clock.now += DEFAULT_RETENTION_SECONDS - 3600
    assert store.expire() == 0
    assert b"".join(store.read(ids.recipient_ids[0])) == body(1)
    clock.now += 2 * 3600
    with pytest.raises(ChunkNotFound):
        store.read(ids.recipient_ids[0])
    assert store.expire() == 1
    assert store.used_bytes == 0
    assert list((tmp_path / "bodies").iterdir()) == []


def test_a_body_damaged_on_disk_is_never_served_as_good(tmp_path: Path) -> None:
    store = open_store(tmp_path, Clock())
    ids = register(store, body(1))
    store.put(ids.sender_id, pieces(body(1)))
    (stored,) = (tmp_path / "bodies").iterdir()
    raw = bytearray(stored.read_bytes())
    raw[-1] ^= 1
    stored.write_bytes(bytes(raw))
    with pytest.raises(ChunkCorrupted):
        b"".join(store.read(ids.recipient_ids[0]))
    assert not stored.exists()


def test_torn_bodies_are_removed_at_open(tmp_path: Path) -> None:
    clock = Clock()
    store = open_store(tmp_path, clock)
    kept, torn = register(store, body(1)), register(store, body(2))
    store.put(kept.sender_id, pieces(body(1)))
    store.put(torn.sender_id, pieces(body(2)))
    store.close()
    bodies = sorted((tmp_path / "bodies").iterdir())
    stray = tmp_path / "bodies" / (bodies[0].name + ".0011.part")
    stray.write_bytes(b"half an upload")
    by_content = {p.read_bytes()[-SIZE:]: p for p in bodies}
    victim = by_content[body(2)]
    victim.write_bytes(victim.read_bytes()[:-100])
    reopened = open_store(tmp_path, clock)
    assert not stray.exists() and not victim.exists()
    assert b"".join(reopened.read(kept.recipient_ids[0])) == body(1)
    with pytest.raises(ChunkNotFound):
        reopened.read(torn.recipient_ids[0])
    reopened.put(torn.sender_id, pieces(body(2)))  # the sender simply uploads again
    assert b"".join(reopened.read(torn.recipient_ids[0])) == body(2)


def test_store_holds_no_id_and_nothing_that_links_sender_and_recipients(tmp_path: Path) -> None:
    store = open_store(tmp_path, Clock())
    ids = [register(store, body(n), recipients=3) for n in range(4)]
    for registered in ids:
        store.put(registered.sender_id, pieces(body(ids.index(registered))))
    store.close()
    on_disk = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    for registered in ids:
        for entity_id in (registered.sender_id, *registered.recipient_ids):
            assert entity_id not in on_disk
    with sqlite3.connect(tmp_path / "index.sqlite3") as db:
        rows = db.execute("SELECT lookup, role, size, expires, sealed FROM entries").fetchall()
    assert len(rows) == 16
    names = [path.name.encode() for path in (tmp_path / "bodies").iterdir()]
    for _, _, _, _, sealed in rows:
        assert not any(name in sealed for name in names)  # body names are sealed
    assert len({row[3] for row in rows}) == 1  # only the coarse expiry hour is shared


def test_a_newer_store_format_is_refused(tmp_path: Path) -> None:
    open_store(tmp_path, Clock()).close()
    with sqlite3.connect(tmp_path / "index.sqlite3") as db:
        db.execute("PRAGMA user_version = 2")
    with pytest.raises(ValueError, match="newer"):
        open_store(tmp_path, Clock())


@given(st.binary(max_size=BODY_HEADER_SIZE + 8))
def test_body_header_decoder_only_raises_chunk_corrupted(data: bytes) -> None:
    try:
        header = decode_body_header(data)
    except ChunkCorrupted:
        return
    assert encode_body_header(header) == data


def test_piecewise_upload_as_the_relay_server_feeds_it(tmp_path: Path) -> None:
    store = open_store(tmp_path, Clock())
    data = body(1)
    ids = register(store, data)
    upload = store.begin_put(ids.sender_id)
    assert upload is not None
    for piece in pieces(data, 16000):
        upload.write(piece)
    assert upload.received == SIZE
    with pytest.raises(ChunkNotFound):  # nothing is visible before finish()
        store.read(ids.recipient_ids[0])
    upload.finish()
    assert store.begin_put(ids.sender_id) is None  # a retry is answered at once
    assert b"".join(store.read(ids.recipient_ids[0])) == data


def test_an_overlong_or_aborted_upload_leaves_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path, Clock())
    ids = register(store, body(1))
    upload = store.begin_put(ids.sender_id)
    assert upload is not None
    upload.write(body(1))
    with pytest.raises(UploadMismatch, match="longer"):
        upload.write(b"x")
    assert list((tmp_path / "bodies").iterdir()) == []
    upload = store.begin_put(ids.sender_id)
    assert upload is not None
    upload.write(b"partial")
    upload.abort()
    assert list((tmp_path / "bodies").iterdir()) == []


def test_more_recipients_can_be_added_up_to_the_cap(tmp_path: Path) -> None:
    store = open_store(tmp_path, Clock())
    data = body(1)
    ids = register(store, data, recipients=16)
    store.put(ids.sender_id, pieces(data))
    added = store.add_recipients(ids.sender_id, [b"\x07" * 32] * 16)
    assert len(set(added) | set(ids.recipient_ids)) == 32
    assert store.recipient_auth_key(added[3]) == b"\x07" * 32
    assert b"".join(store.read(added[-1])) == data
    for _ in range(6):
        store.add_recipients(ids.sender_id, [b"\x08" * 32] * 16)
    with pytest.raises(StoreQuotaExceeded, match="128"):
        store.add_recipients(ids.sender_id, [b"\x09" * 32])
    with pytest.raises(ChunkNotFound):
        store.add_recipients(added[0], [b"\x09" * 32])  # a recipient id cannot add
