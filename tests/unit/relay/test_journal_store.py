"""The journal store beyond the shared contract (test_queue_stores): group fsync,
compaction, damage found at load and at serve, a full disk."""

from __future__ import annotations

import asyncio
import logging
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.queue_stores import message, record
from helpers.queue_stores import reopen as reopen_store
from helpers.relay_harness import Relay
from veil.relay.client.session import open_delivery
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import StoreFailed
from veil.relay.server.store.base import (
    DeleteMessage,
    DeleteMessagesBefore,
    PutMessage,
    PutQueue,
    RemoveQueue,
    SetSenderKey,
    SetSuspended,
    StoreChange,
    StoredMessage,
    StoredQueue,
)
from veil.relay.server.store.journal import JournalStore
from veil.relay.server.store.journal_format import (
    HEADER,
    SEGMENT_HEADER,
    Kind,
    record_header,
    segment_header,
)
from veil.relay.server.store.journal_replay import QUARANTINE_DIR, scan, segment_files
from veil.relay.server.store.memory import MemoryStore

BODY = 15_360


async def reopen(folder: Path, **options: int) -> list[StoredQueue]:
    return await reopen_store(JournalStore(folder, **options))


async def test_a_queue_created_and_changed_in_one_batch(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    await store.open()
    first = record(1)
    await store.apply([PutQueue(first), SetSenderKey(first.recipient_id, b"\x04" * 32)])
    await store.close()
    [queue] = await reopen(tmp_path)
    assert queue.record.sender_auth_key == b"\x04" * 32


async def test_concurrent_writes_share_one_fsync(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    await store.open()
    await store.apply([PutQueue(record(1))])
    commits = store.commits
    writes = [
        asyncio.create_task(store.apply([PutMessage(record(1).recipient_id, message(i))]))
        for i in range(300)
    ]
    await asyncio.gather(*writes)
    # 300 batches were written before the fsync thread reported once: far fewer syncs.
    assert store.commits - commits < 300
    await store.close()
    [queue] = await reopen(tmp_path)
    assert queue.messages == [message(i) for i in range(300)]


async def test_compaction_keeps_live_records_in_order_and_deletes_old_segments(
    tmp_path: Path,
) -> None:
    segment = 64 * 1024
    store = JournalStore(tmp_path, segment_bytes=segment)
    await store.open()
    queues = [record(i) for i in range(4)]
    await store.apply([PutQueue(q) for q in queues])
    kept: dict[bytes, list[StoredMessage]] = {q.recipient_id: [] for q in queues}
    # Every queue keeps its first message; the rest are acknowledged soon after.
    for number in range(400):
        queue = queues[number % 4].recipient_id
        sent = message(number, size=BODY // 8)
        await store.apply([PutMessage(queue, sent)])
        if number < 4:
            kept[queue].append(sent)
        else:
            await store.apply([DeleteMessage(queue, sent.message_id)])
    await store.apply([SetSuspended(queues[0].recipient_id)])
    await store.close()
    remaining = segment_files(tmp_path)
    assert len(remaining) <= 4  # about 800 KiB were written in 64 KiB segments
    assert remaining[0][0] > 1  # the first one, with every queue record, was compacted away
    loaded = {q.record.recipient_id: q for q in await reopen(tmp_path, segment_bytes=segment)}
    assert {rid: q.messages for rid, q in loaded.items()} == kept
    assert loaded[queues[0].recipient_id].record.suspended


async def test_a_flipped_byte_is_detected_logged_and_never_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = JournalStore(tmp_path)
    await store.open()
    await store.apply([PutQueue(record(1))])
    for number in range(3):
        await store.apply([PutMessage(record(1).recipient_id, message(number, size=BODY))])
    await store.close()
    [(_, path)] = segment_files(tmp_path)
    data = bytearray(path.read_bytes())
    data[-BODY // 2] ^= 0xFF  # inside the last message's sealed body
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="veil.relay"):
        [queue] = await reopen(tmp_path)
    assert queue.messages == [message(0, size=BODY), message(1, size=BODY)]
    assert [r.getMessage() for r in caplog.records] == ["store.corrupted"]
    assert [p.name for p in (tmp_path / QUARANTINE_DIR).iterdir()]  # the bytes are kept aside
    await reopen(tmp_path)  # the cut journal opens cleanly next time
    assert [r.getMessage() for r in caplog.records] == ["store.corrupted"]


async def test_a_torn_tail_is_cut_as_unacknowledged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = JournalStore(tmp_path)
    await store.open()
    await store.apply([PutQueue(record(1))])
    await store.apply([PutMessage(record(1).recipient_id, message(1, size=BODY))])
    await store.close()
    [(_, path)] = segment_files(tmp_path)
    good = path.read_bytes()
    torn = b"\x02" * 100  # a write cut short by power loss
    path.write_bytes(good + HEADER.pack(0x1234, 15_400, Kind.MESSAGE) + torn)
    with caplog.at_level(logging.WARNING, logger="veil.relay"):
        [queue] = await reopen(tmp_path)
    assert queue.messages == [message(1, size=BODY)]
    assert [r.getMessage() for r in caplog.records] == ["store.torn_tail"]
    assert path.read_bytes() == good


async def test_a_full_disk_fails_the_batch_and_leaves_nothing_of_it(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    await store.open()
    await store.apply([PutQueue(record(1))])
    [(_, path)] = segment_files(tmp_path)
    size = path.stat().st_size
    real_write = os.write
    calls = {"n": 0}

    def failing_write(descriptor: int, data: memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            real_write(descriptor, bytes(data[:100]))  # part of the batch reached the file
            raise OSError(28, "No space left on device")
        return real_write(descriptor, data)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("veil.relay.server.store.journal.os.write", failing_write)
        with pytest.raises(StoreFailed, match="free disk space"):
            await store.apply([PutMessage(record(1).recipient_id, message(1))])
        assert path.stat().st_size == size
        await store.apply([PutMessage(record(1).recipient_id, message(2))])
    await store.close()
    [queue] = await reopen(tmp_path)
    assert queue.messages == [message(2)]


async def test_a_foreign_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "00000001.seg").write_bytes(b"not a journal at all")
    with pytest.raises(StoreFailed, match="not segment 1"):
        await JournalStore(tmp_path).open()


async def test_random_changes_reload_as_the_memory_store_holds_them(tmp_path: Path) -> None:
    rng = random.Random(15)
    journal, model = JournalStore(tmp_path, segment_bytes=32 * 1024), MemoryStore()
    await journal.open()
    await model.open()
    live: dict[bytes, list[bytes]] = {}
    for step in range(600):
        batch: list[StoreChange] = []
        for _ in range(rng.randint(1, 4)):
            batch.append(_random_change(rng, live, step))
        await journal.apply(batch)
        await model.apply(batch)
    await journal.close()
    expected = {q.record.recipient_id: q for q in await model.open()}
    loaded = {q.record.recipient_id: q for q in await reopen(tmp_path, segment_bytes=32 * 1024)}
    assert loaded.keys() == expected.keys()
    for recipient_id, queue in expected.items():
        got = loaded[recipient_id]
        assert got.record == queue.record
        assert [m.message_id[-3:] for m in got.messages] == [
            m.message_id[-3:] for m in queue.messages
        ]
        assert got.messages == queue.messages
    assert len(segment_files(tmp_path)) < 10  # compaction kept up


_sent: list[int] = []


def _random_change(rng: random.Random, live: dict[bytes, list[bytes]], step: int) -> StoreChange:
    queues = list(live)
    roll = rng.random()
    if not queues or roll < 0.08:
        created = record(step * 10 + len(queues))
        live[created.recipient_id] = []
        return PutQueue(created)
    queue = rng.choice(queues)
    if roll < 0.12:
        del live[queue]
        return RemoveQueue(queue)
    if roll < 0.16:
        return SetSenderKey(queue, rng.randbytes(32))
    if roll < 0.6 or not live[queue]:
        number = 10_000 + len(_sent)  # every message id once
        _sent.append(number)
        sent = message(number, stored=3600 * rng.randint(1, 4), size=900)
        live[queue].append(sent.message_id)
        return PutMessage(queue, sent)
    if roll < 0.99:
        return DeleteMessage(queue, live[queue].pop(rng.randrange(len(live[queue]))))
    return DeleteMessagesBefore(7200)


async def test_a_new_segment_cut_before_its_header_is_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = JournalStore(tmp_path)
    await store.open()
    await store.apply([PutQueue(record(1))])
    await store.close()
    (tmp_path / "00000002.seg").write_bytes(b"veil")  # power cut while it was being made
    with caplog.at_level(logging.WARNING, logger="veil.relay"):
        [queue] = await reopen(tmp_path)
    assert queue.record == record(1)
    assert [r.getMessage() for r in caplog.records] == ["store.torn_tail"]
    assert [number for number, _ in segment_files(tmp_path)] == [1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=8), st.data())
def test_any_flipped_byte_stops_the_scan_at_its_record(
    payloads: list[bytes], data: st.DataObject
) -> None:
    segment = bytearray(segment_header(1))
    starts = []
    for payload in payloads:
        starts.append(len(segment))
        segment += record_header(Kind.MESSAGE, payload) + payload
    position = data.draw(st.integers(SEGMENT_HEADER.size, len(segment) - 1))
    segment[position] ^= data.draw(st.integers(1, 255))
    damaged = max(index for index, start in enumerate(starts) if start <= position)
    records, reason = scan(bytes(segment))
    assert reason is not None
    assert [offset for offset, *_ in records] == starts[:damaged]


async def test_a_body_damaged_after_the_load_is_never_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    relay = await Relay(JournalStore(tmp_path)).start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    for body in (b"first", b"second"):
        await bob.ok(bob.send(queue, body * 1000))
    [(_, path)] = segment_files(tmp_path)
    data = bytearray(path.read_bytes())
    records, _ = scan(bytes(data))
    first = next(offset for offset, kind, *_ in records if kind == Kind.MESSAGE)
    data[first + 2_000] ^= 0x01  # inside the first message's sealed body
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR, logger="veil.relay"):
        await alice.ok(alice.recipient(cmd.Subscribe(), queue))
    [delivery] = alice.pushes
    assert isinstance(delivery.response, rsp.Message)
    assert open_delivery(queue.delivery_key, delivery.response).body == b"second" * 1000
    assert [r.getMessage() for r in caplog.records] == ["store.corrupted"]
    assert relay.service.metrics.errors["BodyDamaged"] == 1
    await relay.service.close()
