"""Group-log commands and their answers (relay protocol version 4), one dataclass each.

A group log is an append-only list of entries with one total order: an admin
makes it and names its writers and readers, writers post, each reader reads from
its own cursor. Commands use tags ``0x30..0x3F``, answers ``0xB0..0xBF``; ``OK``
and ``ERR`` are the queue protocol's. See ``docs/protocol/relay.md`` section 10
for every layout and rule. Decoding is strict as for queue commands: fixed-size
fields, capped lengths, no trailing bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from veil.relay.protocol.errors import (
    BadCommand,
    MessageTooLarge,
    UnexpectedResponse,
    UnknownCommand,
)
from veil.relay.protocol.queue_commands import (
    KEY_SIZE,
    MAX_DELIVERY_WINDOW,
    MAX_PASSWORD_SIZE,
    FieldlessBody,
    exact_fields,
)
from veil.wire import DecodeError, Reader, WireError, Writer

__all__ = [
    "LOG_COMMAND_TAGS",
    "LOG_ID_SIZE",
    "LOG_NONCE_SIZE",
    "LOG_RESPONSE_TAGS",
    "LOG_VERSION",
    "MAX_ENTRY_BODY",
    "MAX_SEALED_ENTRY",
    "AcknowledgeEntries",
    "AddReader",
    "AddWriter",
    "CreateLog",
    "DeleteLog",
    "EndReason",
    "EntryDelivered",
    "EntryPosted",
    "LogCommand",
    "LogCreated",
    "LogResponse",
    "LogSubscriptionEnded",
    "LogTag",
    "PostEntry",
    "ReaderAdded",
    "RemoveReader",
    "RemoveWriter",
    "SubscribeLog",
    "SubscriptionPosition",
    "WriterAdded",
    "decode_log_command",
    "decode_log_response",
    "encode_log_command",
    "encode_log_response",
]

LOG_VERSION = 4
"""The first relay protocol version with group-log commands."""
LOG_ID_SIZE = 24
"""Log, reader and writer ids are 24 random bytes, like queue ids."""
LOG_NONCE_SIZE = 12
MAX_ENTRY_BODY = 16_000
"""Largest posted body: a post and its delivery fit one block with room for a proxy."""
_DELIVERY_OVERHEAD = 8 + 16
MAX_SEALED_ENTRY = MAX_ENTRY_BODY + _DELIVERY_OVERHEAD
"""Cap on a delivered entry's sealed frame (``u64 timestamp || body`` plus the GCM tag)."""
LOG_COMMAND_TAGS = range(0x30, 0x40)
LOG_RESPONSE_TAGS = range(0xB0, 0xC0)
_SEQ_SIZE = 8


class LogTag(IntEnum):
    """The first byte of every group-log command (0x3_) and answer (0xB_)."""

    LNEW = 0x30
    LRADD = 0x31
    LRDEL = 0x32
    LWADD = 0x33
    LWDEL = 0x34
    LDEL = 0x35
    LPOST = 0x36
    LSUB = 0x37
    LACK = 0x38
    LIDS = 0xB0
    LRDR = 0xB1
    LWRT = 0xB2
    LSEQ = 0xB3
    LPOS = 0xB4
    LENT = 0xB5
    LEND = 0xB6


class EndReason(IntEnum):
    """Why ``LEND`` ended a reader's subscription."""

    REPLACED = 1
    """Another connection subscribed as the same reader."""
    REMOVED = 2
    """The admin removed the reader."""
    DELETED = 3
    """The admin deleted the log."""


def _seq(fields: bytes) -> int:
    return int.from_bytes(exact_fields(fields, _SEQ_SIZE), "big")


@dataclass(frozen=True, slots=True)
class CreateLog:
    """``LNEW``: make a log; authorised by ``admin_auth_key`` itself."""

    tag: ClassVar[LogTag] = LogTag.LNEW
    admin_auth_key: bytes
    password: bytes = b""

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.admin_auth_key).bytes8(self.password)

    @classmethod
    def decode(cls, fields: bytes) -> CreateLog:
        """Read the fields."""
        reader = Reader(fields)
        command = cls(reader.raw(KEY_SIZE), reader.bytes8(MAX_PASSWORD_SIZE))
        reader.finish()
        return command


@dataclass(frozen=True, slots=True)
class AddReader:
    """``LRADD``: the admin adds a reader with its auth key and its delivery DH key."""

    tag: ClassVar[LogTag] = LogTag.LRADD
    reader_auth_key: bytes
    reader_dh_key: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.reader_auth_key).raw(self.reader_dh_key)

    @classmethod
    def decode(cls, fields: bytes) -> AddReader:
        """Read the fields."""
        exact_fields(fields, 2 * KEY_SIZE)
        return cls(fields[:KEY_SIZE], fields[KEY_SIZE:])


@dataclass(frozen=True, slots=True)
class RemoveReader:
    """``LRDEL``: the admin removes a reader; its subscription ends."""

    tag: ClassVar[LogTag] = LogTag.LRDEL
    reader_id: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.reader_id)

    @classmethod
    def decode(cls, fields: bytes) -> RemoveReader:
        """Read the fields."""
        return cls(exact_fields(fields, LOG_ID_SIZE))


