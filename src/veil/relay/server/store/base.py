"""The store interface every backend implements (SQLite now, PostgreSQL later).

A store holds only what the protocol needs: queue ids, public keys, the queue's
delivery key, sealed (re-encrypted) message bodies and coarse dates (rounded down
to the hour). The relay keeps the live state in memory; the store is the durable
record it is rebuilt from after a restart. Writes are expressed as a batch of
:data:`StoreChange` values so a backend can commit many commands at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from veil.relay.protocol.errors import StoreFailed

__all__ = [
    "COARSE_TIME_STEP",
    "STORE_FORMAT_VERSION",
    "DeleteMessage",
    "DeleteMessagesBefore",
    "PutMessage",
    "PutQueue",
    "QueueRecord",
    "QueueStore",
    "RemoveQueue",
    "SetSenderKey",
    "SetSuspended",
    "StoreChange",
    "StoredMessage",
    "StoredQueue",
    "carried_body",
    "coarse_time",
]

STORE_FORMAT_VERSION = 1
"""Version of the persisted layout; a backend refuses data of a newer version."""
COARSE_TIME_STEP = 3_600
"""Stored dates are rounded down to this many seconds so they say little."""


def coarse_time(now: float) -> int:
    """Round a Unix time down to the hour, the only precision the store keeps."""
    return int(now) // COARSE_TIME_STEP * COARSE_TIME_STEP


@dataclass(frozen=True, slots=True)
class QueueRecord:
    """A queue as stored. ``sender_auth_key`` is ``None`` until the queue is secured."""

    recipient_id: bytes
    sender_id: bytes
    recipient_auth_key: bytes
    delivery_key: bytes
    sender_auth_key: bytes | None = None
    suspended: bool = False
    created: int = 0


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One undelivered message: its id, coarse arrival time and sealed body.

    ``sealed`` is ``None`` once the body lives only in a store that keeps bodies on
    disk (:attr:`QueueStore.bodies_on_disk`); :meth:`QueueStore.read_body` reads it.
    """

    message_id: bytes
    stored: int
    sealed: bytes | None


@dataclass(slots=True)
class StoredQueue:
    """A queue and its undelivered messages, oldest first, as loaded at start."""

    record: QueueRecord
    messages: list[StoredMessage] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PutQueue:
    """Create a queue."""

    record: QueueRecord


@dataclass(frozen=True, slots=True)
class SetSenderKey:
    """Secure a queue with the sender's auth key."""

    recipient_id: bytes
    sender_auth_key: bytes


@dataclass(frozen=True, slots=True)
class SetSuspended:
    """Suspend a queue: no more sends."""

    recipient_id: bytes


@dataclass(frozen=True, slots=True)
class RemoveQueue:
    """Delete a queue with all its messages."""

    recipient_id: bytes


@dataclass(frozen=True, slots=True)
class PutMessage:
    """Append a message to a queue."""

    recipient_id: bytes
    message: StoredMessage


@dataclass(frozen=True, slots=True)
class DeleteMessage:
    """Delete one acknowledged message."""

    recipient_id: bytes
    message_id: bytes


@dataclass(frozen=True, slots=True)
class DeleteMessagesBefore:
    """Retention: delete every message stored before the coarse time ``cutoff``."""

    cutoff: int


StoreChange = (
    PutQueue
    | SetSenderKey
    | SetSuspended
    | RemoveQueue
    | PutMessage
    | DeleteMessage
    | DeleteMessagesBefore
)


def carried_body(message: StoredMessage) -> bytes:
    """The body a message carries (stores that keep bodies in memory serve this)."""
    if message.sealed is None:
        raise StoreFailed("the message carries no body and this store keeps none on disk")
    return message.sealed


class QueueStore(Protocol):
    """Durable queues and messages. Every method may raise ``StoreFailed``."""

    bodies_on_disk: bool
    """Whether pending bodies stay on disk only: the relay then keeps none in memory,
    :meth:`open` returns messages without them, and :meth:`read_body` serves them."""

    def read_body(self, recipient_id: bytes, message: StoredMessage) -> bytes:
        """The sealed body of a pending message of queue ``recipient_id``.

        Raises ``StoreFailed`` if it cannot be read or failed its checksum.
        """
        ...

    async def open(self) -> list[StoredQueue]:
        """Open (creating if needed) and return every queue with its pending messages."""
        ...

    async def apply(self, changes: Sequence[StoreChange]) -> None:
        """Apply ``changes`` atomically; return only once they are durable.

        Concurrent calls may share one commit (group commit) but take effect in the
        order they were made, so a later delete never precedes an earlier insert.
        """
        ...

    async def close(self) -> None:
        """Finish pending commits and release the store."""
        ...
