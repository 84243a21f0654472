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
from dataclasses import dataclass
from pathlib import Path

from veil.relay.server.logging_setup import LOGGER_NAME, fields
from veil.relay.server.store.journal_format import Kind, RecordDamaged, decode_ids
from veil.relay.server.store.journal_replay import scan
from veil.relay.server.store.journal_state import JournalState, Location

__all__ = ["Compaction", "Copy", "should_compact"]

_log = logging.getLogger(LOGGER_NAME)

Copy = tuple[Location, bytes, bytes, bytes | None]
"""A live record to copy: (its old place, its bytes, recipient id, message id or None)."""


def should_compact(state: JournalState, head: int, segment_bytes: int) -> int | None:
    """The segment to compact now, or ``None``: the oldest, when it is worth it."""
    sealed = [number for number in state.segments if number != head]
    if not sealed:
        return None
    oldest = min(sealed)
    info = state.segments[oldest]
    if info.live * 2 <= info.size or state.total_bytes > 2 * state.live_bytes + 2 * segment_bytes:
        return oldest
    return None


@dataclass(slots=True)
class Compaction:
    """Reading one segment, a slice at a time, for the live records to copy."""

    number: int
    path: Path
    data: bytes
    offset: int
    broken: bool = False

    def advance(self, offset: int) -> None:
        """The records before ``offset`` are dealt with (their copies are written)."""
        self.offset = offset

    def take(self, state: JournalState, budget: int) -> tuple[list[Copy], int]:
        """The live records in the next ``budget`` bytes, and where that slice ends."""
        records, damage = scan(self.data[: min(len(self.data), self.offset + budget)], self.offset)
        copies: list[Copy] = []
        end = self.offset
        for offset, kind, payload, size in records:
            end = offset + size
            location = (self.number, offset, size)
            owner = _live_owner(state, location, kind, payload)
            if owner is not None:
                copies.append((location, self.data[offset:end], *owner))
        if damage == "corrupted" or (damage == "torn" and end == self.offset):
            # Damage appeared after the segment was verified at start: keep the file.
            _log.error("store.corrupted", extra=fields(segment=self.path.name, offset=end))
            self.broken = True
        return copies, end


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