@dataclass(frozen=True, slots=True)
class AddWriter:
    """``LWADD``: the admin adds a writer with its auth key."""

    tag: ClassVar[LogTag] = LogTag.LWADD
    writer_auth_key: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.writer_auth_key)

    @classmethod
    def decode(cls, fields: bytes) -> AddWriter:
        """Read the fields."""
        return cls(exact_fields(fields, KEY_SIZE))


@dataclass(frozen=True, slots=True)
class RemoveWriter:
    """``LWDEL``: the admin removes a writer; its posts are refused from then on."""

    tag: ClassVar[LogTag] = LogTag.LWDEL
    writer_id: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.writer_id)

    @classmethod
    def decode(cls, fields: bytes) -> RemoveWriter:
        """Read the fields."""
        return cls(exact_fields(fields, LOG_ID_SIZE))


@dataclass(frozen=True, slots=True)
class DeleteLog(FieldlessBody):
    """``LDEL``: the admin deletes the log, its members and its entries."""

    tag: ClassVar[LogTag] = LogTag.LDEL


@dataclass(frozen=True, slots=True)
class PostEntry:
    """``LPOST``: a writer appends one entry."""

    tag: ClassVar[LogTag] = LogTag.LPOST
    body: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.bytes16(self.body)

    @classmethod
    def decode(cls, fields: bytes) -> PostEntry:
        """Read the fields; an oversized body raises :class:`MessageTooLarge`."""
        if len(fields) < 2:
            raise DecodeError("LPOST is shorter than its header")
        length = int.from_bytes(fields[:2], "big")
        if length > MAX_ENTRY_BODY:
            raise MessageTooLarge(f"{length}-byte entry exceeds {MAX_ENTRY_BODY}")
        return cls(exact_fields(fields, 2 + length)[2:])


@dataclass(frozen=True, slots=True)
class SubscribeLog:
    """``LSUB``: a reader subscribes from its cursor with a delivery window."""

    tag: ClassVar[LogTag] = LogTag.LSUB
    window: int

    def __post_init__(self) -> None:
        if not 1 <= self.window <= MAX_DELIVERY_WINDOW:
            raise ValueError(f"delivery window must be in 1..{MAX_DELIVERY_WINDOW}")

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.u8(self.window)

    @classmethod
    def decode(cls, fields: bytes) -> SubscribeLog:
        """Read the window (one byte, never zero)."""
        if exact_fields(fields, 1)[0] == 0:
            raise DecodeError("a delivery window of zero")
        return cls(fields[0])


@dataclass(frozen=True, slots=True)
class AcknowledgeEntries:
    """``LACK``: the reader handled every entry up to and including ``seq``."""

    tag: ClassVar[LogTag] = LogTag.LACK
    seq: int

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.u64(self.seq)

    @classmethod
    def decode(cls, fields: bytes) -> AcknowledgeEntries:
        """Read the fields."""
        return cls(_seq(fields))


LogCommand = (
    CreateLog
    | AddReader
    | RemoveReader
    | AddWriter
    | RemoveWriter
    | DeleteLog
    | PostEntry
    | SubscribeLog
    | AcknowledgeEntries
)
_COMMANDS: dict[int, type[LogCommand]] = {
    cls.tag: cls
    for cls in (
        CreateLog,
        AddReader,
        RemoveReader,
        AddWriter,
        RemoveWriter,
        DeleteLog,
        PostEntry,
        SubscribeLog,
        AcknowledgeEntries,
    )
}


def encode_log_command(command: LogCommand) -> bytes:
    """Encode a command as ``tag || fields``."""
    writer = Writer().u8(command.tag)
    command.encode(writer)
    return writer.build()


def decode_log_command(data: bytes) -> LogCommand:
    """Decode a group-log command: :class:`UnknownCommand` for an unknown tag,
    :class:`BadCommand` for malformed fields, :class:`MessageTooLarge` for an oversized body."""
    if not data:
        raise BadCommand("empty command")
    command_class = _COMMANDS.get(data[0])
    if command_class is None:
        raise UnknownCommand(f"unknown group-log command tag {data[0]:#04x}")
    try:
        return command_class.decode(data[1:])
    except WireError as exc:
        raise BadCommand(f"malformed {command_class.tag.name}: {exc}") from exc


# -- answers --------------------------------------------------------------------------


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
        exact_fields(fields, key_end + _SEQ_SIZE)
        return cls(fields[:LOG_ID_SIZE], fields[LOG_ID_SIZE:key_end], _seq(fields[key_end:]))


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
        return cls(_seq(fields))


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
        exact_fields(fields, 2 * _SEQ_SIZE)
        return cls(_seq(fields[:_SEQ_SIZE]), _seq(fields[_SEQ_SIZE:]))


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
        """Read the fields."""
        reader = Reader(fields)
        seq, nonce = reader.u64(), reader.raw(LOG_NONCE_SIZE)
        sealed = reader.bytes16(MAX_SEALED_ENTRY)
        reader.finish()
        return cls(seq, nonce, sealed)


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


def encode_log_response(response: LogResponse) -> bytes:
    """Encode an answer as ``tag || fields``."""
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
