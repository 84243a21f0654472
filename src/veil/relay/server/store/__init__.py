"""Durable storage of queues and undelivered messages behind one small interface."""

from veil.relay.server.store.base import (
    STORE_FORMAT_VERSION,
    DeleteMessage,
    DeleteMessagesBefore,
    PutMessage,
    PutQueue,
    QueueRecord,
    QueueStore,
    RemoveQueue,
    SetSenderKey,
    SetSuspended,
    StoreChange,
    StoredMessage,
    StoredQueue,
    coarse_time,
)

__all__ = [
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
    "coarse_time",
]
