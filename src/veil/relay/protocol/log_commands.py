"""Group-log commands (relay protocol version 4), one dataclass each; answers are in
``log_responses``.

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
    "LOG_RESPONSE_TAGS",
    "LOG_VERSION",
    "MAX_ENTRY_BODY",
    "SEQ_SIZE",
    "AcknowledgeEntries",
    "AddReader",
    "AddWriter",
    "CreateLog",
    "DeleteLog",
    "EndReason",
    "LogCommand",
    "LogTag",
    "PostEntry",
    "RemoveReader",
    "RemoveWriter",
    "SubscribeLog",
    "decode_log_command",
    "encode_log_command",
    "read_seq",
]

LOG_VERSION = 4
"""The first relay protocol version with group-log commands."""
LOG_ID_SIZE = 24
"""Log, reader and writer ids are 24 random bytes, like queue ids."""
MAX_ENTRY_BODY = 16_000
"""Largest posted body: a post and its delivery fit one block with room for a proxy."""
LOG_COMMAND_TAGS = range(0x30, 0x40)
LOG_RESPONSE_TAGS = range(0xB0, 0xC0)
SEQ_SIZE = 8


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


def read_seq(fields: bytes) -> int:
    """A ``u64`` sequence number that is the whole of ``fields``."""
    return int.from_bytes(exact_fields(fields, SEQ_SIZE), "big")


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
        return cls(read_seq(fields))


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
