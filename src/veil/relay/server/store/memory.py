"""A store that keeps everything in process memory: for tests and throwaway relays.

It implements the same :class:`~veil.relay.server.store.base.QueueStore` contract as the
durable backends (apart from surviving the process), so one object can be opened
again to simulate a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

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
    carried_body,
)

__all__ = ["MemoryStore"]


class MemoryStore:
    """Queues and messages in a dict; ``apply`` is atomic because it never awaits."""

    bodies_on_disk = False

    def __init__(self) -> None:
        self._queues: dict[bytes, StoredQueue] = {}
        self.commits = 0

    async def open(self) -> list[StoredQueue]:
        """Return copies of every queue with its messages."""
        return [StoredQueue(item.record, list(item.messages)) for item in self._queues.values()]

    async def apply(self, changes: Sequence[StoreChange]) -> None:
        """Apply the changes in order."""
        for change in changes:
            self._apply_one(change)
        self.commits += 1

    def read_body(self, recipient_id: bytes, message: StoredMessage) -> bytes:
        """Bodies stay in memory with this store: the message carries its own."""
        return carried_body(message)

    async def close(self) -> None:
        """Nothing to release."""

    def _apply_one(self, change: StoreChange) -> None:
        match change:
            case PutQueue(record):
                self._queues[record.recipient_id] = StoredQueue(record)
            case SetSenderKey(recipient_id, key):
                item = self._queues[recipient_id]
                item.record = replace(item.record, sender_auth_key=key)
            case SetSuspended(recipient_id):
                item = self._queues[recipient_id]
                item.record = replace(item.record, suspended=True)
            case RemoveQueue(recipient_id):
                del self._queues[recipient_id]
            case PutMessage(recipient_id, message):
                self._queues[recipient_id].messages.append(message)
            case DeleteMessage(recipient_id, message_id):
                item = self._queues[recipient_id]
                item.messages = [m for m in item.messages if m.message_id != message_id]
            case DeleteMessagesBefore(cutoff):
                for item in self._queues.values():
                    item.messages = [m for m in item.messages if m.stored >= cutoff]
