"""Answers (relay to client) to the group-log commands, one dataclass each.

An answer is ``u8 tag || fields`` with a tag ``0xB_`` of
:class:`~veil.relay.protocol.log_commands.LogTag`; ``OK`` and ``ERR`` are the queue
protocol's. See ``docs/protocol/relay.md`` section 10. Decoding is strict: fixed-size
fields, capped lengths, no trailing bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from veil.relay.protocol.errors import UnexpectedResponse
from veil.relay.protocol.log_commands import (
    LOG_ID_SIZE,
    MAX_ENTRY_BODY,
    SEQ_SIZE,
    EndReason,
    LogTag,
    read_seq,
)
from veil.relay.protocol.queue_commands import KEY_SIZE, exact_fields
from veil.wire import DecodeError, WireError, Writer

__all__ = [
    "LOG_NONCE_SIZE",
    "MAX_SEALED_ENTRY",
    "EntryDelivered",
    "EntryPosted",
    "LogCreated",
    "LogResponse",
    "LogSubscriptionEnded",
    "ReaderAdded",
    "SubscriptionPosition",
    "WriterAdded",
    "decode_log_response",
    "encode_entry_delivered",
    "encode_log_response",
]

LOG_NONCE_SIZE = 12
_DELIVERY_OVERHEAD = 8 + 16
MAX_SEALED_ENTRY = MAX_ENTRY_BODY + _DELIVERY_OVERHEAD
"""Cap on a delivered entry's sealed frame (``u64 timestamp || body`` plus the GCM tag)."""


@dataclass(frozen=True, slots=True)
class LogCreated:
    """``LIDS``: answer to ``LNEW``: the log's admin id."""

    tag: ClassVar[LogTag] = LogTag.LIDS
    log_id: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.log_id)

    @classmethod
    def decode(cls, fields: bytes) -> LogCreated:
        """Read the fields."""
        return cls(exact_fields(fields, LOG_ID_SIZE))


@dataclass(frozen=True, slots=True)
class ReaderAdded:
    """``LRDR``: answer to ``LRADD``: the reader's id, the relay's DH key for it, and
    its first cursor (the sequence number of the next entry to be posted)."""

    tag: ClassVar[LogTag] = LogTag.LRDR
    reader_id: bytes
    relay_dh_key: bytes
    cursor: int

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.reader_id).raw(self.relay_dh_key).u64(self.cursor)

    @classmethod
    def decode(cls, fields: bytes) -> ReaderAdded:
        """Read the fields."""
        key_end = LOG_ID_SIZE + KEY_SIZE
        exact_fields(fields, key_end + SEQ_SIZE)
        return cls(fields[:LOG_ID_SIZE], fields[LOG_ID_SIZE:key_end], read_seq(fields[key_end:]))


@dataclass(frozen=True, slots=True)
class WriterAdded:
    """``LWRT``: answer to ``LWADD``: the writer's id."""

    tag: ClassVar[LogTag] = LogTag.LWRT
    writer_id: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.writer_id)

    @classmethod
    def decode(cls, fields: bytes) -> WriterAdded:
        """Read the fields."""
        return cls(exact_fields(fields, LOG_ID_SIZE))


@dataclass(frozen=True, slots=True)
class EntryPosted:
    """``LSEQ``: answer to ``LPOST`` once the entry is durable: its place in the order."""

    tag: ClassVar[LogTag] = LogTag.LSEQ
    seq: int

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.u64(self.seq)

    @classmethod
    def decode(cls, fields: bytes) -> EntryPosted:
        """Read the fields."""
        return cls(read_seq(fields))


