"""Turning a batch of store changes into journal records, and what each does once written.

:func:`encode_batch` appends the records' bytes to ``parts`` (a sealed body is its
own part, never copied into a bigger buffer here) and, for each, an :data:`Effect`
on the journal's bookkeeping. The store applies the effects only once the write
succeeded, so a failed write leaves the bookkeeping as the files are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from veil.relay.server.store.base import (
    DeleteMessage,
    DeleteMessagesBefore,
    PutMessage,
    PutQueue,
    QueueRecord,
    RemoveQueue,
    SetSenderKey,
    SetSuspended,
    StoreChange,
    carried_body,
)
from veil.relay.server.store.journal_format import (
    Kind,
    encode_ids,
    encode_message_head,
    encode_queue,
    record_header,
    u64,
)
from veil.relay.server.store.journal_state import JournalState, Location, MessagePlace

__all__ = ["Effect", "encode_batch"]

Effect = tuple[Callable[..., object], tuple[object, ...]]
"""A bookkeeping call to make once the batch is written: (function, arguments)."""


class _Batch:
    """Records appended at ``offset`` onwards of segment ``head``."""

    __slots__ = ("effects", "head", "offset", "parts")

    def __init__(self, head: int, offset: int, parts: list[bytes], effects: list[Effect]) -> None:
        self.head, self.offset, self.parts, self.effects = head, offset, parts, effects

    def add(self, kind: Kind, *payload: bytes) -> Location:
        header = record_header(kind, *payload)
        self.parts.append(header)
        self.parts.extend(payload)
        size = len(header) + sum(len(part) for part in payload)
        location = (self.head, self.offset, size)
        self.offset += size
        return location


def encode_batch(
    state: JournalState,
    head: int,
    offset: int,
    changes: Sequence[StoreChange],
    *,
    parts: list[bytes],
    effects: list[Effect],
) -> None:
    """Append the records of ``changes`` (written at ``offset`` of ``head``) and their effects."""
    batch = _Batch(head, offset, parts, effects)
    # Queue records as this batch leaves them (None: removed), over the bookkeeping's.
    records: dict[bytes, QueueRecord | None] = {}
    seq = state.next_seq
    for change in changes:
        match change:
            case PutMessage(recipient_id, message):
                head_bytes = encode_message_head(recipient_id, message, seq)
                location = batch.add(Kind.MESSAGE, head_bytes, carried_body(message))
                place = MessagePlace(location, seq, message.stored)
                effects.append((state.put_message, (recipient_id, message.message_id, place)))
                seq += 1
            case DeleteMessage(recipient_id, message_id):
                batch.add(Kind.DELETE, encode_ids(recipient_id, message_id))
                effects.append((state.delete_message, (recipient_id, message_id)))
            case PutQueue(record):
                _put_queue(batch, state, records, record)
            case SetSenderKey(recipient_id, key):
                current = _current(state, records, recipient_id)
                if current is not None:
                    _put_queue(batch, state, records, replace(current, sender_auth_key=key))
            case SetSuspended(recipient_id):
                current = _current(state, records, recipient_id)
                if current is not None:
                    _put_queue(batch, state, records, replace(current, suspended=True))
            case RemoveQueue(recipient_id):
                records[recipient_id] = None
                batch.add(Kind.DROP, encode_ids(recipient_id))
                effects.append((state.drop_queue, (recipient_id,)))
            case DeleteMessagesBefore(cutoff):
                batch.add(Kind.EXPIRE, u64(cutoff))
                effects.append((state.expire, (cutoff,)))


def _current(
    state: JournalState, records: dict[bytes, QueueRecord | None], recipient_id: bytes
) -> QueueRecord | None:
    if recipient_id in records:
        return records[recipient_id]
    entry = state.queues.get(recipient_id)
    return None if entry is None else entry.record


def _put_queue(
    batch: _Batch,
    state: JournalState,
    records: dict[bytes, QueueRecord | None],
    record: QueueRecord,
) -> None:
    records[record.recipient_id] = record
    location = batch.add(Kind.QUEUE, encode_queue(record))
    batch.effects.append((state.put_queue, (record, location)))
