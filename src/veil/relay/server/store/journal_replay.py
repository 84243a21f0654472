"""Reading the queue journal back at start: verify every record, rebuild the queues.

Every record's CRC is checked. A segment is replayed batch by batch: records count
only once the ``COMMIT`` after them is read, so a batch cut short by a crash (never
acknowledged) leaves no trace. Whatever follows the last good ``COMMIT`` of a
segment is cut off the segment and kept under ``quarantine/`` with a log line:

- ``store.uncommitted_tail`` (warning): whole records with no ``COMMIT`` after them,
  a crash between write and commit; nothing in them was acknowledged;
- ``store.torn_tail`` (warning): the last record of the newest segment ends past the
  end of the file, a write cut short; nothing in it was acknowledged;
- ``store.corrupted`` (error): a record failed its checksum (or is malformed) — the
  disk changed bytes the relay had made durable. The rest of that segment is in
  quarantine and the messages in it are lost; the log line says how many bytes.

The relay never serves a record that failed its checksum.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from veil.relay.protocol.errors import StoreFailed
from veil.relay.server.logging_setup import LOGGER_NAME, fields
from veil.relay.server.store.base import StoredMessage, StoredQueue
from veil.relay.server.store.journal_format import (
    HEADER,
    MAX_PAYLOAD,
    SEGMENT_HEADER,
    SEGMENT_MAGIC,
    Kind,
    RecordDamaged,
    decode_ids,
    decode_message,
    decode_queue,
    segment_header,
)
from veil.relay.server.store.journal_state import JournalState, MessagePlace, SegmentInfo

__all__ = [
    "QUARANTINE_DIR",
    "Records",
    "Replayed",
    "ScannedRecord",
    "replay",
    "scan",
    "segment_files",
]

QUARANTINE_DIR = "quarantine"
_SUFFIX = ".seg"
_log = logging.getLogger(LOGGER_NAME)

ScannedRecord = tuple[int, int, bytes, int]
"""(offset, kind, payload, record size)."""


@dataclass(frozen=True, slots=True)
class Replayed:
    """What replay found: the bookkeeping, the queues to serve, and bytes cut off."""

    state: JournalState
    queues: list[StoredQueue]
    quarantined_bytes: int


def segment_files(folder: Path) -> list[tuple[int, Path]]:
    """The segment files in ``folder``, oldest first."""
    found = []
    for path in folder.iterdir():
        if path.suffix == _SUFFIX and path.stem.isdigit():
            found.append((int(path.stem), path))
    return sorted(found)


def scan(data: bytes, start: int = SEGMENT_HEADER.size) -> tuple[list[ScannedRecord], str | None]:
    """Every record from ``start`` whose checksum holds, and why the scan stopped early.

    The reason is ``None`` at a clean end, ``"torn"`` if the last record runs past
    the end of ``data``, ``"corrupted"`` if a record's checksum or length is wrong.
    """
    records = Records(data, start)
    return list(records), records.damage


class Records:
    """Iterates the records of a segment's bytes one at a time (a million-queue
    journal is never held as a list); ``damage`` then says why it stopped, as in
    :func:`scan`."""

    def __init__(self, data: bytes, start: int = SEGMENT_HEADER.size) -> None:
        self._data, self._start = data, start
        self.damage: str | None = None

    def __iter__(self) -> Iterator[ScannedRecord]:
        data = self._data
        view, offset, end = memoryview(data), self._start, len(data)
        unpack, header_size, crc32 = HEADER.unpack_from, HEADER.size, zlib.crc32
        while offset < end:
            if offset + header_size > end:
                self.damage = "torn"
                return
            crc, length, kind = unpack(data, offset)
            payload_end = offset + header_size + length
            if length > MAX_PAYLOAD:
                self.damage = "corrupted"
                return
            if payload_end > end:
                self.damage = "torn"
                return
            # The CRC covers length, kind and payload: the bytes right after it.
            if crc32(view[offset + 4 : payload_end]) != crc or kind not in _KINDS:
                self.damage = "corrupted"
                return
            yield offset, kind, data[offset + header_size : payload_end], payload_end - offset
            offset = payload_end


def replay(folder: Path) -> Replayed:
    """Verify and replay every segment in ``folder``; cut and quarantine damaged tails."""
    replaying = _Replay()
    files = segment_files(folder)
    quarantined = 0
    for index, (number, path) in enumerate(files):
        data = path.read_bytes()
        newest = index == len(files) - 1
        if newest and index > 0 and segment_header(number).startswith(data):
            # Created, but the crash (or a full disk) came before its header: empty.
            _log.warning("store.torn_tail", extra=fields(segment=path.name, bytes=len(data)))
            path.unlink()
            break
        if len(data) < SEGMENT_HEADER.size or SEGMENT_HEADER.unpack_from(data) != (
            SEGMENT_MAGIC,
            number,
        ):
            raise StoreFailed(f"{path} is not segment {number} of a queue journal: restore it")
        replaying.state.segments[number] = SegmentInfo(len(data))
        records = Records(data)
        committed = replaying.segment(number, records)
        if committed < len(data):
            quarantined += _cut(path, data, committed, records.damage, newest)
            replaying.state.segments[number].size = committed
    return Replayed(replaying.state, replaying.stored_queues(), quarantined)


class _Replay:
    """The bookkeeping and the message bodies as the records read so far leave them.

    Compaction copies a live queue's ``QUEUE`` record to the head, behind messages of
    that queue written meanwhile; so a message whose queue is not known yet waits
    among the ``orphans`` until its queue's record comes (or is dropped with it).
    """

    def __init__(self) -> None:
        self.state = JournalState()
        self.bodies: dict[bytes, dict[bytes, tuple[int, StoredMessage]]] = {}
        self.orphans: dict[bytes, dict[bytes, MessagePlace]] = {}

    def segment(self, number: int, records: Iterable[ScannedRecord]) -> int:
        """Apply each committed batch of ``records``; return where the last batch ended."""
        committed, batch = SEGMENT_HEADER.size, []
        for record in records:
            offset, kind, _, size = record
            if kind != Kind.COMMIT:
                batch.append(record)
                continue
            try:
                for item in batch:
                    self._apply(number, item)
            except RecordDamaged as exc:
                where = f"segment {number} at {item[0]}"
                raise StoreFailed(f"{where}: {exc}; restore the store") from exc
            committed, batch = offset + size, []
        return committed

    def stored_queues(self) -> list[StoredQueue]:
        """Every live queue with its messages in order."""
        queues = [StoredQueue(entry.record) for entry in self.state.queues.values()]
        for queue in queues:
            messages = self.bodies.get(queue.record.recipient_id)
            if messages:
                ordered = sorted(messages.values(), key=_by_seq)
                queue.messages = [message for _, message in ordered]
        return queues

    def _apply(self, number: int, record: ScannedRecord) -> None:
        offset, kind, payload, size = record
        location = (number, offset, size)
        state = self.state
        if kind == Kind.QUEUE:
            queue = decode_queue(payload)
            state.put_queue(queue, location)
            for message_id, place in self.orphans.pop(queue.recipient_id, {}).items():
                state.put_message(queue.recipient_id, message_id, place)
        elif kind == Kind.MESSAGE:
            entry = decode_message(payload, with_body=False)  # bodies stay on disk
            recipient_id, message_id = entry.recipient_id, entry.message.message_id
            place = MessagePlace(location, entry.seq, entry.message.stored)
            if not state.put_message(recipient_id, message_id, place):
                self.orphans.setdefault(recipient_id, {})[message_id] = place
            self.bodies.setdefault(recipient_id, {})[message_id] = (entry.seq, entry.message)
        elif kind == Kind.DELETE:
            (recipient_id, message_id), _ = decode_ids(payload, 2)
            state.delete_message(recipient_id, message_id)
            self.orphans.get(recipient_id, {}).pop(message_id, None)
            self.bodies.get(recipient_id, {}).pop(message_id, None)
        elif kind == Kind.DROP:
            (recipient_id,), _ = decode_ids(payload, 1)
            state.drop_queue(recipient_id)
            self.orphans.pop(recipient_id, None)
            self.bodies.pop(recipient_id, None)
        elif kind == Kind.EXPIRE:
            self._expire(int.from_bytes(payload, "little"))

    def _expire(self, cutoff: int) -> None:
        self.state.expire(cutoff)
        for places in self.orphans.values():
            for message_id in [m for m, place in places.items() if place.stored < cutoff]:
                del places[message_id]
        for messages in self.bodies.values():
            for message_id in [m for m, (_, msg) in messages.items() if msg.stored < cutoff]:
                del messages[message_id]


def _by_seq(item: tuple[int, StoredMessage]) -> int:
    return item[0]


def _cut(path: Path, data: bytes, committed: int, damage: str | None, newest: bool) -> int:
    """Move the bytes after ``committed`` to quarantine, log why, and truncate the file."""
    quarantine = path.parent / QUARANTINE_DIR
    quarantine.mkdir(mode=0o700, exist_ok=True)
    kept = quarantine / f"{path.stem}-{committed}.bad"
    kept.write_bytes(data[committed:])
    cut = len(data) - committed
    if damage is None or (damage == "torn" and newest):
        event = "store.uncommitted_tail" if damage is None else "store.torn_tail"
        _log.warning(event, extra=fields(segment=path.name, bytes=cut, kept=kept.name))
    else:
        _log.error(
            "store.corrupted",
            extra=fields(segment=path.name, offset=committed, bytes=cut, kept=kept.name),
        )
    with path.open("r+b") as handle:
        handle.truncate(committed)
        os.fsync(handle.fileno())
    return cut


_KINDS = frozenset(int(kind) for kind in Kind)
