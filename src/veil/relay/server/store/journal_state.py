"""What the queue journal knows about its own files: where every live record lies.

The journal keeps no message bodies in memory, only each live record's place
(segment, offset, size) and, per segment, how many of its bytes are still live, so
it can tell when a segment holds nothing worth keeping and what compaction must
copy. The same bookkeeping serves the replay at start and every later commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.relay.server.store.base import QueueRecord

__all__ = ["JournalState", "Location", "MessagePlace", "QueueEntry", "SegmentInfo"]

Location = tuple[int, int, int]
"""(segment number, offset of the record, record size in bytes)."""


@dataclass(slots=True)
class MessagePlace:
    """A live message: where its record is, its order in the queue and its coarse date."""

    location: Location
    seq: int
    stored: int


@dataclass(slots=True)
class QueueEntry:
    """A live queue: its newest record, where that is, and its live messages by id.

    ``messages`` is ``None`` while the queue has none: a relay holds many empty queues.
    """

    record: QueueRecord
    location: Location
    messages: dict[bytes, MessagePlace] | None = None


@dataclass(slots=True)
class SegmentInfo:
    """One segment file: its size and how many of those bytes are live records."""

    size: int
    live: int = 0


class JournalState:
    """Live queues and messages by place, and live bytes per segment."""

    def __init__(self) -> None:
        self.queues: dict[bytes, QueueEntry] = {}
        self.segments: dict[int, SegmentInfo] = {}
        self.next_seq = 0
        """The ``seq`` the next stored message gets (one more than any seen)."""

    @property
    def live_bytes(self) -> int:
        """Bytes of live records across every segment."""
        return sum(info.live for info in self.segments.values())

    @property
    def total_bytes(self) -> int:
        """Bytes of every segment file."""
        return sum(info.size for info in self.segments.values())

    def put_queue(self, record: QueueRecord, location: Location) -> None:
        """A queue's newest record now lies at ``location`` (created or changed)."""
        entry = self.queues.get(record.recipient_id)
        if entry is None:
            self.queues[record.recipient_id] = QueueEntry(record, location)
        else:
            self._forget(entry.location)
            entry.record, entry.location = record, location
        self._remember(location)

    def drop_queue(self, recipient_id: bytes) -> None:
        """A queue and all its messages are gone."""
        entry = self.queues.pop(recipient_id, None)
        if entry is None:
            return
        self._forget(entry.location)
        for place in (entry.messages or {}).values():
            self._forget(place.location)

    def put_message(self, recipient_id: bytes, message_id: bytes, place: MessagePlace) -> bool:
        """A message of a queue lies at ``place``; ``False`` if the queue is gone."""
        self.next_seq = max(self.next_seq, place.seq + 1)
        entry = self.queues.get(recipient_id)
        if entry is None:
            return False
        if entry.messages is None:
            entry.messages = {}
        previous = entry.messages.get(message_id)
        if previous is not None:
            self._forget(previous.location)  # compaction moved it
        entry.messages[message_id] = place
        self._remember(place.location)
        return True

    def delete_message(self, recipient_id: bytes, message_id: bytes) -> None:
        """An acknowledged message is gone."""
        entry = self.queues.get(recipient_id)
        if entry is None or not entry.messages:
            return
        place = entry.messages.pop(message_id, None)
        if place is not None:
            self._forget(place.location)

    def expire(self, cutoff: int) -> None:
        """Every message stored before ``cutoff`` is gone."""
        for entry in self.queues.values():
            if not entry.messages:
                continue
            old = [mid for mid, place in entry.messages.items() if place.stored < cutoff]
            for message_id in old:
                self._forget(entry.messages.pop(message_id).location)

    def move(
        self, recipient_id: bytes, message_id: bytes | None, old: Location, new: Location
    ) -> None:
        """Compaction copied the live record at ``old`` to ``new`` (if it is still live)."""
        entry = self.queues.get(recipient_id)
        if entry is None:
            return
        if message_id is None:
            if entry.location == old:
                self.put_queue(entry.record, new)
            return
        place = None if entry.messages is None else entry.messages.get(message_id)
        if place is not None and place.location == old:
            self.put_message(recipient_id, message_id, MessagePlace(new, place.seq, place.stored))

    def holds_queue(self, recipient_id: bytes, location: Location) -> bool:
        """Whether the record at ``location`` is the newest record of that queue."""
        entry = self.queues.get(recipient_id)
        return entry is not None and entry.location == location

    def holds_message(self, recipient_id: bytes, message_id: bytes, location: Location) -> bool:
        """Whether the record at ``location`` is that live message's record."""
        entry = self.queues.get(recipient_id)
        place = None if entry is None or entry.messages is None else entry.messages.get(message_id)
        return place is not None and place.location == location

    def _remember(self, location: Location) -> None:
        self.segments[location[0]].live += location[2]

    def _forget(self, location: Location) -> None:
        info = self.segments.get(location[0])
        if info is not None:
            info.live -= location[2]
