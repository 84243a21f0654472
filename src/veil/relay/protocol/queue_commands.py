"""Commands (client to relay), one dataclass each; responses are in ``queue_responses``.

A command or response is ``u8 tag || fields``; see ``docs/protocol/relay.md`` for
every layout. Keys are raw 32-byte X25519 public keys, ids are 24 random bytes.
Decoding is strict: fixed-size fields, capped lengths, no trailing bytes. Every
field list has one exact size once its length prefixes are read, so each decoder
checks that size once and slices (this runs for every command a relay receives).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from veil.relay.protocol.errors import (
    BadCommand,
    MessageTooLarge,
    UnknownCommand,
)
from veil.wire import DecodeError, Writer

__all__ = [
    "DELIVERY_WINDOW_VERSION",
    "FLAG_NOTIFY",
    "KEY_SIZE",
    "MAX_DELIVERY_WINDOW",
    "MAX_MESSAGE_BODY",
    "MAX_PASSWORD_SIZE",
    "MESSAGE_ID_SIZE",
    "Acknowledge",
    "Command",
    "CreateQueue",
    "DeleteQueue",
    "FieldlessBody",
    "GetMessage",
    "Ping",
    "SecureQueue",
    "SendMessage",
    "SenderSecureQueue",
    "Subscribe",
    "SuspendQueue",
    "Tag",
    "decode_command",
    "encode_command",
    "exact_fields",
]

KEY_SIZE = 32
MESSAGE_ID_SIZE = 24
MAX_PASSWORD_SIZE = 255
MAX_MESSAGE_BODY = 16_000
"""Largest SEND body. A SEND and the MSG it becomes both fit one block with room to
spare for a later proxy envelope."""
DELIVERY_WINDOW_VERSION = 2
"""The first relay protocol version whose ``SUB`` may carry a delivery window."""
MAX_DELIVERY_WINDOW = 255
"""Largest window a ``SUB`` can ask for (it is one byte); relays cap it lower."""
FLAG_NOTIFY = 0x01
"""SEND flag: the recipient may be woken for this message (push notifications)."""
_KNOWN_FLAGS = FLAG_NOTIFY


class Tag(IntEnum):
    """The first byte of every command (0x0_) and response (0x8_)."""

    NEW = 0x01
    KEY = 0x02
    SKEY = 0x03
    SUB = 0x04
    SEND = 0x05
    ACK = 0x06
    GET = 0x07
    OFF = 0x08
    DEL = 0x09
    PING = 0x0A
    IDS = 0x81
    OK = 0x82
    END = 0x83
    MSG = 0x84
    PONG = 0x85
    ERR = 0x86


@dataclass(frozen=True, slots=True)
class CreateQueue:
    """``NEW``: make a queue; authorised by ``recipient_auth_key`` itself."""

    tag: ClassVar[Tag] = Tag.NEW
    recipient_auth_key: bytes
    recipient_dh_key: bytes
    password: bytes = b""

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.recipient_auth_key).raw(self.recipient_dh_key).bytes8(self.password)

    @classmethod
    def decode(cls, fields: bytes) -> CreateQueue:
        """Read the fields."""
        keys_end = 2 * KEY_SIZE
        exact_fields(fields, keys_end + 1 + (fields[keys_end] if len(fields) > keys_end else 0))
        return cls(fields[:KEY_SIZE], fields[KEY_SIZE:keys_end], fields[keys_end + 1 :])


@dataclass(frozen=True, slots=True)
class SecureQueue:
    """``KEY``: the recipient sets the sender's auth key."""

    tag: ClassVar[Tag] = Tag.KEY
    sender_auth_key: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.sender_auth_key)

    @classmethod
    def decode(cls, fields: bytes) -> SecureQueue:
        """Read the fields."""
        return cls(exact_fields(fields, KEY_SIZE))


@dataclass(frozen=True, slots=True)
class SenderSecureQueue:
    """``SKEY``: the sender secures an unsecured queue with its own key (fast handshake)."""

    tag: ClassVar[Tag] = Tag.SKEY
    sender_auth_key: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.sender_auth_key)

    @classmethod
    def decode(cls, fields: bytes) -> SenderSecureQueue:
        """Read the fields."""
        return cls(exact_fields(fields, KEY_SIZE))


