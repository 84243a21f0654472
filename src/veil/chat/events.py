"""Chat content events: what one contact says to another inside the encrypted channel.

Each event is a frozen dataclass named for what happened. :func:`encode_event` and
:func:`decode_event` are the only way in and out of bytes: a version byte, a tag
byte, then the event's fields (layout in ``docs/protocol/chat.md``). Decoding is
strict: unknown versions and tags, over-cap fields, invalid UTF-8, control
characters and trailing bytes are all rejected with a :class:`ChatProtocolError`.

A reply is a :class:`MessagePosted` whose ``reply_to`` names the quoted message.
Messages are named by a random :data:`MESSAGE_ID_SIZE`-byte id chosen by their
author, so edits, deletions, reactions and receipts can point at them from either
side without depending on the agent's sequence numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, TypeAlias

from veil.chat.errors import MalformedEvent, UnsupportedEventVersion
from veil.chat.profile import Profile
from veil.chat.text import read_text, validate_emoji, validate_text, write_text
from veil.crypto import RandomSource
from veil.files.description import MAX_INLINE_DESCRIPTION
from veil.files.images import MAX_PREVIEW_BYTES
from veil.wire import Reader, VersionRange, WireError, Writer

__all__ = [
    "CHAT_EVENT_VERSION",
    "CHAT_EVENT_VERSIONS",
    "MAX_EMOJI_BYTES",
    "MAX_RECEIPT_IDS",
    "MAX_TEXT_BYTES",
    "MESSAGE_ID_SIZE",
    "ChatEvent",
    "FileOffered",
    "MessageDeleted",
    "MessageEdited",
    "MessagePosted",
    "ProfileUpdated",
    "ReactionChanged",
    "ReceiptIssued",
    "ReceiptStatus",
    "decode_event",
    "encode_event",
    "new_message_id",
]

CHAT_EVENT_VERSIONS = VersionRange(1, 1)
"""Event encoding versions this client reads; it writes the lowest, which every
client of the range reads too (docs/protocol/chat.md, "Event versions")."""
CHAT_EVENT_VERSION = CHAT_EVENT_VERSIONS.minimum
MESSAGE_ID_SIZE = 16
# Leaves room in one 16 KiB relay block for the ratchet's post-quantum header,
# the agent envelope and the relay's own framing.
MAX_TEXT_BYTES = 10_000
MAX_EMOJI_BYTES = 32
MAX_RECEIPT_IDS = 64

_NO_REPLY, _REPLY = 0, 1


def new_message_id(rng: RandomSource) -> bytes:
    """Draw a fresh message id for an outgoing :class:`MessagePosted`."""
    return rng.random_bytes(MESSAGE_ID_SIZE)


def _check_message_id(message_id: bytes, field: str) -> None:
    if len(message_id) != MESSAGE_ID_SIZE:
        raise ValueError(f"{field} must be {MESSAGE_ID_SIZE} bytes, got {len(message_id)}")


def _check_message_text(text: str) -> None:
    validate_text(text, field="text", max_bytes=MAX_TEXT_BYTES, multiline=True)


def _read_message_text(reader: Reader) -> str:
    return read_text(reader, field="text", max_bytes=MAX_TEXT_BYTES, multiline=True)


@dataclass(frozen=True, slots=True)
class MessagePosted:
    """The author posted a text message, optionally as a reply to ``reply_to``."""

    TAG: ClassVar[int] = 1

    message_id: bytes
    text: str
    sent_at_ms: int
    reply_to: bytes | None = None

    def __post_init__(self) -> None:
        _check_message_id(self.message_id, "message_id")
        if self.reply_to is not None:
            _check_message_id(self.reply_to, "reply_to")
        _check_message_text(self.text)
        if not 0 <= self.sent_at_ms < 2**64:
            raise ValueError(f"sent_at_ms out of range: {self.sent_at_ms}")

    def encode_fields(self, writer: Writer) -> None:
        """Append this event's fields."""
        writer.raw(self.message_id).u64(self.sent_at_ms)
        if self.reply_to is None:
            writer.u8(_NO_REPLY)
        else:
            writer.u8(_REPLY).raw(self.reply_to)
        write_text(writer, self.text)

    @classmethod
    def decode_fields(cls, reader: Reader) -> MessagePosted:
        """Read the fields written by :meth:`encode_fields`."""
        message_id = reader.raw(MESSAGE_ID_SIZE)
        sent_at_ms = reader.u64()
        flag = reader.u8()
        if flag not in (_NO_REPLY, _REPLY):
            raise MalformedEvent(f"bad reply flag {flag}")
        reply_to = reader.raw(MESSAGE_ID_SIZE) if flag == _REPLY else None
        return cls(message_id, _read_message_text(reader), sent_at_ms, reply_to)


