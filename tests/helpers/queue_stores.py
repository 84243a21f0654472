"""Queue records, messages and store openers shared by the queue-store tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from veil.relay.server.store.base import QueueRecord, QueueStore, StoredMessage, StoredQueue
from veil.relay.server.store.journal import JournalStore
from veil.relay.server.store.sqlite import SqliteStore

__all__ = ["STORES", "message", "record", "reopen"]

STORES: dict[str, Callable[[Path], QueueStore]] = {
    "sqlite": lambda folder: SqliteStore(folder / "relay.db"),
    "journal": lambda folder: JournalStore(folder / "relay.journal"),
}
"""Every durable store, by name, opened in a folder of its own."""


def record(index: int) -> QueueRecord:
    """A queue record with ids made from ``index``."""
    return QueueRecord(
        recipient_id=index.to_bytes(24, "big"),
        sender_id=(index + 1_000_000).to_bytes(24, "big"),
        recipient_auth_key=b"\x01" * 32,
        delivery_key=b"\x02" * 32,
        created=3600,
    )


def message(index: int, stored: int = 7200, size: int = 16) -> StoredMessage:
    """A message with an id made from ``index`` and a body of ``size`` bytes."""
    return StoredMessage(index.to_bytes(24, "big"), stored, bytes([index % 251]) * size)


async def reopen(store: QueueStore) -> list[StoredQueue]:
    """Open ``store`` and load everything, bodies read back from disk where they stay."""
    try:
        queues = await store.open()
        for queue in queues:
            if store.bodies_on_disk:
                assert all(m.sealed is None for m in queue.messages)
            queue.messages = [
                StoredMessage(m.message_id, m.stored, store.read_body(queue.record.recipient_id, m))
                for m in queue.messages
            ]
        return queues
    finally:
        await store.close()