@dataclass(frozen=True, slots=True)
class SubscriptionPosition:
    """``LPOS``: answer to ``LSUB``: the reader's ``cursor`` and the ``oldest`` entry
    the log still holds (``oldest > cursor``: entries the reader never acknowledged
    are gone, past retention)."""

    tag: ClassVar[LogTag] = LogTag.LPOS
    cursor: int
    oldest: int

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.u64(self.cursor).u64(self.oldest)

    @classmethod
    def decode(cls, fields: bytes) -> SubscriptionPosition:
        """Read the fields."""
        exact_fields(fields, 2 * SEQ_SIZE)
        return cls(read_seq(fields[:SEQ_SIZE]), read_seq(fields[SEQ_SIZE:]))


@dataclass(frozen=True, slots=True)
class EntryDelivered:
    """``LENT`` (push): entry ``seq`` sealed for this reader under a fresh ``nonce``."""

    tag: ClassVar[LogTag] = LogTag.LENT
    seq: int
    nonce: bytes
    sealed: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.u64(self.seq).raw(self.nonce).bytes16(self.sealed)

    @classmethod
    def decode(cls, fields: bytes) -> EntryDelivered:
        """Read the fields (slicing: every reader decodes one per entry)."""
        header = SEQ_SIZE + LOG_NONCE_SIZE + 2
        if len(fields) < header:
            raise DecodeError("LENT is shorter than its header")
        length = int.from_bytes(fields[header - 2 : header], "big")
        if length > MAX_SEALED_ENTRY:
            raise DecodeError(f"sealed entry of {length} bytes exceeds its cap")
        exact_fields(fields, header + length)
        nonce = fields[SEQ_SIZE : SEQ_SIZE + LOG_NONCE_SIZE]
        return cls(read_seq(fields[:SEQ_SIZE]), nonce, fields[header:])


@dataclass(frozen=True, slots=True)
class LogSubscriptionEnded:
    """``LEND`` (push): this connection no longer receives the reader's entries."""

    tag: ClassVar[LogTag] = LogTag.LEND
    reason: EndReason

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.u8(self.reason)

    @classmethod
    def decode(cls, fields: bytes) -> LogSubscriptionEnded:
        """Read the fields."""
        try:
            return cls(EndReason(exact_fields(fields, 1)[0]))
        except ValueError as exc:
            raise DecodeError(f"unknown LEND reason {fields[0]}") from exc


LogResponse = (
    LogCreated
    | ReaderAdded
    | WriterAdded
    | EntryPosted
    | SubscriptionPosition
    | EntryDelivered
    | LogSubscriptionEnded
)
_RESPONSES: dict[int, type[LogResponse]] = {
    cls.tag: cls
    for cls in (
        LogCreated,
        ReaderAdded,
        WriterAdded,
        EntryPosted,
        SubscriptionPosition,
        EntryDelivered,
        LogSubscriptionEnded,
    )
}


_LENT_TAG = bytes((LogTag.LENT,))


def encode_entry_delivered(seq: int, nonce: bytes, sealed: bytes) -> bytes:
    """``LENT`` encoded without building the :class:`EntryDelivered` (the relay's hot
    path: one per reader per entry); the same bytes as :func:`encode_log_response`."""
    length = len(sealed).to_bytes(2, "big")
    return _LENT_TAG + seq.to_bytes(SEQ_SIZE, "big") + nonce + length + sealed


def encode_log_response(response: LogResponse) -> bytes:
    """Encode an answer as ``tag || fields``."""
    if isinstance(response, EntryDelivered):  # skip the writer
        return encode_entry_delivered(response.seq, response.nonce, response.sealed)
    writer = Writer().u8(response.tag)
    response.encode(writer)
    return writer.build()


def decode_log_response(data: bytes) -> LogResponse:
    """Decode a group-log answer; :class:`UnexpectedResponse` if invalid."""
    response_class = _RESPONSES.get(data[0]) if data else None
    if response_class is None:
        raise UnexpectedResponse("empty answer or unknown group-log answer tag")
    try:
        return response_class.decode(data[1:])
    except WireError as exc:
        raise UnexpectedResponse(f"malformed {response_class.tag.name}: {exc}") from exc