@dataclass(frozen=True, slots=True)
class SendMessage:
    """``SEND``: the sender puts one message in the queue."""

    tag: ClassVar[Tag] = Tag.SEND
    flags: int
    body: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.u8(self.flags).bytes16(self.body)

    @classmethod
    def decode(cls, fields: bytes) -> SendMessage:
        """Read the fields; oversized bodies raise :class:`MessageTooLarge`."""
        if len(fields) < 3:
            raise DecodeError("SEND is shorter than its header")
        flags, length = fields[0], int.from_bytes(fields[1:3], "big")
        if flags & ~_KNOWN_FLAGS:
            raise BadCommand(f"unknown SEND flags {flags:#04x}")
        if length > MAX_MESSAGE_BODY:
            raise MessageTooLarge(f"{length}-byte body exceeds {MAX_MESSAGE_BODY}")
        exact_fields(fields, 3 + length)
        return cls(flags, fields[3:])


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """``ACK``: the recipient confirms the delivered message ``message_id``."""

    tag: ClassVar[Tag] = Tag.ACK
    message_id: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.message_id)

    @classmethod
    def decode(cls, fields: bytes) -> Acknowledge:
        """Read the fields."""
        return cls(exact_fields(fields, MESSAGE_ID_SIZE))


@dataclass(frozen=True, slots=True)
class FieldlessBody:
    """A command or response without fields."""

    def encode(self, writer: Writer) -> None:
        """Nothing to append."""

    @classmethod
    def decode(cls, fields: bytes) -> Self:
        """Nothing to read."""
        exact_fields(fields, 0)
        return cls()


@dataclass(frozen=True, slots=True)
class Subscribe:
    """``SUB``: the recipient subscribes; pending messages follow as ``MSG``.

    ``window`` (relay protocol version :data:`DELIVERY_WINDOW_VERSION` and later)
    asks for that many unacknowledged messages in flight at once; ``None`` is the
    version 1 form without fields, which means a window of one.
    """

    tag: ClassVar[Tag] = Tag.SUB
    window: int | None = None

    def __post_init__(self) -> None:
        if self.window is not None and not 1 <= self.window <= MAX_DELIVERY_WINDOW:
            raise ValueError(f"delivery window must be in 1..{MAX_DELIVERY_WINDOW}")

    def encode(self, writer: Writer) -> None:
        """Append the window, if there is one."""
        if self.window is not None:
            writer.u8(self.window)

    @classmethod
    def decode(cls, fields: bytes) -> Subscribe:
        """Read the optional window (one byte, never zero)."""
        if not fields:
            return cls()
        if exact_fields(fields, 1)[0] == 0:
            raise DecodeError("a delivery window of zero")
        return cls(fields[0])


@dataclass(frozen=True, slots=True)
class GetMessage(FieldlessBody):
    """``GET``: the recipient fetches the pending message without subscribing."""

    tag: ClassVar[Tag] = Tag.GET


@dataclass(frozen=True, slots=True)
class SuspendQueue(FieldlessBody):
    """``OFF``: the recipient stops further sends; pending messages can still drain."""

    tag: ClassVar[Tag] = Tag.OFF


@dataclass(frozen=True, slots=True)
class DeleteQueue(FieldlessBody):
    """``DEL``: the recipient deletes the queue and its messages."""

    tag: ClassVar[Tag] = Tag.DEL


@dataclass(frozen=True, slots=True)
class Ping(FieldlessBody):
    """``PING``: keep-alive, answered by ``PONG``."""

    tag: ClassVar[Tag] = Tag.PING


Command = (
    CreateQueue
    | SecureQueue
    | SenderSecureQueue
    | Subscribe
    | SendMessage
    | Acknowledge
    | GetMessage
    | SuspendQueue
    | DeleteQueue
    | Ping
)
_COMMANDS: dict[int, type[Command]] = {
    cls.tag: cls
    for cls in (
        CreateQueue,
        SecureQueue,
        SenderSecureQueue,
        Subscribe,
        SendMessage,
        Acknowledge,
        GetMessage,
        SuspendQueue,
        DeleteQueue,
        Ping,
    )
}


def encode_command(command: Command) -> bytes:
    """Encode a command as ``tag || fields``."""
    writer = Writer().u8(command.tag)
    command.encode(writer)
    return writer.build()


def decode_command(data: bytes) -> Command:
    """Decode a command; :class:`UnknownCommand` or :class:`BadCommand` if invalid."""
    if not data:
        raise BadCommand("empty command")
    command_class = _COMMANDS.get(data[0])
    if command_class is None:
        raise UnknownCommand(f"unknown command tag {data[0]:#04x}")
    try:
        return command_class.decode(data[1:])
    except DecodeError as exc:
        raise BadCommand(f"malformed {command_class.tag.name}: {exc}") from exc


def exact_fields(fields: bytes, size: int) -> bytes:
    """Return ``fields`` if it has exactly ``size`` bytes (so no field is cut short and
    nothing trails); :class:`DecodeError` otherwise."""
    if len(fields) != size:
        raise DecodeError(f"expected {size} bytes of fields, got {len(fields)}")
    return fields