@dataclass(frozen=True, slots=True)
class MessageEdited:
    """The author replaced the text of their own message ``target_id``."""

    TAG: ClassVar[int] = 2

    target_id: bytes
    text: str

    def __post_init__(self) -> None:
        _check_message_id(self.target_id, "target_id")
        _check_message_text(self.text)

    def encode_fields(self, writer: Writer) -> None:
        """Append this event's fields."""
        write_text(writer.raw(self.target_id), self.text)

    @classmethod
    def decode_fields(cls, reader: Reader) -> MessageEdited:
        """Read the fields written by :meth:`encode_fields`."""
        return cls(reader.raw(MESSAGE_ID_SIZE), _read_message_text(reader))


@dataclass(frozen=True, slots=True)
class MessageDeleted:
    """The author deleted their own message ``target_id`` for everyone."""

    TAG: ClassVar[int] = 3

    target_id: bytes

    def __post_init__(self) -> None:
        _check_message_id(self.target_id, "target_id")

    def encode_fields(self, writer: Writer) -> None:
        """Append this event's fields."""
        writer.raw(self.target_id)

    @classmethod
    def decode_fields(cls, reader: Reader) -> MessageDeleted:
        """Read the fields written by :meth:`encode_fields`."""
        return cls(reader.raw(MESSAGE_ID_SIZE))


@dataclass(frozen=True, slots=True)
class ReactionChanged:
    """The author added (or, with ``added=False``, withdrew) ``emoji`` on ``target_id``."""

    TAG: ClassVar[int] = 4

    target_id: bytes
    emoji: str
    added: bool

    def __post_init__(self) -> None:
        _check_message_id(self.target_id, "target_id")
        validate_text(self.emoji, field="emoji", max_bytes=MAX_EMOJI_BYTES, multiline=False)
        validate_emoji(self.emoji)

    def encode_fields(self, writer: Writer) -> None:
        """Append this event's fields."""
        write_text(writer.raw(self.target_id), self.emoji)
        writer.u8(int(self.added))

    @classmethod
    def decode_fields(cls, reader: Reader) -> ReactionChanged:
        """Read the fields written by :meth:`encode_fields`."""
        target_id = reader.raw(MESSAGE_ID_SIZE)
        emoji = read_text(reader, field="emoji", max_bytes=MAX_EMOJI_BYTES, multiline=False)
        added = reader.u8()
        if added not in (0, 1):
            raise MalformedEvent(f"bad reaction flag {added}")
        return cls(target_id, emoji, bool(added))


class ReceiptStatus(IntEnum):
    """How far a message got on the reader's side."""

    DELIVERED = 1
    READ = 2


@dataclass(frozen=True, slots=True)
class ReceiptIssued:
    """The reader reports ``status`` for each message in ``message_ids``."""

    TAG: ClassVar[int] = 5

    status: ReceiptStatus
    message_ids: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.message_ids) <= MAX_RECEIPT_IDS:
            raise ValueError(f"a receipt names 1..{MAX_RECEIPT_IDS} messages")
        for message_id in self.message_ids:
            _check_message_id(message_id, "message_ids")

    def encode_fields(self, writer: Writer) -> None:
        """Append this event's fields."""
        writer.u8(self.status).u8(len(self.message_ids))
        for message_id in self.message_ids:
            writer.raw(message_id)

    @classmethod
    def decode_fields(cls, reader: Reader) -> ReceiptIssued:
        """Read the fields written by :meth:`encode_fields`."""
        raw_status = reader.u8()
        try:
            status = ReceiptStatus(raw_status)
        except ValueError as exc:
            raise MalformedEvent(f"unknown receipt status {raw_status}") from exc
        count = reader.u8()
        if not 1 <= count <= MAX_RECEIPT_IDS:
            raise MalformedEvent(f"receipt names {count} messages")
        return cls(status, tuple(reader.raw(MESSAGE_ID_SIZE) for _ in range(count)))


