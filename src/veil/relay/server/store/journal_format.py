"""Records of the queue journal: how each store change is laid out in a segment file.

A segment file is a 16-byte header (:data:`SEGMENT_MAGIC`, then the segment's
number as ``u64``) followed by records. A record is::

    crc32 u32 | length u32 | kind u8 | payload (length bytes)

``crc32`` (zlib's CRC-32) covers ``length``, ``kind`` and the payload, so a flipped
bit or a torn write anywhere in a record is found when the record is read. The
payload of each kind (all integers little-endian; ``id`` is ``u8`` length + bytes)::

    QUEUE    recipient_id, sender_id, recipient_auth_key, delivery_key,
             sender_auth_key (empty: not secured), suspended u8, created u64
    DROP     recipient_id                        -- the queue and its messages
    MESSAGE  recipient_id, message_id, seq u64, stored u64, sealed (the rest)
    DELETE   recipient_id, message_id            -- one acknowledged message
    EXPIRE   cutoff u64                          -- retention: messages before it
    COMMIT   (empty)                             -- the records before it are one batch

A ``QUEUE`` record always holds the whole queue record, so only the newest one of a
queue matters. ``seq`` orders a queue's messages even after compaction moved older
ones behind newer ones. Records after the last ``COMMIT`` were never acknowledged.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

from veil.relay.protocol.errors import StoreFailed
from veil.relay.server.store.base import QueueRecord, StoredMessage

__all__ = [
    "HEADER",
    "MAX_PAYLOAD",
    "SEGMENT_HEADER",
    "SEGMENT_MAGIC",
    "Kind",
    "MessageEntry",
    "RecordDamaged",
    "checksum",
    "decode_ids",
    "decode_message",
    "decode_queue",
    "encode_commit",
    "encode_ids",
    "encode_message_head",
    "encode_queue",
    "read_message_body",
    "record_header",
    "segment_header",
    "u64",
]

SEGMENT_MAGIC = b"veil-qj1"
SEGMENT_HEADER = struct.Struct("<8sQ")
HEADER = struct.Struct("<IIB")
"""crc32, payload length, kind."""
MAX_PAYLOAD = 1 << 20
"""No record is larger (a sealed body is under 16 KiB): a bigger length is damage."""
_LENGTH_KIND = struct.Struct("<IB")
_U64 = struct.Struct("<Q")
_MESSAGE_TAIL = struct.Struct("<QQ")
# The shape almost every QUEUE record has (24-byte ids, 32-byte keys, secured): read in
# one call at start, where a relay with a million queues spends its time.
_SECURED_QUEUE = struct.Struct("<B24sB24sB32sB32sB32sBQ")
_SECURED_LENGTHS = (24, 24, 32, 32, 32)


class Kind(IntEnum):
    """What a record says."""

    QUEUE = 1
    DROP = 2
    MESSAGE = 3
    DELETE = 4
    EXPIRE = 5
    COMMIT = 6


class RecordDamaged(StoreFailed):
    """A record's bytes are not a well-formed record of its kind (damage on disk)."""


@dataclass(frozen=True, slots=True)
class MessageEntry:
    """A decoded ``MESSAGE`` record."""

    recipient_id: bytes
    seq: int
    message: StoredMessage


def segment_header(number: int) -> bytes:
    """The first bytes of segment ``number``."""
    return SEGMENT_HEADER.pack(SEGMENT_MAGIC, number)


def checksum(length: int, kind: int, *parts: bytes | memoryview) -> int:
    """CRC-32 of a record's length, kind and payload ``parts`` (concatenated).

    In a record these bytes are contiguous (everything after the CRC), so a reader
    may equally take ``zlib.crc32`` of that span.
    """
    crc = zlib.crc32(_LENGTH_KIND.pack(length, kind))
    for part in parts:
        crc = zlib.crc32(part, crc)
    return crc


