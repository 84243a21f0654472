"""Compaction of the queue journal: the oldest segment's live records move to the head.

Acknowledged messages leave dead records behind. Once the journal holds much more
than its live records (or its oldest segment is mostly dead), the store reads its
oldest segment and, a slice per commit, copies the records still live into the
batch it writes anyway; when the whole segment has been read and that commit is
durable, the segment file is deleted. Always the OLDEST segment goes first, so a
deletion record is never dropped while the record it deletes still exists.
"""

from __future__ import annotations

import logging
import mmap
import zlib
from dataclasses import dataclass
from pathlib import Path

from veil.relay.server.logging_setup import LOGGER_NAME, fields
from veil.relay.server.store.journal_format import (
    HEADER,
    MAX_PAYLOAD,
    Kind,
    RecordDamaged,
    decode_ids,
)
from veil.relay.server.store.journal_state import JournalState, Location

__all__ = ["Compaction", "Copy", "oldest_sealed", "should_compact"]

_log = logging.getLogger(LOGGER_NAME)
_IDS_BYTES = 2 * 256
"""Enough of a payload to hold its leading recipient and message ids."""

Copy = tuple[Location, bytes, bytes, bytes | None]
"""A live record to copy: (its old place, its bytes, recipient id, message id or None)."""


def oldest_sealed(state: JournalState, head: int) -> int | None:
    """The oldest segment that is not the head, if any."""
    sealed = [number for number in state.segments if number != head]
    return min(sealed) if sealed else None


def should_compact(state: JournalState, head: int, segment_bytes: int) -> int | None:
    """The segment to compact now, or ``None``: the oldest, when it is worth it."""
    oldest = oldest_sealed(state, head)
    if oldest is None:
        return None
    info = state.segments[oldest]
    if info.live * 2 <= info.size or state.total_bytes > 2 * state.live_bytes + 2 * segment_bytes:
        return oldest
    return None


@dataclass(slots=True)
class Compaction:
    """Reading one segment (mapped, not read whole) for the live records to copy.

    Only record headers and ids are touched until a record proves live; a live
    record's checksum is verified before it is copied, so damage is never carried on.
    """

    number: int
    path: Path
    data: mmap.mmap
    offset: int
    broken: bool = False

    @classmethod
    def open(cls, number: int, path: Path, start: int) -> Compaction:
        """Map segment ``number`` at ``path`` for reading from ``start``."""
        with path.open("rb") as file:
            data = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        return cls(number, path, data, start)

    def advance(self, offset: int) -> None:
        """The records before ``offset`` are dealt with (their copies are written)."""
        self.offset = offset

    @property
    def finished(self) -> bool:
        """Whether every record has been looked at (or damage stopped the walk)."""
        return self.broken or self.offset >= len(self.data)

    def close(self) -> None:
        """Unmap the segment."""
        self.data.close()

    def take(self, state: JournalState, budget: int) -> tuple[list[Copy], int]:
        """The live records from the current offset, up to ``budget`` bytes of copies,
        and where the walk stopped."""
        data, offset, end, copied = self.data, self.offset, len(self.data), 0
        copies: list[Copy] = []
        while offset < end and copied < budget:
            if offset + HEADER.size > end:
                return self._damaged(copies, offset)
            crc, length, kind = HEADER.unpack_from(data, offset)
            record_end = offset + HEADER.size + length
            if length > MAX_PAYLOAD or record_end > end:
                return self._damaged(copies, offset)
            location = (self.number, offset, record_end - offset)
            head = data[offset + HEADER.size : offset + HEADER.size + min(length, _IDS_BYTES)]
            owner = _live_owner(state, location, kind, head)
            if owner is not None:
                record = data[offset:record_end]
                if zlib.crc32(memoryview(record)[4:]) != crc:
                    return self._damaged(copies, offset)
                copies.append((location, record, *owner))
                copied += len(record)
            offset = record_end
        return copies, offset

    def _damaged(self, copies: list[Copy], offset: int) -> tuple[list[Copy], int]:
        # Damage appeared after the segment was verified at start: keep the file.
        _log.error("store.corrupted", extra=fields(segment=self.path.name, offset=offset))
        self.broken = True
        return copies, offset


def _live_owner(
    state: JournalState, location: Location, kind: int, payload: bytes
) -> tuple[bytes, bytes | None] | None:
    """Whose live record lies at ``location``: (recipient id, message id or None)."""
    try:
        if kind == Kind.QUEUE:
            (recipient_id,), _ = decode_ids(payload, 1)
            if state.holds_queue(recipient_id, location):
                return recipient_id, None
        elif kind == Kind.MESSAGE:
            (recipient_id, message_id), _ = decode_ids(payload, 2)
            if state.holds_message(recipient_id, message_id, location):
                return recipient_id, message_id
    except RecordDamaged:
        return None
    return None
