"""The relay's live queues in memory, found by recipient id or by sender id."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from veil.relay.server.session import SessionState
from veil.relay.server.store.base import QueueRecord, StoredMessage

__all__ = ["LiveQueue", "QueueIndex"]


@dataclass(slots=True, eq=False)
class LiveQueue:
    """A queue in memory: its record, its pending messages (oldest first) and who listens.

    ``messages`` is a plain list (bounded by the quota): an empty deque would cost
    ~600 bytes per queue, and a relay holds many mostly-empty queues.

    ``sends_in_flight`` counts accepted sends still waiting for their commit, so the
    quota holds while they wait. ``delivered`` counts the messages at the head
    already pushed to the current subscriber and not yet acknowledged; at most
    ``window`` (the subscription's delivery window) are in flight, none twice.
    """

    record: QueueRecord
    messages: list[StoredMessage] = field(default_factory=list)
    sends_in_flight: int = 0
    subscriber: SessionState | None = None
    delivered: int = 0
    window: int = 1
    deleted: bool = False


class QueueIndex:
    """Every live queue, under both of its unrelated ids."""

    __slots__ = ("_by_recipient", "_by_sender")

    def __init__(self) -> None:
        self._by_recipient: dict[bytes, LiveQueue] = {}
        self._by_sender: dict[bytes, LiveQueue] = {}

    def __iter__(self) -> Iterator[LiveQueue]:
        return iter(self._by_recipient.values())

    def by_recipient(self, recipient_id: bytes) -> LiveQueue | None:
        """The queue a recipient command names, if it exists."""
        return self._by_recipient.get(recipient_id)

    def by_sender(self, sender_id: bytes) -> LiveQueue | None:
        """The queue a sender command names, if it exists."""
        return self._by_sender.get(sender_id)

    def add(self, queue: LiveQueue) -> None:
        """Index a new (or reloaded) queue."""
        self._by_recipient[queue.record.recipient_id] = queue
        self._by_sender[queue.record.sender_id] = queue

    def remove(self, queue: LiveQueue) -> None:
        """Forget a deleted queue; commands waiting on it see ``deleted``."""
        queue.deleted = True
        del self._by_recipient[queue.record.recipient_id]
        del self._by_sender[queue.record.sender_id]