def record_header(kind: Kind, *parts: bytes) -> bytes:
    """The 9-byte header of a record whose payload is ``parts`` concatenated."""
    length = sum(len(part) for part in parts)
    return HEADER.pack(checksum(length, kind, *parts), length, kind)


def u64(value: int) -> bytes:
    """An unsigned 64-bit little-endian integer."""
    return _U64.pack(value)


def encode_ids(*values: bytes) -> bytes:
    """Length-prefixed (``u8``) byte strings, one after the other."""
    return b"".join(bytes((len(value),)) + value for value in values)


def encode_queue(record: QueueRecord) -> bytes:
    """The payload of a ``QUEUE`` record."""
    ids = encode_ids(
        record.recipient_id,
        record.sender_id,
        record.recipient_auth_key,
        record.delivery_key,
        record.sender_auth_key or b"",
    )
    return ids + bytes((int(record.suspended),)) + _U64.pack(record.created)


def encode_message_head(recipient_id: bytes, message: StoredMessage, seq: int) -> bytes:
    """The payload of a ``MESSAGE`` record up to the sealed body, which follows it."""
    return encode_ids(recipient_id, message.message_id) + _MESSAGE_TAIL.pack(seq, message.stored)


def encode_commit() -> bytes:
    """A whole ``COMMIT`` record."""
    return record_header(Kind.COMMIT)


def decode_ids(payload: bytes, count: int) -> tuple[list[bytes], int]:
    """``count`` length-prefixed strings from the start of ``payload``, and where they end."""
    values, offset, size = [], 0, len(payload)
    for _ in range(count):
        if offset >= size:
            raise RecordDamaged("record ends inside an id")
        end = offset + 1 + payload[offset]
        if end > size:
            raise RecordDamaged("id runs past the record")
        values.append(payload[offset + 1 : end])
        offset = end
    return values, offset


def decode_queue(payload: bytes) -> QueueRecord:
    """A ``QUEUE`` record's queue."""
    if len(payload) == _SECURED_QUEUE.size:
        fields = _SECURED_QUEUE.unpack(payload)
        if fields[0:10:2] == _SECURED_LENGTHS and fields[10] <= 1:
            key = fields[1:10:2]
            return QueueRecord(key[0], key[1], key[2], key[3], key[4], bool(fields[10]), fields[11])
    ids, offset = decode_ids(payload, 5)
    if len(payload) != offset + 9 or payload[offset] > 1:
        raise RecordDamaged("queue record has a bad tail")
    (created,) = _U64.unpack_from(payload, offset + 1)
    sender_auth_key = ids[4] or None
    return QueueRecord(
        ids[0], ids[1], ids[2], ids[3], sender_auth_key, bool(payload[offset]), created
    )


def decode_message(payload: bytes, *, with_body: bool = True) -> MessageEntry:
    """A ``MESSAGE`` record's message (``with_body=False``: its ``sealed`` is ``None``)."""
    (recipient_id, message_id), offset = decode_ids(payload, 2)
    if len(payload) < offset + _MESSAGE_TAIL.size:
        raise RecordDamaged("message record is too short")
    seq, stored = _MESSAGE_TAIL.unpack_from(payload, offset)
    sealed = payload[offset + _MESSAGE_TAIL.size :] if with_body else None
    return MessageEntry(recipient_id, seq, StoredMessage(message_id, stored, sealed))


def read_message_body(record: bytes, recipient_id: bytes, message_id: bytes) -> bytes | None:
    """The sealed body in a whole ``MESSAGE`` record read back from disk, or ``None``
    if the record fails its CRC or is not that message's record."""
    if len(record) < HEADER.size:
        return None
    crc, length, kind = HEADER.unpack_from(record)
    if kind != Kind.MESSAGE or length != len(record) - HEADER.size:
        return None
    if zlib.crc32(memoryview(record)[4:]) != crc:
        return None
    try:
        entry = decode_message(record[HEADER.size :])
    except RecordDamaged:
        return None
    if (entry.recipient_id, entry.message.message_id) != (recipient_id, message_id):
        return None
    return entry.message.sealed