@dataclass(frozen=True, slots=True)
class ProfileUpdated:
    """The author changed their profile."""

    TAG: ClassVar[int] = 6

    profile: Profile

    def encode_fields(self, writer: Writer) -> None:
        """Append this event's fields."""
        self.profile.encode(writer)

    @classmethod
    def decode_fields(cls, reader: Reader) -> ProfileUpdated:
        """Read the fields written by :meth:`encode_fields`."""
        return cls(Profile.decode(reader))


@dataclass(frozen=True, slots=True)
class FileOffered:
    """The author sends a file: its encoded description (``files.md`` section 4, a
    FILE or a REDIRECT) and an inline preview (a small JPEG, or empty).

    The description is decoded, strictly, by the chat's file handling, not here.
    """

    TAG: ClassVar[int] = 7

    message_id: bytes
    sent_at_ms: int
    description: bytes
    preview: bytes = b""

    def __post_init__(self) -> None:
        _check_message_id(self.message_id, "message_id")
        if not 0 < len(self.description) <= MAX_INLINE_DESCRIPTION:
            raise ValueError(f"a file description holds 1..{MAX_INLINE_DESCRIPTION} bytes")
        if len(self.preview) > MAX_PREVIEW_BYTES:
            raise ValueError(f"a preview holds at most {MAX_PREVIEW_BYTES} bytes")
        if not 0 <= self.sent_at_ms < 2**64:
            raise ValueError(f"sent_at_ms out of range: {self.sent_at_ms}")

    def encode_fields(self, writer: Writer) -> None:
        """Append this event's fields."""
        writer.raw(self.message_id).u64(self.sent_at_ms)
        writer.bytes16(self.description).bytes16(self.preview)

    @classmethod
    def decode_fields(cls, reader: Reader) -> FileOffered:
        """Read the fields written by :meth:`encode_fields`."""
        message_id, sent_at_ms = reader.raw(MESSAGE_ID_SIZE), reader.u64()
        description = reader.bytes16(MAX_INLINE_DESCRIPTION)
        return cls(message_id, sent_at_ms, description, reader.bytes16(MAX_PREVIEW_BYTES))


ChatEvent: TypeAlias = (
    MessagePosted
    | MessageEdited
    | MessageDeleted
    | ReactionChanged
    | ReceiptIssued
    | ProfileUpdated
    | FileOffered
)

_DECODERS: dict[int, Callable[[Reader], ChatEvent]] = {
    kind.TAG: kind.decode_fields
    for kind in (
        MessagePosted,
        MessageEdited,
        MessageDeleted,
        ReactionChanged,
        ReceiptIssued,
        ProfileUpdated,
        FileOffered,
    )
}


def encode_event(event: ChatEvent) -> bytes:
    """Serialise ``event``: version byte, tag byte, fields."""
    writer = Writer().u8(CHAT_EVENT_VERSION).u8(event.TAG)
    event.encode_fields(writer)
    return writer.build()


def decode_event(data: bytes) -> ChatEvent:
    """Parse bytes from :func:`encode_event`; :class:`ChatProtocolError` on any fault."""
    reader = Reader(data)
    try:
        version = reader.u8()
        if version not in CHAT_EVENT_VERSIONS:
            newer = version > CHAT_EVENT_VERSIONS.maximum
            raise UnsupportedEventVersion(
                f"chat event version {version} is outside {CHAT_EVENT_VERSIONS.minimum}.."
                f"{CHAT_EVENT_VERSIONS.maximum}"
                + (": the sender runs a newer Veil; update to read it" if newer else "")
            )
        tag = reader.u8()
        decoder = _DECODERS.get(tag)
        if decoder is None:
            raise MalformedEvent(f"unknown chat event tag {tag}")
        event = decoder(reader)
        reader.finish()
    except (WireError, ValueError) as exc:  # ValueError: a field failed its dataclass check
        raise MalformedEvent(f"bad chat event: {exc}") from exc
    return event
